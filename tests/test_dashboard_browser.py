"""The staff dashboard in headless Chromium, as a physiotherapist would use it: log in, find a unit,
assign a client to its next session (a real Mosquitto sees the command), open the client, download
the PDF report and read it with pdftotext, log out. Markup sent by a unit stays text."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from browser import chrome
from dashboard_env import PASSWORD, start, stop
from mqtt_broker import Subscriber, broker_fixture  # noqa: F401  (fixture)
from test_dashboard_mqtt import _settings

from tools.dashboard_seed import seed_demo, status, summary

EVIL = '<script>alert(1)</script><img src=x onerror=alert(2)>'


def _wait(pred, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    """``pred()`` once it is truthy; an element of a page being replaced (stale, or not there yet)
    counts as not yet."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = pred()
        except (NoSuchElementException, StaleElementReferenceException):
            v = None
        if v:
            return v
        time.sleep(0.1)
    return pred()


def test_staff_workflow_in_chromium(tmp_path: Path, broker) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not installed (Debian poppler-utils; tools/quickstart.sh installs it)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    sub = Subscriber(broker.port, ["edgepose/+/cmd"], client_id="browser-cmd-watch", clean=True)
    d = start(tmp_path, mqtt=_settings(broker.port))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    drv = chrome(downloads)
    try:
        seed_demo(d.store)
        d.store.upsert_status(status("evil-unit", firmware=EVIL, model="<b>bold</b>"))
        d.store.add_summary(summary("evil-unit", "squat", time.time() - 60, client="C-9", reps=3, cues={EVIL: 2}))
        # not logged in: the page is the login form
        drv.get(d.url)
        assert "/login" in drv.current_url
        assert "clinic-room" not in drv.page_source
        drv.find_element(By.ID, "name").send_keys("ben")
        drv.find_element(By.ID, "password").send_keys("wrong password!")
        drv.find_element(By.ID, "login").click()
        # the refusal is a new page: wait for it (reading at once can still see the form being replaced)
        assert "Wrong name or password" in _wait(lambda: drv.find_element(By.CSS_SELECTOR, ".note.bad").text)
        drv.find_element(By.ID, "name").clear()
        drv.find_element(By.ID, "name").send_keys("ben")
        drv.find_element(By.ID, "password").send_keys(PASSWORD)
        drv.find_element(By.ID, "login").click()
        assert _wait(lambda: drv.find_elements(By.ID, "units"))
        # markup from a unit is text on the fleet page: no element was injected, no script ran
        table = drv.find_element(By.ID, "units")
        assert "<b>bold</b>" in table.text
        assert not table.find_elements(By.CSS_SELECTOR, "b, img, script")
        # live state pushed over Server-Sent Events updates the row in place, in plain words, as text
        from test_dashboard_mqtt import _publish

        _publish(broker.port, "edgepose/gym-pi-01/session/live",
                 {"schema": "edgepose.session.live/1", "device_id": "gym-pi-01", "ts": time.time(), "program": "squat",
                  "state": "active", "reps": 3, "cue": "<b>Knees out</b>"})
        row = drv.find_element(By.CSS_SELECTOR, 'tr[data-unit="gym-pi-01"]')
        assert _wait(lambda: "Squat · In a session · 3 reps" in row.text), row.text
        assert "<b>Knees out</b>" in row.text and not row.find_elements(By.CSS_SELECTOR, "b")
        # search, then open a unit
        q = drv.find_element(By.ID, "q")
        q.send_keys("room-1")
        q.submit()
        assert _wait(lambda: "clinic-room-1" in drv.find_element(By.ID, "units").text)
        assert "gym-pi-01" not in drv.find_element(By.ID, "units").text
        drv.find_element(By.LINK_TEXT, "clinic-room-1").click()
        assert _wait(lambda: drv.find_elements(By.ID, "assign"))
        assert "Squat" in drv.find_element(By.ID, "sessions").text
        # assign client C-104 to the next session
        drv.find_element(By.ID, "client").send_keys("C-104")
        Select(drv.find_element(By.ID, "program")).select_by_value("chair-stand-30s")
        drv.find_element(By.CSS_SELECTOR, "#assign button.primary").click()
        assert "Sent to the unit" in _wait(lambda: drv.find_element(By.ID, "done").text)
        assert sub.wait_for(lambda: sub.json("/cmd"), 10)
        cmd = sub.json("/cmd")[-1]
        assert (cmd["action"], cmd["program"], cmd["client"]) == ("select", "chair-stand-30s", "C-104")
        assert d.store.unit("clinic-room-1").next_client == "C-104"
        # open the client from the unit page
        drv.find_element(By.ID, "next-client").click()
        assert _wait(lambda: drv.find_elements(By.ID, "latest"))
        latest = drv.find_element(By.ID, "latest").text
        assert "30-SECOND CHAIR STAND" in latest.upper() and "TIMED UP AND GO" in latest.upper()
        assert "Source: CDC STEADI" in drv.page_source
        assert drv.find_elements(By.CSS_SELECTOR, "svg.chart")
        # download the PDF report and read it
        drv.find_element(By.ID, "pdf").click()
        pdf = _wait(lambda: [p for p in downloads.glob("*.pdf") if p.stat().st_size > 0], 20)
        assert pdf, list(downloads.iterdir())
        time.sleep(0.3)
        text = subprocess.run(["pdftotext", "-layout", str(pdf[0]), "-"], capture_output=True, text=True,
                              check=True, timeout=30).stdout
        assert "Progress report: client C-104" in text
        assert "30-second chair stand" in text and "Timed Up and Go" in text and "Single-leg stance" in text
        assert "CDC STEADI" in text and "Bohannon" in text
        assert "clinic-room-1" in text and "made" in text and "by ben" in text
        n_sessions = len(d.store.sessions(client="C-104"))
        assert f"{n_sessions} sessions" in text
        # the evil unit's page shows its firmware string as text
        drv.get(d.url + "units/evil-unit")
        assert EVIL in drv.find_element(By.CSS_SELECTOR, ".heading").text
        assert not drv.find_elements(By.CSS_SELECTOR, ".heading img, .heading script, main script")
        # log out: the pages need a login again
        drv.find_element(By.ID, "logout").click()
        assert "You are logged out" in _wait(lambda: drv.find_element(By.CSS_SELECTOR, ".note.ok").text)
        drv.get(d.url + "clients/C-104")
        assert "/login" in drv.current_url and "C-104" not in drv.find_element(By.TAG_NAME, "main").text
    finally:
        drv.quit()
        sub.close()
        stop(d)


def test_a_forgotten_clients_page_says_so_in_chromium(tmp_path: Path) -> None:
    """An admin forgets C-104 through the page; its page then says it was forgotten and when, that
    nothing of theirs is kept, and how many late messages were discarded, with none of their data."""
    from selenium.webdriver.common.by import By

    from tools.dashboard_screenshots import full_page

    d = start(tmp_path)
    drv = chrome(tmp_path)
    try:
        seed_demo(d.store)  # C-104: born 1954, female, "knee rehab, right side"
        drv.get(d.url + "login")
        drv.find_element(By.ID, "name").send_keys("anna")  # an admin: only admins may forget
        drv.find_element(By.ID, "password").send_keys(PASSWORD)
        drv.find_element(By.ID, "login").click()
        assert _wait(lambda: drv.find_elements(By.ID, "units"))
        drv.get(d.url + "clients/C-104")
        assert "knee rehab" in drv.page_source and "1954" in drv.page_source
        drv.find_element(By.NAME, "confirm").send_keys("C-104")
        drv.find_element(By.CSS_SELECTOR, "button.danger").click()
        forgotten = "Client C-104 forgotten"
        assert _wait(lambda: forgotten in drv.find_element(By.TAG_NAME, "h1").text), drv.page_source[-2000:]
        tomb = d.store.tombstone("C-104")
        assert tomb is not None

        drv.get(d.url + "clients/C-104")
        main = drv.find_element(By.TAG_NAME, "main").text
        assert drv.find_element(By.TAG_NAME, "h1").text == "This client was forgotten"
        assert drv.find_element(By.ID, "forgotten-on").text == tomb.forgotten_at.strftime("%Y-%m-%d %H:%M UTC")
        assert "Nothing of theirs is kept" in main and "Who forgot it is not recorded" in main
        assert "No message for this client has arrived since" in main
        for personal in ("knee rehab", "1954", "female", "Squat", "Report (PDF)", "No such client"):
            assert personal not in drv.page_source, personal
        full_page(drv, tmp_path / "forgotten.png")

        # a unit delivers two of its sessions late: discarded, and the page counts them
        late = [summary("clinic-room-1", "squat", time.time() - 60 * k, client="C-104") for k in (1, 2)]
        assert d.store.add_batch([("summary", p) for p in late]).stored == [False, False]
        drv.refresh()
        late_text = drv.find_element(By.ID, "late").text
        assert "2 late messages for this client arrived after it was forgotten and were discarded" in late_text
        assert d.store.tombstone("C-104").last_late_at.strftime("%Y-%m-%d %H:%M UTC") in late_text

        # the same answer, 410 Gone, for its reports and its form; a code never used is still 404
        c = d.login()
        for path in ("/clients/C-104", "/clients/C-104/report.pdf", "/clients/C-104/report.csv"):
            r = c.get(path)
            assert r.status_code == 410 and "This client was forgotten" in r.text, path
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/clients").text).group(1)
        r = c.post("/clients/C-104", data={"birth_year": "1954", "note": "knee rehab", "csrf": csrf})
        assert r.status_code == 410 and "This client was forgotten" in r.text and d.store.client("C-104") is None
        assert c.get("/clients/C-999").status_code == 404
        assert "No such client" in c.get("/clients/C-999").text
    finally:
        drv.quit()
        stop(d)

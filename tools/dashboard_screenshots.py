"""Screenshots of the staff dashboard's main pages (docs/screenshots/dashboard-*.png).

Seeds a demo database (tools/dashboard_seed.py), serves it on a free loopback port, logs in
with headless Chromium and saves full-page screenshots.

    .venv/bin/python tools/dashboard_screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main(out: Path) -> None:
    from browser import chrome  # tests/browser.py
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from edgepose.dashboard import accounts
    from edgepose.dashboard.app import create_app
    from edgepose.dashboard.live import LiveFeed
    from edgepose.dashboard.server import Server
    from edgepose.dashboard.settings import DashboardSettings
    from edgepose.history.store import open_store
    from tools.dashboard_seed import seed_demo, summary

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="edgepose-shots-"))
    store = open_store(f"sqlite:///{tmp / 'demo.sqlite'}")
    seed_demo(store)
    accounts.add_user(store, "physio-anna", "correct horse battery", "admin")
    feed = LiveFeed()
    now = time.time
    feed.feed("edgepose/clinic-room-1/status", b'{"state": "online", "firmware": "0.0.2", "model": "blazepose-lite"}')

    def live() -> None:
        feed.feed("edgepose/clinic-room-1/session/live",
                  b'{"program": "squat", "state": "active", "phase": "rep_down", "reps": 4, "cue": "Keep your chest up", "ts": %d}' % now())

    s = DashboardSettings(port=0)
    server = Server(create_app(s, store, feed), s).start()
    d = chrome(tmp)
    try:
        d.get(server.url + "login")
        d.save_screenshot(str(out / "dashboard-login.png"))
        d.find_element(By.ID, "name").send_keys("physio-anna")
        d.find_element(By.ID, "password").send_keys("correct horse battery")
        d.find_element(By.ID, "login").click()
        # the next get must not cut the login's POST short (every page would be the login form)
        WebDriverWait(d, 20).until(lambda drv: drv.find_elements(By.ID, "units"))
        for name, path in (("fleet", ""), ("unit", "units/clinic-room-1"), ("client", "clients/C-104"),
                           ("session", "sessions/1")):
            live()
            d.get(server.url + path)
            time.sleep(1.5)  # the live stream fills in
            full_page(d, out / f"dashboard-{name}.png")
        # a forgotten client's page (C-221 forgotten, then one of its sessions arrives late)
        store.forget_client("C-221")
        store.add_batch([("summary", summary("gym-pi-01", "bicep-curl", now() - 600, client="C-221"))])
        d.get(server.url + "clients/C-221")
        full_page(d, out / "dashboard-client-forgotten.png")
    finally:
        d.quit()
        server.stop()
        store.close()


def full_page(d, path: Path) -> None:  # type: ignore[no-untyped-def]
    """The whole page (not just the window), through the DevTools protocol."""
    import base64

    m = d.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = m.get("cssContentSize") or m["contentSize"]
    shot = d.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": 1280, "height": min(5000, size["height"]), "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Screenshots of the staff dashboard's main pages, from a seeded demo "
                                             "database in headless Chromium.")
    ap.add_argument("out", nargs="?", type=Path, default=ROOT / "docs" / "screenshots",
                    help="folder for the dashboard-*.png files (default: docs/screenshots)")
    main(ap.parse_args().out)

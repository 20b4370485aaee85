"""The dashboard: state folding, /api/state, and the page in headless Chromium against a real broker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from mqtt_broker import Broker, broker_fixture  # noqa: F401  (the "broker" fixture)

from edgepose.telemetry.dashboard import Dashboard, FleetState, page_html
from edgepose.telemetry.publisher import Telemetry
from edgepose.telemetry.settings import MqttSettings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_fleet_state_folds_dedupes_and_ignores_garbage() -> None:
    now = [1000.0]
    f = FleetState(clock=lambda: now[0])
    assert f.feed("edgepose/u1/status", b'{"state":"online","firmware":"0.1.0","model":"full"}')
    for reps in (1, 2, 3):
        now[0] += 1
        assert f.feed("edgepose/u1/session/live", json.dumps(
            {"session_id": "s1", "program": "squat", "state": "active", "reps": reps, "score": 80}).encode())
    summary = json.dumps({"msg_id": "m1", "session_id": "s1", "program": "squat", "status": "completed",
                          "reps": 3, "score": 81.5, "rep_rom_deg": [80, 85, 90]}).encode()
    assert f.feed("edgepose/u1/session/summary", summary)
    assert f.feed("edgepose/u1/session/summary", summary)  # duplicate delivery
    for topic, payload in [("edgepose/u1/session/live", b"\xff"), ("edgepose/+/status", b"online"),
                           ("other/u1/status", b"online"), ("edgepose/u1/status", b'{"state":"weird"}'),
                           ("edgepose/u1/session/summary", b"[1]"), ("edgepose/u1/secret", b"{}"),
                           ("edgepose/u1/event", b"x" * 70000)]:
        assert not f.feed(topic, payload)
    assert f.feed("edgepose/u2/status", b"offline")  # plain-text status (a Last Will) is understood
    snap = f.snapshot()
    assert [u["id"] for u in snap["units"]] == ["u1", "u2"] and (snap["online"], snap["total"]) == (1, 2)
    u1 = snap["units"][0]
    assert [p[1] for p in u1["reps_series"]] == [1, 2, 3] and not u1["live_stale"]
    assert len(u1["summaries"]) == 1 and u1["summaries"][0]["rep_rom_deg"] == [80, 85, 90]
    assert f.ignored == 7
    now[0] += 60
    assert f.snapshot()["units"][0]["live_stale"]
    html = page_html({"units": [{"id": "</script><script>alert(1)</script>"}], "online": 0, "total": 1})
    assert b"</script><script>alert" not in html


def _populate(broker: Broker, state: Path) -> None:
    """Two real devices publish through the broker: one mid-session, one gone offline."""
    a = Telemetry(MqttSettings(host="127.0.0.1", port=broker.port, device_id="gym-pi-01"), state / "a",
                  model="pose_landmark_full").start()
    b = Telemetry(MqttSettings(host="127.0.0.1", port=broker.port, device_id="clinic-pi-02"), state / "b",
                  model="pose_landmark_full").start()
    assert a.wait_connected(10) and b.wait_connected(10)
    t0 = time.time() - 3600
    for i, (reps, score, rom) in enumerate([(8, 72.0, [70, 74, 78, 80, 79, 81, 83, 82]),
                                            (10, 78.5, [78, 80, 84, 85, 86, 88, 87, 90, 89, 91]),
                                            (12, 86.0, [85, 88, 90, 92, 91, 93, 95, 94, 96, 97, 95, 98])]):
        a.publish_summary({"session_id": f"a-{i}", "program": "squat", "reps": reps, "score": score,
                           "rep_rom_deg": [float(v) for v in rom], "started_at": t0 + 600 * i,
                           "ended_at": t0 + 600 * i + 300, "ts": t0 + 600 * i + 300})
    b.publish_summary({"session_id": "b-0", "program": "sit-to-stand", "reps": 6, "score": 64.0,
                       "rep_rom_deg": [60.0, 62.0, 65.0, 63.0, 66.0, 61.0], "ts": t0 + 100})
    b.publish_summary({"session_id": "b-1", "program": "sit-to-stand", "reps": 2, "status": "interrupted",
                       "ts": t0 + 900})
    assert a.flush(10) and b.flush(10)
    b.close()  # says offline
    a.session_started("a-live", "squat")
    for reps in range(0, 7):
        a.publish_live({"session_id": "a-live", "program": "squat", "state": "active", "reps": reps,
                        "score": 80.0 + reps})
        time.sleep(0.05)
    return a  # type: ignore[return-value]


def test_dashboard_page_in_headless_chromium(broker: Broker, tmp_path: Path) -> None:
    settings = MqttSettings(host="127.0.0.1", port=broker.port, device_id="dashboard")
    with Dashboard(settings, bind="127.0.0.1", port=0) as dash:
        assert dash.subscribed.wait(10)
        device = _populate(broker, tmp_path)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                st = json.loads(urllib.request.urlopen(dash.url + "api/state", timeout=5).read())
                units = {u["id"]: u for u in st["units"]}
                if (len(units.get("gym-pi-01", {}).get("summaries", [])) == 3
                        and units.get("clinic-pi-02", {}).get("status") == "offline"
                        and (units["gym-pi-01"]["live"] or {}).get("reps") == 6):
                    break
                time.sleep(0.1)
            else:
                pytest.fail(f"dashboard state never complete: {st}")
            assert units["gym-pi-01"]["status"] == "online" and units["gym-pi-01"]["model"] == "pose_landmark_full"
            assert [s["reps"] for s in units["gym-pi-01"]["summaries"]] == [8, 10, 12]
            assert [s["status"] for s in units["clinic-pi-02"]["summaries"]] == ["completed", "interrupted"]
            with urllib.request.urlopen(dash.url, timeout=5) as r:
                page = r.read().decode()
                assert "default-src 'none'" in r.headers["Content-Security-Policy"]
            bare = page.replace("http://www.w3.org/2000/svg", "")  # the SVG namespace name, not a fetch
            assert "http://" not in bare and "https://" not in bare and "<link" not in bare

            if CHROMIUM is None:
                print("SKIP chromium part: no chromium binary (Debian package 'chromium')")
                pytest.skip("chromium not installed (apt-get install chromium); page rendering not checked")
            profile = tmp_path / "chromium-profile"
            png = Path(os.environ.get("EDGEPOSE_DASHBOARD_PNG") or tmp_path / "dashboard.png")
            common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run",
                      f"--user-data-dir={profile}", "--window-size=1280,900", "--hide-scrollbars"]
            dom = subprocess.run(common + ["--dump-dom", dash.url], capture_output=True, text=True, timeout=60)
            assert dom.returncode == 0, dom.stderr[-2000:]
            html = dom.stdout
            shot = subprocess.run(common + [f"--screenshot={png}", dash.url], capture_output=True, text=True,
                                  timeout=60)
            assert shot.returncode == 0, shot.stderr[-2000:]
        finally:
            device.close()
    assert 'data-unit="gym-pi-01"' in html and 'data-unit="clinic-pi-02"' in html
    assert 'data-status="online"' in html and 'data-status="offline"' in html
    assert '<b class="live-reps">6</b>' in html and '<b class="live-program">squat</b>' in html
    assert '<b class="last-reps">2</b>' in html  # offline unit: its last session
    assert "2 unit(s), 1 online" in html
    assert html.count('class="summary-row"') == 5
    assert 'class="status-interrupted"' in html
    # plots: ROM bars of the last session (12 reps), score trend over 3 sessions, live reps series
    assert 'class="plot-rom" viewBox="0 0 120 86" preserveAspectRatio="none" data-points="12"' in html
    assert 'data-points="6"' in html  # the offline unit's ROM comes from its last session that had reps
    assert 'class="plot-score" viewBox="0 0 120 86" preserveAspectRatio="none" data-points="3"' in html
    assert 'class="plot-reps" viewBox="0 0 120 86" preserveAspectRatio="none" data-points="7"' in html
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000

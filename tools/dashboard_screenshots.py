"""Screenshots of the staff dashboard's main pages (docs/screenshots/dashboard-*.png).

Seeds a demo database (tools/dashboard_seed.py), serves it on a free loopback port, logs in
with headless Chromium and saves full-page screenshots.

    .venv/bin/python tools/dashboard_screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main(out: Path) -> None:
    from browser import chrome  # tests/browser.py
    from selenium.webdriver.common.by import By

    from edgepose.dashboard import accounts
    from edgepose.dashboard.app import create_app
    from edgepose.dashboard.live import LiveFeed
    from edgepose.dashboard.server import Server
    from edgepose.dashboard.settings import DashboardSettings
    from edgepose.history.store import open_store
    from tools.dashboard_seed import seed_demo

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="edgepose-shots-"))
    store = open_store(f"sqlite:///{tmp / 'demo.sqlite'}")
    seed_demo(store)
    accounts.add_user(store, "physio-anna", "correct horse battery", "admin")
    feed = LiveFeed()
    now = time.time
    feed.feed("edgepose/clinic-room-1/status", b'{"state": "online", "firmware": "0.0.2", "model": "blazepose-lite"}')
    feed.feed("edgepose/clinic-room-1/session/live",
              b'{"program": "squat", "state": "active", "reps": 4, "cue": "Keep your chest up", "ts": %d}' % now())
    s = DashboardSettings(port=0)
    server = Server(create_app(s, store, feed), s).start()
    d = chrome(tmp)
    try:
        d.get(server.url + "login")
        d.save_screenshot(str(out / "dashboard-login.png"))
        d.find_element(By.ID, "name").send_keys("physio-anna")
        d.find_element(By.ID, "password").send_keys("correct horse battery")
        d.find_element(By.ID, "login").click()
        for name, path in (("fleet", ""), ("unit", "units/clinic-room-1"), ("client", "clients/C-104"),
                           ("session", "sessions/1")):
            d.get(server.url + path)
            time.sleep(1.5)  # the live stream fills in
            h = d.execute_script("return document.documentElement.scrollHeight")
            d.set_window_size(1280, min(4000, max(900, h)))
            d.save_screenshot(str(out / f"dashboard-{name}.png"))
            d.set_window_size(1280, 900)
    finally:
        d.quit()
        server.stop()
        store.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")

"""Fleet page of the staff dashboard at fleet scale: 10,000 units vs a 100-unit baseline.

Seeds two SQLite history databases (100 and 10,000 units, each with a status), serves each with the
real app under uvicorn on a free loopback port, logs in, and times whole HTTP requests (login cookie,
template rendering, database queries) for the fleet page: first page, a search, a late page, the
online filter, and /api/units. Prints a Markdown table with medians and p95 in milliseconds.

    .venv/bin/python tools/bench_dashboard.py [--units 10000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _measure(units: int, repeat: int, workdir: Path) -> dict[str, tuple[float, float, int]]:
    from dashboard_env import login_client

    from edgepose.dashboard import accounts
    from edgepose.dashboard.app import create_app
    from edgepose.dashboard.server import Server
    from edgepose.dashboard.settings import DashboardSettings
    from edgepose.history.store import open_store
    from tools.dashboard_seed import seed_fleet

    store = open_store(f"sqlite:///{workdir / f'fleet{units}.sqlite'}")
    t0 = time.perf_counter()
    seed_fleet(store, units)
    print(f"seeded {units} units in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    accounts.add_user(store, "bench", "correct horse battery", "staff")
    s = DashboardSettings(port=0)
    server = Server(create_app(s, store), s).start()
    try:
        c = login_client(server.url, "bench", "correct horse battery")
        last_page = max(1, (units + s.page_size - 1) // s.page_size)
        cases = {"fleet page 1": "/", "search 'unit-0099'": "/?q=unit-0099", "last page": f"/?page={last_page}",
                 "online only": "/?status=online", "/api/units?limit=50": "/api/units?limit=50"}
        out = {}
        for name, path in cases.items():
            c.get(path)  # warm
            times = []
            size = 0
            for _ in range(repeat):
                t = time.perf_counter()
                r = c.get(path)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (path, r.status_code)
                size = len(r.content)
            times.sort()
            out[name] = (statistics.median(times), times[int(0.95 * (len(times) - 1))], size)
        # the page really lists units and says how many there are
        html = c.get("/").text
        assert f"{units} units" in html, "pager total missing"
        return out
    finally:
        server.stop()
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=10000)
    ap.add_argument("--baseline", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=30)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgepose-bench-dash-") as tmp:
        base = _measure(a.baseline, a.repeat, Path(tmp))
        big = _measure(a.units, a.repeat, Path(tmp))
    print(f"| request | {a.baseline} units: median / p95 ms | {a.units} units: median / p95 ms | ratio (median) | page bytes |")
    print("| --- | --- | --- | --- | --- |")
    for k in base:
        b, g = base[k], big[k]
        print(f"| {k} | {b[0]:.1f} / {b[1]:.1f} | {g[0]:.1f} / {g[1]:.1f} | {g[0] / b[0]:.2f} | {g[2]} |")


if __name__ == "__main__":
    main()

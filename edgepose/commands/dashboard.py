"""``edgepose dashboard [--mqtt HOST:PORT] [--port 8080] [--bind 0.0.0.0]``."""

from __future__ import annotations

import argparse
import signal
import threading

from edgepose.telemetry.settings import MqttSettings, settings_for_cli


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dashboard",
        help="serve a web page showing every unit, its live session and recent summaries",
        description="Subscribes to <base>/+/status, session/live, session/summary and event on the broker "
        "and serves one self-contained page (no external assets) plus JSON at /api/state.",
    )
    p.add_argument("--mqtt", metavar="HOST:PORT", help="broker (default: [mqtt] host/port of the config)")
    p.add_argument("--config", metavar="PATH", help="config file for broker, credentials and base topic")
    p.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    p.add_argument("--bind", default="0.0.0.0", help="HTTP address (default 0.0.0.0: the whole LAN)")
    p.set_defaults(func=main)


def _settings(args: argparse.Namespace) -> MqttSettings:
    return settings_for_cli(args.config, args.mqtt)


def main(args: argparse.Namespace) -> int:
    from edgepose.telemetry.dashboard import Dashboard

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: must be 0..65535")
    settings = _settings(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    with Dashboard(settings, bind=args.bind, port=args.port) as d:
        print(f"edgepose dashboard: {d.url} (broker {settings.host}:{settings.port}); Ctrl-C stops", flush=True)
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
    return 0

"""``edgepose dashboard --db URL [--mqtt HOST:PORT] [--bind ADDR] [--port N] [--config FILE]``."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dashboard",
        help="serve the staff dashboard (login, units, clients, reports, API) from the history database",
        description="Serves the staff web dashboard over the database that `edgepose ingest` fills. "
        "Bound to 127.0.0.1 unless --bind says otherwise; put it on the LAN only behind TLS "
        "([dashboard] tls_cert/tls_key in --config, or a reverse proxy, see docs/dashboard.md). "
        "Add the first account with `edgepose users add NAME --admin --password-stdin`.",
    )
    p.add_argument("--db", metavar="URL", help="database: sqlite:///PATH or postgresql://... "
                   "(default: [dashboard] db of --config, else history.sqlite in the state folder)")
    p.add_argument("--mqtt", metavar="HOST:PORT", help="broker for the live view and for sending a unit its next "
                   "client (default: [mqtt] of --config; without either, no live view)")
    p.add_argument("--bind", metavar="ADDR", help="HTTP address (default 127.0.0.1; 0.0.0.0 = the whole LAN)")
    p.add_argument("--port", type=int, metavar="N", help="HTTP port (default 8080)")
    p.add_argument("--config", metavar="FILE", help="dashboard config: [dashboard] and [mqtt] tables")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from edgepose.dashboard import settings as cfg
    from edgepose.dashboard.app import create_app
    from edgepose.dashboard.live import Broker, LiveFeed
    from edgepose.dashboard.server import Server
    from edgepose.history.store import open_store

    if args.port is not None and not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: must be 0..65535")
    s = cfg.load(args.config, {"db": args.db, "bind": args.bind, "port": args.port}, args.mqtt)
    store = open_store(s.db)
    from edgepose.dashboard.accounts import list_users

    if not list_users(store):
        print("edgepose dashboard: no accounts yet: add one with "
              "`edgepose users add NAME --admin --password-stdin --db URL`", flush=True)
    feed = broker = None
    if s.mqtt is not None:
        feed = LiveFeed(s.mqtt.base_topic)
        broker = Broker(s.mqtt, feed).start()
    try:
        server = Server(create_app(s, store, feed, broker), s)
        where = f"broker {s.mqtt.host}:{s.mqtt.port}" if s.mqtt else "no broker: no live view"
        print(f"edgepose dashboard: {server.url} (database {store.url}; {where}); Ctrl-C stops", flush=True)
        if s.bind not in ("127.0.0.1", "::1", "localhost") and not (s.tls or s.behind_proxy):
            log.warning("dashboard on %s without TLS: passwords cross the network in the clear; "
                        "set [dashboard] tls_cert/tls_key or behind_proxy", s.bind)
        server.run()
    finally:
        if broker is not None:
            broker.close()
        store.close()
    return 0

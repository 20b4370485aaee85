"""``edgepose ingest --mqtt HOST:PORT --db URL [--config FILE]``: MQTT -> the history database."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ingest",
        help="store every unit's session summaries, events and status in the history database",
        description="Long-running service (systemd/edgepose-ingest.service). Subscribes at QoS 1 with a "
        "persistent MQTT session (MQTT 5 shared subscription $share/<group>/...), validates every "
        "payload against docs/schemas, commits it, and only then acknowledges it. Duplicates are "
        "absorbed by msg_id. See docs/staff.md.",
    )
    p.add_argument("--mqtt", metavar="HOST:PORT", help="broker (default: [ingest] mqtt, else localhost:1883)")
    p.add_argument("--db", metavar="URL", help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB "
                   "(default: [ingest] db, else history.sqlite in the state folder)")
    p.add_argument("--config", metavar="FILE", help="TOML file with an [ingest] table (credentials, TLS, ...)")
    p.add_argument("--client-id", metavar="ID", help="MQTT client id; one per ingest process "
                   "(default edgepose-ingest); the broker keeps its session")
    p.add_argument("--share-group", metavar="NAME", help="shared-subscription group (default 'ingest'; '' for none)")
    p.add_argument("--protocol", choices=("5", "3.1.1"), help="MQTT version (3.1.1: no shared subscription)")
    p.add_argument("--amqp", metavar="URL[,URL...]", help="a RabbitMQ cluster instead of --mqtt: consume the "
                   "replicated quorum queue edgepose.ingest over AMQP with 2 competing workers, one URL "
                   "per node (amqp://USER:PASS@HOST:5672/%%2F), tried in turn; see docs/scale.md")
    p.set_defaults(func=ingest_main)


def ingest_main(args: argparse.Namespace) -> int:
    from edgepose.appliance.watchdog import SystemdNotifier, watchdog_interval
    from edgepose.history.db import safe_url
    from edgepose.history.ingest import IngestCore, RejectedLog
    from edgepose.history.mqtt_ingest import MqttIngest
    from edgepose.history.settings import load_settings
    from edgepose.history.store import open_store
    from edgepose.history.validate import PayloadValidator

    logging.getLogger("edgepose.history").setLevel(logging.INFO)
    settings = load_settings(args.config, mqtt=args.mqtt, db=args.db, client_id=args.client_id,
                             share_group=args.share_group, protocol=args.protocol)
    validator = PayloadValidator(settings.base_topic, settings.max_payload_bytes)
    store = open_store(settings.db)
    if settings.rejected_file:
        rejected_path = Path(settings.rejected_file)
    else:
        from edgepose.telemetry.state import state_dir

        rejected_path = state_dir() / "ingest-rejected.jsonl"
    core = IngestCore(store, validator, RejectedLog(rejected_path))
    notifier = SystemdNotifier()
    wd = watchdog_interval()
    last_ping = [0.0]

    def alive() -> None:
        import time

        now = time.monotonic()
        if wd is not None and now - last_ping[0] >= wd / 2:
            last_ping[0] = now
            notifier.watchdog()

    if getattr(args, "amqp", None):  # issue 18: RabbitMQ cluster, quorum queue, competing consumers
        from edgepose.cluster.amqp_ingest import run_cli

        try:
            return run_cli(args.amqp, core, safe_url(str(store.engine.url)), notifier, alive, settings.base_topic)
        finally:
            notifier.stopping()
            store.close()
            print(f"edgepose ingest: stopped; {core.stats.as_dict()}", file=sys.stderr, flush=True)

    def ready() -> None:
        notifier.ready(f"ingesting {settings.host}:{settings.port} -> {store.url}")
        print(f"edgepose ingest: subscribed on {settings.host}:{settings.port} "
              f"({', '.join(settings.topics())})", file=sys.stderr, flush=True)

    ingest = MqttIngest(settings, core, on_ready=ready, on_alive=alive)

    def on_signal(signum: int, _frame: object) -> None:
        ingest.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"edgepose ingest: {settings.host}:{settings.port} as {settings.client_id} -> "
          f"{safe_url(str(store.engine.url))}; refused messages kept in {rejected_path}",
          file=sys.stderr, flush=True)
    try:
        ingest.run()
    finally:
        notifier.stopping()
        store.close()
        st = core.stats.as_dict()
        print(f"edgepose ingest: stopped; {st}", file=sys.stderr, flush=True)
    return 0

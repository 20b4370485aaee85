"""``edgepose outbox status`` and ``edgepose outbox flush [--mqtt HOST:PORT] [--timeout S]``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from edgepose.telemetry.settings import MqttSettings, parse_hostport, settings_for_cli

__all__ = ["register", "parse_hostport", "status_main", "flush_main"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "outbox",
        help="list or send the QoS 1 messages (session summaries, events) not yet acknowledged",
        description="The outbox lives in the state directory: [device] state_dir of the config, else "
        "$EDGEPOSE_STATE, else systemd's StateDirectory, else /var/lib/edgepose as root or "
        "~/.local/state/edgepose.",
    )
    osub = p.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    s = osub.add_parser("status", help="list pending messages: id, topic, age, attempts (exit 0)")
    s.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    s.add_argument("--config", metavar="PATH", help="config file whose [device] state_dir holds the outbox "
                   "(default: $EDGEPOSE_CONFIG or /etc/edgepose/edgepose.toml)")
    s.set_defaults(func=status_main)
    f = osub.add_parser("flush", help="send pending messages; exit 0 only when all were acknowledged")
    f.add_argument("--mqtt", metavar="HOST:PORT", help="broker (default: [mqtt] host/port of the config)")
    f.add_argument("--config", metavar="PATH", help="config file for broker, credentials and [device] "
                   "state_dir (default: $EDGEPOSE_CONFIG or /etc/edgepose/edgepose.toml)")
    f.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds to wait (default 30)")
    f.set_defaults(func=flush_main)


def _state(args: argparse.Namespace) -> Path:
    """The state folder of the config named by ``--config`` (or the default config)."""
    from edgepose.config import device_dirs

    return device_dirs(getattr(args, "config", None)).state


def status_main(args: argparse.Namespace) -> int:
    from edgepose.telemetry.outbox import Outbox

    d = _state(args)
    with Outbox(d) as ob:
        if ob.corruption is not None:
            print(f"warning: {ob.corruption.path} was corrupt; preserved as {ob.corruption.preserved_as}",
                  file=sys.stderr)
        pending = ob.pending()
    now = time.time()
    if getattr(args, "json", False):
        for m in pending:
            print(json.dumps({"msg_id": m.msg_id, "topic": m.topic, "age_s": round(m.age(now), 1),
                              "attempts": m.attempts, "bytes": len(m.payload)}))
        return 0
    print(f"{len(pending)} pending in {d / 'outbox.db'}")
    if pending:
        print(f"{'id':36}  {'age':>8}  {'attempts':>8}  topic")
        for m in pending:
            print(f"{m.msg_id:36}  {_age(m.age(now)):>8}  {m.attempts:>8}  {m.topic}")
    return 0


def _age(s: float) -> str:
    if s < 120:
        return f"{s:.0f}s"
    if s < 7200:
        return f"{s / 60:.0f}m"
    if s < 172800:
        return f"{s / 3600:.1f}h"
    return f"{s / 86400:.1f}d"


def _settings(args: argparse.Namespace) -> MqttSettings:
    return settings_for_cli(args.config, args.mqtt)


def flush_main(args: argparse.Namespace) -> int:
    from edgepose.telemetry.publisher import Telemetry

    settings = dataclasses.replace(_settings(args), enabled=True)
    with Telemetry(settings, _state(args), announce=False, min_backoff=0.5, max_backoff=5.0) as t:
        assert t.outbox is not None
        total = t.outbox.count()
        if total == 0:
            print("outbox empty; nothing to send")
            return 0
        ok = t.flush(args.timeout)
        left = t.outbox.pending()
        error = t.last_error
    if ok:
        print(f"sent {total} message(s) to {settings.host}:{settings.port}; all acknowledged")
        return 0
    print(f"{len(left)} of {total} message(s) not acknowledged after {args.timeout:g} s"
          + (f" ({error})" if error else ""), file=sys.stderr)
    for m in left:
        print(f"  {m.msg_id}  {m.topic}  attempts={m.attempts}", file=sys.stderr)
    return 1

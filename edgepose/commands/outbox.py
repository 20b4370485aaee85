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
    s = osub.add_parser("status", help="list pending and quarantined messages and interrupted sessions (exit 0)")
    s.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    s.add_argument("--config", metavar="PATH", help="config file whose [device] state_dir holds the outbox "
                   "(default: $EDGEPOSE_CONFIG or /etc/edgepose/edgepose.toml)")
    s.set_defaults(func=status_main)
    f = osub.add_parser("flush", help="send pending messages and interrupted sessions; exit 0 only when all were acknowledged")
    f.add_argument("--mqtt", metavar="HOST:PORT", help="broker (default: [mqtt] host/port of the config)")
    f.add_argument("--config", metavar="PATH", help="config file for broker, credentials and [device] "
                   "state_dir (default: $EDGEPOSE_CONFIG or /etc/edgepose/edgepose.toml)")
    f.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds to wait (default 30)")
    f.add_argument("--retry-quarantined", action="store_true",
                   help="put quarantined (undeliverable) messages back in the queue first, e.g. after fixing the ACL")
    f.set_defaults(func=flush_main)


def _state(args: argparse.Namespace) -> Path:
    """The state folder of the config named by ``--config`` (or the default config)."""
    from edgepose.config import device_dirs

    return device_dirs(getattr(args, "config", None)).state


def status_main(args: argparse.Namespace) -> int:
    from edgepose.telemetry.journal import SessionJournal
    from edgepose.telemetry.outbox import Outbox

    d = _state(args)
    with Outbox(d) as ob:
        if ob.corruption is not None:
            print(f"warning: {ob.corruption.path} was corrupt; preserved as {ob.corruption.preserved_as}",
                  file=sys.stderr)
        if ob.unavailable is not None:
            print(f"warning: outbox {ob.unavailable}", file=sys.stderr)
        pending = ob.pending()
        held = ob.quarantined()
    journal = SessionJournal(d)
    running = set(journal.running_sessions())
    interrupted = [s for s in journal.open_sessions() if s not in running]
    now = time.time()
    if getattr(args, "json", False):
        for m in pending:
            print(json.dumps({"msg_id": m.msg_id, "topic": m.topic, "age_s": round(m.age(now), 1),
                              "attempts": m.attempts, "bytes": len(m.payload)}))
        for m in held:
            print(json.dumps({"msg_id": m.msg_id, "topic": m.topic, "age_s": round(m.age(now), 1),
                              "attempts": m.attempts, "bytes": len(m.payload), "quarantined": True,
                              "reason": m.reason}))
        for sid in interrupted:
            print(json.dumps({"session_id": sid, "interrupted": True}))
        for sid in sorted(running):
            print(json.dumps({"session_id": sid, "running": True}))
        return 0
    print(f"{len(pending) + len(interrupted)} pending: {len(pending)} message(s) in {d / 'outbox.db'}"
          + (f", {len(interrupted)} interrupted session(s)" if interrupted else "")
          + (" (the file cannot be written now; see the warning)" if ob.unavailable else ""))
    if pending:
        print(f"{'id':36}  {'age':>8}  {'attempts':>8}  topic")
        for m in pending:
            print(f"{m.msg_id:36}  {_age(m.age(now)):>8}  {m.attempts:>8}  {m.topic!r:s}")
    if held:
        print(f"{len(held)} quarantined (undeliverable as stored; `edgepose outbox flush --retry-quarantined` "
              "tries them again):")
        for m in held:
            print(f"{m.msg_id:36}  {_age(m.age(now)):>8}  {m.topic!r}: {m.reason}")
    if interrupted:
        print(f"{len(interrupted)} interrupted session(s) in {journal.dir} (reported as 'interrupted' by the next "
              "start or `edgepose outbox flush`):")
        for sid in interrupted:
            print(f"  {sid}")
    if running:
        print(f"{len(running)} session(s) open in a running process: {', '.join(sorted(running))}")
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
    from edgepose.telemetry.outbox import Outbox
    from edgepose.telemetry.publisher import Telemetry

    settings = dataclasses.replace(_settings(args), enabled=True)
    if getattr(args, "retry_quarantined", False):
        with Outbox(_state(args)) as ob:
            n = ob.requeue_quarantined()
        print(f"{n} quarantined message(s) put back in the queue")
    # start() also turns sessions left open by a killed process into 'interrupted' summaries
    with Telemetry(settings, _state(args), announce=False, min_backoff=0.5, max_backoff=5.0) as t:
        assert t.outbox is not None
        before = {m.msg_id for m in t.outbox.quarantined()}
        total = t.outbox.count()
        if total == 0:
            held = t.outbox.quarantined()
            print("outbox empty; nothing to send" + (f" ({len(held)} quarantined; see `edgepose outbox status`)"
                                                     if held else ""))
            return 0
        ok = t.flush(args.timeout)
        left = t.outbox.pending()
        held = t.outbox.quarantined()
        error = t.last_error
    new = len({m.msg_id for m in held} - before)
    note = (f"; {len(held)} quarantined as undeliverable (see `edgepose outbox status`)" if held else "")
    if ok:
        print(f"sent {max(0, total - new)} message(s) to {settings.host}:{settings.port}; all acknowledged{note}")
        return 0
    print(f"{len(left)} of {total} message(s) not acknowledged after {args.timeout:g} s"
          + (f" ({error})" if error else "") + note, file=sys.stderr)
    for m in left:
        print(f"  {m.msg_id}  {m.topic}  attempts={m.attempts}", file=sys.stderr)
    return 1

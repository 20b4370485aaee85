"""``edgepose doctor``: the checks of :mod:`edgepose.appliance.doctor`, one line each."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict


def _cmd(args: argparse.Namespace) -> int:
    from edgepose.appliance.doctor import load_for_doctor, run_checks

    cfg, cc = load_for_doctor(args.config)
    checks = run_checks(cfg, cc, broker_timeout=args.broker_timeout)
    if args.json:
        print(json.dumps([{**asdict(c), "label": c.label} for c in checks], indent=2))
    else:
        for c in checks:
            print(c.line())
        bad = [c for c in checks if not c.ok and c.critical]
        warn = [c for c in checks if not c.ok and not c.critical]
        print(f"{len(checks) - len(bad) - len(warn)} ok, {len(warn)} warnings, {len(bad)} failed"
              + ("" if bad else " -- ready"))
    return 1 if any(not c.ok and c.critical for c in checks) else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="check this device: runtime, models, camera, display, audio, GPIO, broker",
        description="Check everything the appliance needs, one line per check: ok, warn (works without it) "
        "or FAIL (with what to fix). Exits 0 when every critical check passes. Also validates the config file.",
    )
    p.add_argument("--config", metavar="FILE", help="config file (default: $EDGEPOSE_CONFIG or /etc/edgepose/edgepose.toml)")
    p.add_argument("--broker-timeout", type=float, default=2.0, metavar="S", help="TCP connect timeout for the broker (default 2)")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=_cmd)

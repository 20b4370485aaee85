"""``edgepose serve``: the appliance (what the systemd unit runs)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the appliance: button-started sessions, LEDs, display, voice, MQTT",
                       description="Runs until stopped. A press of the button starts the selected program "
                       "after a countdown, another press ends it; a long press selects the next program. "
                       "MQTT commands (start/stop/select) do the same.")
    p.add_argument("--config", type=Path, help="config file (default /etc/edgepose/edgepose.toml)")
    p.add_argument("--source", help="override the camera source (file, index, URL, picam)")
    p.add_argument("--validate-config", action="store_true", help="check the config file and exit")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from edgepose.appliance.app import Appliance, with_source
    from edgepose.appliance.selection import validate_programs
    from edgepose.config import load_config

    cfg = load_config(args.config)
    validate_programs(cfg)  # program.default / program.cycle name installed programs
    if args.validate_config:
        print(f"{cfg.path or 'built-in defaults'}: ok")
        return 0
    return Appliance(with_source(cfg, args.source)).run()

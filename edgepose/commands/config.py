"""``edgepose config init|check|path``: make, check and find the device's config file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BOARDS = ("auto", "rpi5", "jetson")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="write the commented example config, check a config, or say which file is read",
                       description="The device reads one TOML file (default /etc/edgepose/edgepose.toml, or "
                       "$EDGEPOSE_CONFIG). `init` writes the commented example, with every key explained, to start from.")
    cs = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    i = cs.add_parser("init", help="write the commented example config (default /etc/edgepose/edgepose.toml)")
    i.add_argument("path", nargs="?", type=Path, help="where to write it (default: the file `serve` reads)")
    i.add_argument("--board", choices=BOARDS, default="auto",
                   help="which example: rpi5 (Pi camera, GPIO), jetson (CSI camera by GStreamer); auto: this machine's")
    i.add_argument("--force", action="store_true", help="overwrite an existing file")
    i.set_defaults(func=init)
    c = cs.add_parser("check", help="validate a config file (as `serve --validate-config`)")
    c.add_argument("path", nargs="?", type=Path, help="the file (default: the file `serve` reads)")
    c.set_defaults(func=check)
    w = cs.add_parser("path", help="print the config file `serve` and `doctor` read, and whether it exists")
    w.set_defaults(func=where)


def example_text(board: str) -> str:
    """The shipped, commented example config for ``board`` ("rpi5" or "jetson")."""
    from importlib import resources

    return resources.files("edgepose.appliance").joinpath("examples", f"{board}.toml").read_text(encoding="utf-8")


def _board(choice: str) -> str:
    if choice != "auto":
        return choice
    from edgepose.appliance.doctor import machine_kind

    return "jetson" if machine_kind()[0] == "jetson" else "rpi5"


def init(args: argparse.Namespace) -> int:
    from edgepose.config import default_path, loads

    path: Path = args.path or default_path()
    board = _board(args.board)
    if path.exists() and not args.force:
        print(f"edgepose config: {path} exists; kept as it is (--force overwrites it; "
              f"`edgepose config check {path}` validates it)", file=sys.stderr)
        return 1
    text = example_text(board)
    loads(text, f"the shipped {board} example")  # never write an example the device would refuse
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        part.write_text(text, encoding="utf-8")
        part.replace(path)
    except OSError as e:
        print(f"edgepose config: cannot write {path} ({e.strerror or e}); run it with sudo, or give a path "
              "you can write, e.g. `edgepose config init ./edgepose.toml`", file=sys.stderr)
        return 1
    print(f"wrote {path} (the {board} example; every key is explained in it)")
    print(f"next: set [device] id and [mqtt] host in it, then `edgepose config check {path}` "
          f"and `edgepose serve --config {path}`")
    return 0


def check(args: argparse.Namespace) -> int:
    from edgepose.config import load_config

    cfg = load_config(args.path)
    print(f"{cfg.path or 'built-in defaults (no config file)'}: ok")
    return 0


def where(args: argparse.Namespace) -> int:
    from edgepose.config import default_path

    p = default_path()
    state = "exists" if p.is_file() else "absent: the built-in defaults are used (`edgepose config init` writes it)"
    print(f"{p} ({state})")
    return 0

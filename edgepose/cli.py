"""The ``edgepose`` command line: a thin layer over library functions.

Each sub-command lives in ``edgepose/commands/<name>.py`` and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` (a callable taking the parsed args, returning an exit
code).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Sub-command modules, in the order `edgepose --help` lists them.
_COMMAND_MODULES: tuple[str, ...] = (
    "run",
    "infer",
    "match",
    "analyze",
    "programs",
    "teach",
    "models",
    "doctor",
    "bench",
    "serve",
    "config",
    "outbox",
    "dashboard",
    "users",
    "ingest",
    "history",
    "clients",
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edgepose",
        description="On-device pose feedback: run a session on a camera or video, analyse recorded "
        "multi-person video, manage models, check the device.",
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"edgepose.commands.{name}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(2, args.verbose),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # the one place that turns an error into a message and an exit code
        from edgepose.commands import STAFF_INSTALL, staff_extra_missing

        missing = staff_extra_missing(e)
        if missing is not None:  # a staff command on a device install
            print(f"edgepose {args.command}: needs the staff side's packages ({missing} is not installed): "
                  f"{STAFF_INSTALL}", file=sys.stderr)
            return 1
        if args.verbose:
            raise
        print(f"edgepose {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

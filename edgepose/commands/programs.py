"""``edgepose programs``: the installed programs, one line each."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "programs",
        help="list the exercise and pose programs",
        description="List every program edgepose can run: the built-in ones and the user's own "
        "($EDGEPOSE_PROGRAMS or ~/.config/edgepose/programs).",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per program instead of text")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from edgepose.programs import list_programs

    infos = list_programs()
    if args.json:
        for i in infos:
            print(json.dumps({"name": i.name, "kind": i.kind, "title": i.title, "description": i.description}))
        return 0
    width = max((len(i.name) for i in infos), default=4)
    for i in infos:
        print(f"{i.name:<{width}}  {i.kind:<8}  {i.title}: {i.description}")
    return 0

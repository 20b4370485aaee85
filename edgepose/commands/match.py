"""``edgepose match IMAGE... --out FILE.jsonl``: which target pose each photo shows."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgepose.evaluate.media import BEST_MIN_SCORE, match_images

__all__ = ["register", "main", "match_images", "BEST_MIN_SCORE", "terminal_line"]


def terminal_line(row: dict) -> str:
    """One readable line per image: the best pose and its score, or why there is none."""
    src = row.get("source", "?")
    if "error" in row:
        return f"{src}: error: {row['error']}"
    scores = row.get("scores") or {}
    if not row.get("people"):
        return f"{src}: no person found"
    best = row.get("best")
    if best is None:
        top = max(scores.items(), key=lambda kv: kv[1], default=None)
        near = f" (closest: {top[0]} {top[1]:.2f})" if top else ""
        return f"{src}: no target pose{near}"
    side = ", mirrored" if row.get("mirrored") else ""
    return f"{src}: {best} {scores.get(best, 0.0):.2f}{side}"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "match",
        help="score still images against every target-pose program",
        description="For each image, find the most prominent person and score their pose against "
        "every target-pose program (0..1). Writes one JSON object per image (docs/formats.md).",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    p.add_argument("--out", required=True, type=Path, help="JSON Lines file to write")
    p.add_argument("--min-score", type=float, default=BEST_MIN_SCORE,
                   help=f"best is null when no program scores at least this (default {BEST_MIN_SCORE})")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    failed = 0
    with open(args.out, "w", encoding="utf-8") as fh:
        for row in match_images(args.images, min_score=args.min_score):
            failed += "error" in row
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            print(terminal_line(row), flush=True)
    print(f"edgepose match: wrote {args.out}", file=sys.stderr)
    if failed:
        print(f"edgepose match: {failed} image(s) could not be read (see the \"error\" lines in {args.out})",
              file=sys.stderr)
        return 1
    return 0

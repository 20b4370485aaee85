"""``edgepose match IMAGE... --out FILE.jsonl``: which target pose each photo shows."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

BEST_MIN_SCORE = 0.5  # below this no target fits (the checks are on average a margin out)


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


def match_images(paths: Iterable[str], engine=None, min_score: float = BEST_MIN_SCORE) -> Iterator[dict]:
    """One result dict per image, in order (the ``edgepose match`` line format)."""
    import cv2

    from edgepose.evaluate.angles import measure_pose
    from edgepose.evaluate.match import rank
    from edgepose.evaluate.person import PersonPicker
    from edgepose.programs import list_programs, load_program

    programs = [load_program(i.name) for i in list_programs() if i.kind == "pose"]
    own = engine is None
    if own:
        from edgepose.inference.engine import EngineConfig, PoseEngine

        engine = PoseEngine(EngineConfig(max_people=1))
    try:
        for src in paths:
            row: dict = {"source": src, "best": None, "scores": {p.name: 0.0 for p in programs}}
            img = cv2.imread(src, cv2.IMREAD_COLOR) if Path(src).is_file() else None
            if img is None:
                why = "no such file" if not Path(src).exists() else "not a readable image"
                row["error"] = f"{src}: {why}; give a JPEG or PNG file"
                yield row
                continue
            poses = engine.detect_image(img)
            row["people"] = len(poses)
            pose = PersonPicker().pick(poses, 0.0)
            if pose is not None:
                results = rank(programs, measure_pose(pose))
                row["scores"] = {r.program: round(r.score, 4) for r in sorted(results, key=lambda r: r.program)}
                if results and results[0].score >= min_score:
                    row["best"] = results[0].program
                    row["mirrored"] = results[0].mirrored
            yield row
    finally:
        if own:
            engine.close()


def main(args: argparse.Namespace) -> int:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    failed = 0
    with open(args.out, "w", encoding="utf-8") as fh:
        for row in match_images(args.images, min_score=args.min_score):
            failed += "error" in row
            fh.write(json.dumps(row) + "\n")
            fh.flush()
    if failed:
        print(f"edgepose match: {failed} image(s) could not be read (see the \"error\" lines in {args.out})",
              file=sys.stderr)
        return 1
    return 0

"""``edgepose infer PATH... --out FILE.jsonl``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "infer",
        help="poses for images, folders of images or videos, as JSON Lines",
        description="Write one JSON object per image or video frame with every person's keypoints "
        "(docs/formats.md). Images are processed one by one; videos with tracking and smoothing.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image, folder of images (name order) or video")
    p.add_argument("--out", required=True, type=Path, help="JSON Lines file to write")
    p.add_argument("--model", default="default",
                   help="pose model: default, float, lean, int8, movenet-lightning, movenet-thunder (single person) or a "
                   ".tflite path (default: what the device uses)")
    p.add_argument("--max-people", type=int, default=20, help="most persons per image or frame (default 20)")
    p.add_argument("--threads", type=int, default=2, help="interpreter threads (default 2)")
    p.add_argument("--delegate", default=None, help="xnnpack (default), edgetpu, or a delegate .so path")
    p.add_argument("--tiles", choices=["auto", "on", "off"], default="auto",
                   help="run the detector on overlapping tiles too, for small people (auto: when --max-people > 1)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from edgepose.inference.batch import run_infer
    from edgepose.inference.engine import EngineConfig

    cfg = EngineConfig(landmark=args.model, max_people=args.max_people, threads=args.threads,
                       delegate=args.delegate, tiles=args.tiles)
    progress = None if args.quiet else (lambda s: print(s, file=sys.stderr))
    failed = run_infer(args.paths, args.out, cfg, progress)
    if failed:
        print(f"edgepose infer: {failed} input(s) could not be read (see the \"error\" lines in {args.out})",
              file=sys.stderr)
        return 1
    return 0

"""``edgepose analyze VIDEO|FRAMES_DIR [--people N] [--out DIR]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgepose.analyze import PEOPLE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="track every performer of a recorded video, export pose sequences, score synchronisation",
        description="Run multi-person pose estimation on every frame of a video (or a folder of frames, "
        "read in name order), give each performer a stable id, and write DIR/poses.jsonl (the "
        "`edgepose infer` JSON Lines format with ids), per-performer CSV/JSONL sequences, "
        "sync.json, annotated.mp4 and report.html (docs/formats.md, docs/sync.md).",
    )
    p.add_argument("source", metavar="VIDEO|FRAMES_DIR", help="video file or folder of frames")
    p.add_argument("--people", type=int, default=PEOPLE,
                   help=f"most people tracked per frame (default {PEOPLE}: a line dance or a gym floor; "
                        "fewer is faster when you know the number)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: <video stem>_analysis/)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of a folder of frames (default 30)")
    p.add_argument("--tiles", choices=["auto", "on", "off"], default="auto",
                   help="detector on overlapping tiles too, for small people (auto: when --people > 1)")
    p.add_argument("--detector-every", type=int, default=10,
                   help="frames between detector runs while fewer than --people are tracked (default 10)")
    p.add_argument("--model", default="default", help="landmark model: default, float, lean, int8 or a BlazePose .tflite path (multi-person)")
    p.add_argument("--threads", type=int, default=2, help="interpreter threads (default 2)")
    p.add_argument("--min-hits", type=int, default=3, help="frames a new person must be seen before getting an id")
    p.add_argument("--no-video", action="store_true", help="skip annotated.mp4")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from edgepose.analyze.runner import AnalyzeConfig, analyze, default_out_dir
    from edgepose.analyze.tracking import TrackerConfig

    if args.people < 1:
        print(f"edgepose analyze: --people must be at least 1, got {args.people}", file=sys.stderr)
        return 2
    cfg = AnalyzeConfig(people=args.people, folder_fps=args.fps, tiles=args.tiles,
                        detector_every=args.detector_every, model=args.model, threads=args.threads,
                        tracker=TrackerConfig(min_hits=args.min_hits),
                        annotate=not args.no_video, report=not args.no_report)
    out = args.out or default_out_dir(args.source)
    result = analyze(args.source, out, cfg, progress_stream=None if args.quiet else sys.stderr)
    for line in result.messages:
        print(f"edgepose analyze: {line}", file=sys.stderr)
    print(f"{result.summary_line()}")
    return 1 if result.failed else 0

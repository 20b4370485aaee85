"""``edgepose teach NAME IMAGE... | --video FILE``: save a demonstrated pose as a new target."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "teach",
        help="save a demonstrated pose as a new target program",
        description="A clinician demonstrates a pose in photos or a video clip (held still); edgepose "
        "measures it and saves a target-pose program whose tolerances come from the demonstration's "
        "own steadiness. It is written to $EDGEPOSE_PROGRAMS or ~/.config/edgepose/programs.",
    )
    p.add_argument("name", help="program name: lower-case words joined by hyphens, e.g. my-lunge-hold")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="photos of the pose")
    p.add_argument("--video", type=Path, help="a clip of the pose being held (instead of photos)")
    p.add_argument("--start", type=float, default=0.0, help="video: first second to use (default 0)")
    p.add_argument("--end", type=float, default=None, help="video: last second to use (default: the end)")
    p.add_argument("--title", help="title shown in `edgepose programs` (default: the name)")
    p.add_argument("--description", help="one-line description")
    p.add_argument("--sides", choices=["either", "as-written"], default="either",
                   help="either: the mirror image also fits (default); as-written: this side only")
    p.add_argument("--force", action="store_true", help="replace an existing user program of that name")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from edgepose.evaluate.media import samples_from_images, samples_from_video
    from edgepose.evaluate.teach import learn, to_toml
    from edgepose.inference.engine import EngineConfig, PoseEngine
    from edgepose.programs import BUILTIN_DIR, NAME_RE, parse_program, user_dir

    if not NAME_RE.match(args.name):
        raise ValueError(f"program name {args.name!r} must be lower-case words joined by hyphens, e.g. my-pose")
    if bool(args.images) == bool(args.video):
        raise ValueError("give either photos (IMAGE...) or --video FILE")
    dest_dir = user_dir()
    dest = dest_dir / f"{args.name}.toml"
    if dest.exists() and not args.force:
        raise ValueError(f"{dest} already exists; choose another name or add --force to replace it")
    if (BUILTIN_DIR / f"{args.name}.toml").exists() and not args.force:
        raise ValueError(f"{args.name!r} is a built-in program; choose another name or add --force to shadow it")
    with PoseEngine(EngineConfig(max_people=1)) as engine:
        if args.video:
            samples = samples_from_video(args.video, args.start, args.end, engine)
            source = str(args.video)
        else:
            samples = samples_from_images(
                args.images, engine, lambda s: print(f"edgepose teach: no person found in {s}; skipped", file=sys.stderr))
            source = ", ".join(args.images)
    taught = learn(samples)
    text = to_toml(args.name, args.title or args.name, args.description or f"Taught pose {args.name}", taught,
                   args.sides, source)
    parse_program(text, dest)  # refuse to write what would not load
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".toml.part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(dest)
    print(f"edgepose teach: saved {dest} ({len(taught)} checks from {len(samples)} samples)")
    return 0

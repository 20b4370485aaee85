"""``edgepose run``: a session on a camera or a video file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a session on a camera or video: poses, program feedback, summary",
        description="Watch a camera or a video, estimate poses, and (with --program) count reps, time holds "
        "and give cues. A video file is processed frame by frame to its end; a camera runs until Ctrl-C.",
    )
    p.add_argument("--source", required=True,
                   help="video file, folder of images, camera index (0), rtsp:// or http:// URL, GStreamer "
                   "pipeline, or 'picam' (Raspberry Pi camera)")
    p.add_argument("--program", help="program name (see `edgepose programs`), e.g. squat or tree")
    p.add_argument("--max-people", type=int, default=None, help="most persons tracked (default: config, 1)")
    p.add_argument("--model", default=None, help="pose model: default, float, lean, int8, movenet-lightning, movenet-thunder or a .tflite path")
    p.add_argument("--display", action="store_true",
                   help="show the overlay on the screen (a video file then plays at its own speed)")
    p.add_argument("--record", type=Path, help="write the overlay video to this .mp4")
    p.add_argument("--poses", type=Path, help="write every frame's poses as JSON Lines (edgepose infer format)")
    p.add_argument("--summary", type=Path, help="write the session summary JSON here")
    p.add_argument("--config", type=Path, help="config file (default /etc/edgepose/edgepose.toml if present)")
    p.add_argument("--mqtt", metavar="HOST:PORT", help="publish session metrics to this broker")
    p.add_argument("--device-id", help="device id for MQTT topics (overrides the config)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from edgepose.config import device_dirs, load_config
    from edgepose.inference.engine import EngineConfig
    from edgepose.live.runner import RunOptions, run_session

    cfg = load_config(args.config)
    engine = EngineConfig.from_config(cfg, landmark=args.model, max_people=args.max_people)
    mqtt = None
    if args.mqtt or args.device_id:
        from dataclasses import replace

        from edgepose.telemetry.settings import settings_for_cli

        mqtt = replace(settings_for_cli(args.config, args.mqtt, args.device_id), enabled=True)
    elif cfg.mqtt is not None and cfg.mqtt.enabled and cfg.path is not None:
        mqtt = cfg.mqtt
    state_dir = device_dirs(cfg).state if mqtt is not None else None
    progress = None if args.quiet or not sys.stderr.isatty() else (lambda s: print(s, end="", file=sys.stderr))
    out = run_session(RunOptions(
        source=args.source, program=args.program, engine=engine, display=args.display, record=args.record,
        poses=args.poses, summary=args.summary, mqtt=mqtt, state_dir=state_dir, progress=progress,
        width=cfg.camera.width if args.source in ("picam",) or args.source.isdigit() else None,
        height=cfg.camera.height if args.source in ("picam",) or args.source.isdigit() else None,
    ))
    if progress:
        print(file=sys.stderr)
    print(f"edgepose run: {out.stats.line()}", file=sys.stderr)
    if out.summary and "reps" in out.summary:
        print(f"edgepose run: {out.summary.get('program')}: {out.summary['reps']} reps, "
              f"score {out.summary.get('score')}", file=sys.stderr)
    for f in out.output_failures:
        print(f"edgepose run: error: {f.line()}", file=sys.stderr)
    if mqtt is not None and not out.published:
        print("edgepose run: the broker did not acknowledge the summary; it is kept in the outbox "
              "(`edgepose outbox flush` sends it)", file=sys.stderr)
    if out.output_failures:
        print(f"edgepose run: {len(out.output_failures)} output(s) failed; the session itself completed"
              + (" and its summary was sent" if out.published else ""), file=sys.stderr)
        return 1
    return 0

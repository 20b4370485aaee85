"""``edgepose bench``: how fast this device runs the models and the pipeline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure model invoke times and pipeline throughput on this device",
                       description="Measures, in one run: detector and landmark invoke time (float and, if "
                       "built, int8; MoveNet if fetched), detector vs tracked frame cost, and with --video the pipeline against the "
                       "model alone and a sequential loop on the same frames.")
    p.add_argument("--video", type=Path, help="a video with one person (e.g. a clip from this camera)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--loops", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print JSON only")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from edgepose.bench.engine import decode_all, frame_costs, model_invoke_times, peak_rss_mb, throughput
    from edgepose.inference.runtime import runtime_info

    rt, ver = runtime_info()
    mt = model_invoke_times(args.threads)
    res: dict = {"runtime": f"{rt} {ver}", "threads": args.threads, "detector_ms": round(mt.detector_ms, 2),
                 "landmark_ms": {k: round(v, 2) for k, v in mt.landmark_ms.items()},
                 "movenet_ms": {k: round(v, 2) for k, v in mt.movenet_ms.items()}}
    if args.video:
        res.update(frame_costs(decode_all(args.video, 300), args.threads))
        t = throughput(args.video, args.threads, args.loops)
        res["pipeline"] = {"model_only_fps": t.model_only_fps, "sequential_fps": t.sequential_fps,
                           "pipeline_fps": t.pipeline_fps, "pipeline_decoded_fps": t.pipeline_decoded_fps,
                           **t.ratios(),
                           "glass_to_feedback_ms": t.latency.get("glass_to_feedback_ms")}
    res["peak_rss_mb"] = round(peak_rss_mb(), 1)
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"runtime {res['runtime']}, {args.threads} threads")
    print(f"detector          {res['detector_ms']:7.2f} ms")
    for k, v in res["landmark_ms"].items():
        print(f"landmark {k:8s} {v:7.2f} ms")
    for k, v in res["movenet_ms"].items():
        print(f"{k:17s} {v:7.2f} ms  (single person, the whole model)")
    if "pipeline" in res:
        p = res["pipeline"]
        print(f"frame with detector {res['detector_frame_ms']} ms, tracked frame {res['tracked_frame_ms']} ms")
        print(f"model only {p['model_only_fps']} fps, sequential {p['sequential_fps']} fps, pipeline "
              f"{p['pipeline_fps']} fps ({p['pipeline_vs_model_only']}x model only, "
              f"{p['pipeline_vs_sequential']}x sequential); on decoded frames {p['pipeline_decoded_fps']} fps "
              f"({p['pipeline_decoded_vs_model_only']}x model only)")
    print(f"peak RSS {res['peak_rss_mb']} MB")
    return 0

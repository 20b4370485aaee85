#!/usr/bin/env python3
"""Float vs INT8 BlazePose landmark model on the annotated person crops of ../shared/data.

For every annotated person of ``keypoints/`` (the evaluation images; calibration never sees
them) the ground-truth ROI is cropped as BlazePose does (hip centre, turned so the shoulders are
up, 1.25x enlargement) and both models run on the same 256x256 crop. Reported:

* PCK@0.2 of each model against the ground truth (threshold 0.2 x max(GT box w, h)), and the drop;
* |int8 - float| landmark distance over the 33 body landmarks (256-px crop), mean and p95;
* visibility agreement (same side of 0.5) and pose-flag agreement, plus their means (a collapse
  to near-zero confidences shows up here);
* invoke time per model in this run (median over --runs, interleaved, same crop), ``Model.run``
  including the int8 (de)quantisation, and the ratio against float;
* file sizes.

Usage::

    .venv/bin/python tools/quantize_eval.py                     # builds the int8 models in a temp dir
    .venv/bin/python tools/quantize_eval.py --int8 models/pose_landmark_full_int8.tflite
    .venv/bin/python tools/quantize_eval.py --json /tmp/q.json --markdown
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgepose.inference import calibration as cal  # noqa: E402
from edgepose.inference import flatbuffer as fb  # noqa: E402
from edgepose.inference import int8, runtime  # noqa: E402
from edgepose.inference import landmark_eval as ev  # noqa: E402
from edgepose.inference.blazepose import LandmarkModel  # noqa: E402


def _time(models: dict[str, runtime.Model], x: np.ndarray, runs: int) -> dict[str, float]:
    """Median ms of ``Model.run`` per model, the models interleaved so drift hits all alike."""
    for m in models.values():
        for _ in range(3):
            m.run(x)
    t: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(runs):
        for k, m in models.items():
            t0 = time.perf_counter()
            m.run(x)
            t[k].append((time.perf_counter() - t0) * 1e3)
    return {k: float(np.median(v)) for k, v in t.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--float", dest="float_path", type=Path, default=ROOT / "models" / "pose_landmark_full.tflite")
    ap.add_argument("--int8", type=Path, action="append", default=[],
                    help="an int8 model to compare (repeatable); default: build, in a temporary folder, "
                         "the default (stem and heads in float, no segmentation output), an all-int8 one, "
                         "and an all-int8 one that keeps the segmentation output")
    ap.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data")
    ap.add_argument("--calibration", type=int, default=64, help="calibration crops when building")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", action="store_true", help="print a markdown table as well")
    a = ap.parse_args(argv)

    if not a.float_path.is_file():
        print(f"error: float model {a.float_path} not found; run `edgepose models fetch`", file=sys.stderr)
        return 2
    tmp = tempfile.TemporaryDirectory(prefix="edgepose-qeval-")
    candidates: dict[str, Path] = {}
    builds: dict[str, dict] = {}
    if a.int8:
        for p in a.int8:
            candidates[p.name] = p
    else:
        calib = cal.calibration_crops(a.data, a.calibration, float_model=a.float_path)
        variants = {  # name: (drop segmentation, float layers)
            "int8": (True, int8.DEFAULT_FLOAT_LAYERS),
            "int8-all": (True, ()),
            "int8-all+seg": (False, ()),
        }
        for name, (drop, layers) in variants.items():
            out = Path(tmp.name) / f"{name}.tflite"
            r = int8.build_int8(a.float_path, out, calib, progress=lambda _m: None, drop_segmentation=drop,
                             float_layers=layers, evaluate=False)
            candidates[name] = out
            builds[name] = {"seconds": round(r.seconds, 1), "ops_quantized": r.ops_quantized,
                            "ops_total": r.ops_total, "outputs": r.outputs, "calibration": r.calibration_samples,
                            "notes": r.notes}
        # the float model without its segmentation decoder, for a fair speed comparison
        folded, _, _ = fb.prepare_float(a.float_path.read_bytes(), drop_segmentation=True)
        (Path(tmp.name) / "float-noseg.tflite").write_bytes(folded)

    crops = ev.person_crops(ev.evaluation_people(a.data))
    fm = runtime.load(a.float_path, threads=a.threads)
    models = {"float": fm}
    if not a.int8:
        models["float-noseg"] = runtime.load(Path(tmp.name) / "float-noseg.tflite", threads=a.threads)
    result: dict = {"float": {"path": str(a.float_path), "bytes": a.float_path.stat().st_size},
                    "eval_people": len(crops), "threads": a.threads, "runs": a.runs, "models": {}}
    for name, path in candidates.items():
        qm = runtime.load(path, threads=a.threads)
        models[name] = qm
        c = ev.compare_models(LandmarkModel(a.float_path, a.threads, refine_with_heatmap=False),
                              LandmarkModel(path, a.threads, refine_with_heatmap=False), crops)
        result["models"][name] = {"path": str(path), "bytes": path.stat().st_size,
                                  **{k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(c).items()},
                                  "pck_drop_points": round(c.pck_drop_points, 2), **builds.get(name, {})}
    ms = _time(models, crops[0][2][None], a.runs)
    result["ms"] = {k: round(v, 2) for k, v in ms.items()}
    result["ratio_vs_float"] = {k: round(v / ms["float"], 2) for k, v in ms.items()}

    print(f"{len(crops)} annotated people from {a.data / 'keypoints'}; {a.threads} threads, {a.runs} runs")
    print(f"float   {result['float']['bytes'] / 1e6:.2f} MB  {ms['float']:.2f} ms")
    if "float-noseg" in ms:
        print(f"float without segmentation output: {ms['float-noseg']:.2f} ms")
    for name, r in result["models"].items():
        print(f"{name:<14} {r['bytes'] / 1e6:.2f} MB  {ms[name]:.2f} ms ({result['ratio_vs_float'][name]:.2f}x float)  "
              f"PCK@0.2 float {r['pck_float']:.4f} int8 {r['pck_int8']:.4f} (drop {r['pck_drop_points']:.2f} pts)  "
              f"landmark |int8-float| mean {r['landmark_err_px_mean']:.2f} px p95 {r['landmark_err_px_p95']:.1f} px  "
              f"visibility agree {r['visibility_agreement']:.3f}  pose flag agree {r['pose_flag_agreement']:.3f} "
              f"(mean float {r['pose_flag_float_mean']:.3f} int8 {r['pose_flag_int8_mean']:.3f})")
    if a.markdown:
        print("\n| model | int8 ops | size MB | ms/invoke | vs float | PCK@0.2 | drop (pts) | lm err mean/p95 px "
              "| vis agree | flag agree (int8 mean) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        first = next(iter(result["models"].values()))
        print(f"| float | 0 | {result['float']['bytes'] / 1e6:.2f} | {ms['float']:.2f} | 1.00 | "
              f"{first['pck_float']:.4f} | – | – | – | ({first['pose_flag_float_mean']:.3f}) |")
        if "float-noseg" in ms:
            print(f"| float, no segmentation | 0 | – | {ms['float-noseg']:.2f} | "
                  f"{result['ratio_vs_float']['float-noseg']:.2f} | same as float | 0 | 0 | 1 | 1 |")
        for name, r in result["models"].items():
            ops = f"{r['ops_quantized']}/{r['ops_total']}" if "ops_total" in r else "?"
            print(f"| {name} | {ops} | {r['bytes'] / 1e6:.2f} | {ms[name]:.2f} | {result['ratio_vs_float'][name]:.2f} | "
                  f"{r['pck_int8']:.4f} | {r['pck_drop_points']:.2f} | {r['landmark_err_px_mean']:.2f} / "
                  f"{r['landmark_err_px_p95']:.1f} | {r['visibility_agreement']:.3f} | "
                  f"{r['pose_flag_agreement']:.3f} ({r['pose_flag_int8_mean']:.3f}) |")
    if a.json:
        a.json.write_text(json.dumps(result, indent=1))
    worst = max((r["pck_drop_points"] for r in result["models"].values()), default=0.0)
    return 0 if worst <= 3.0 else 1


if __name__ == "__main__":
    sys.exit(main())

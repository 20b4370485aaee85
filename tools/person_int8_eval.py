#!/usr/bin/env python3
"""Float16 vs INT8 CenterNet person detector, in one run, on the shared annotated images.

    .venv/bin/python tools/person_int8_eval.py [--data ../shared/data] [--int8 PATH ...] [--runs 30]
        [--threads 2] [--variants int8,int8-neck,int8-heads] [--json OUT] [--markdown]

Without ``--int8`` the int8 variants are built in a temporary folder with the project's tooling
(:func:`edgepose.inference.int8.build_person_int8`, calibrated on
:func:`edgepose.inference.calibration.detector_calibration_frames` -- clips and photos outside
``keypoints/`` and ``tracking/``, which are the evaluation set here):

* ``int8``: the default build (:data:`edgepose.inference.int8.PERSON_FLOAT_LAYERS` in float: heads
  and in-graph peak finding, squeeze-excite branches, the stem, the CenterNet neck);
* ``int8-neck``: the neck in int8 too; ``int8-heads``: only the heads and peak finding in float
  (``--variants``).

Reported per model, with :mod:`tools.person_recall`'s ground truth and matching: person recall at
IoU >= 0.5 over the annotated people (MPII skipped, as there), false boxes on the Bonn frames
(where everyone is annotated), the mean IoU of each int8 box with its float box, and the median
ms of ``PersonDetector.detect`` (letterbox + invoke + decode) at ``--threads``, the models
interleaved on the same images so machine load hits both alike. x86 XNNPACK int8 speed says
little about Arm: measure there before choosing by speed. Exit 1 when an int8 model's recall is
more than 0.01 below float16's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import person_recall  # noqa: E402

from edgepose.inference import calibration as cal  # noqa: E402
from edgepose.inference import int8  # noqa: E402
from edgepose.inference.person_detector import PersonDetector, box_iou  # noqa: E402

# Which layers stay float (see edgepose.inference.int8): the default build, one with the CenterNet
# neck in int8 too, and one with only the heads and peak finding in float (it collapses).
VARIANTS = {"int8": int8.PERSON_FLOAT_LAYERS,
            "int8-neck": (int8.PERSON_HEAD_LAYERS, int8.PERSON_SE_LAYERS, int8.PERSON_STEM_LAYERS),
            "int8-heads": (int8.PERSON_HEAD_LAYERS,)}


def _agreement(a: list, b: list) -> list[float]:
    """For each box of ``a`` the best IoU with a box of ``b`` (0 when ``b`` has none)."""
    if not a:
        return []
    if not b:
        return [0.0] * len(a)
    return [float(v) for v in box_iou(np.array([x.as_array() for x in a]), np.array([x.as_array() for x in b])).max(1)]


def evaluate(paths: dict[str, Path], data: Path, threads: int, runs: int) -> dict:
    import cv2

    dets = {k: PersonDetector(p, threads) for k, p in paths.items()}
    gt = person_recall._gt(data)
    images = {p: cv2.imread(str(p)) for p, *_ in gt}
    out: dict = {k: {"hits": 0, "false_bonn": 0, "iou_vs_float": [], "boxes": 0} for k in paths}
    people = 0
    for img_path, boxes, _kps, name in gt:
        people += len(boxes)
        found = {k: d.detect(images[img_path]) for k, d in dets.items()}
        for k, pb in found.items():
            hits, false = person_recall._match_iou([b.as_array() for b in pb], boxes)
            out[k]["hits"] += hits
            out[k]["boxes"] += len(pb)
            if "tracking" in name:
                out[k]["false_bonn"] += false
            if k != "float16":
                out[k]["iou_vs_float"] += _agreement(found["float16"], pb)
    # time: every model on the same image in turn, several images, medians per model
    sample = [images[p] for p, *_ in gt[:: max(1, len(gt) // 6)]][:6]
    ms: dict[str, list[float]] = {k: [] for k in dets}
    for d in dets.values():
        d.detect(sample[0])
    for _ in range(runs):
        for img in sample:
            for k, d in dets.items():
                t0 = time.perf_counter()
                d.detect(img)
                ms[k].append((time.perf_counter() - t0) * 1e3)
    res = {"people": people, "images": len(gt), "threads": threads, "timed_calls_per_model": runs * len(sample),
           "models": {}}
    for k, r in out.items():
        agree = r.pop("iou_vs_float")
        res["models"][k] = {"path": str(paths[k]), "bytes": paths[k].stat().st_size,
                            "recall_iou50": round(r["hits"] / max(1, people), 4), "hits": r["hits"],
                            "boxes": r["boxes"], "false_boxes_bonn": r["false_bonn"],
                            "ms_median": round(float(np.median(ms[k])), 2),
                            "ms_vs_float16": round(float(np.median(ms[k]) / np.median(ms["float16"])), 3),
                            **({"float_box_iou_mean": round(float(np.mean(agree)), 4) if agree else None,
                                "float_boxes_lost_iou50": int(sum(v < 0.5 for v in agree))} if k != "float16" else {})}
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--float", dest="float_path", type=Path, default=None,
                    help="the converted float16 CenterNet (default: the manifest's, verified)")
    ap.add_argument("--int8", type=Path, action="append", default=[], help="int8 model(s) to compare; "
                    "default: build the variants in a temporary folder")
    ap.add_argument("--calibration", type=int, default=64, help="calibration frames when building")
    ap.add_argument("--variants", default="int8", help=f"comma-separated, of {', '.join(VARIANTS)} (default int8)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10, help="timing rounds (each: 6 images per model)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args(argv)

    from edgepose.inference import models

    fpath = a.float_path or models.verified_path("person_detector")
    paths: dict[str, Path] = {"float16": fpath}
    builds: dict[str, dict] = {}
    tmp = tempfile.TemporaryDirectory(prefix="edgepose-pq-")
    if a.int8:
        for p in a.int8:
            paths[p.stem] = p
            total, nq = int8._count_ops(p.read_bytes())
            builds[p.stem] = {"ops_quantized": nq, "ops_total": total, "sha256": models.sha256_of(p)}
    else:
        frames = cal.detector_calibration_frames(a.data, a.calibration)
        for name in a.variants.split(","):
            layers = VARIANTS[name]
            r = int8.build_person_int8(fpath, Path(tmp.name) / f"{name}.tflite", frames, layers,
                                       progress=lambda _m: None)
            paths[name] = r.out_path
            builds[name] = {"ops_quantized": r.ops_quantized, "ops_total": r.ops_total, "sha256": r.sha256,
                            "calibration_frames": r.calibration_samples, "build_s": round(r.seconds, 1),
                            "notes": r.notes}
    res = evaluate(paths, a.data, a.threads, a.runs)
    for k, b in builds.items():
        res["models"][k].update(b)
    try:
        import os

        res["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    print(json.dumps(res, indent=1))
    if a.markdown:
        print("\n| model | int8 ops | size MB | recall IoU>=0.5 | false boxes Bonn | IoU with float box (lost) "
              "| ms/call | vs float16 |")
        print("|---|---|---|---|---|---|---|---|")
        for k, r in res["models"].items():
            ops = f"{r['ops_quantized']}/{r['ops_total']}" if "ops_total" in r else ("0" if k == "float16" else "?")
            agree = f"{r['float_box_iou_mean']:.3f} ({r['float_boxes_lost_iou50']})" if "float_box_iou_mean" in r else "–"
            print(f"| {k} | {ops} | {r['bytes'] / 1e6:.2f} | {r['recall_iou50']:.3f} ({r['hits']}/{res['people']}) | "
                  f"{r['false_boxes_bonn']} | {agree} | {r['ms_median']:.1f} | {r['ms_vs_float16']:.2f} |")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    base = res["models"]["float16"]["recall_iou50"]
    return 0 if all(r["recall_iou50"] >= base - 0.01 for r in res["models"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Still-image engine settings side by side: noise stability, accuracy, person-free photos, time.

For each setting (``--set NAME:key=value,key=value``: fields of :class:`EngineConfig` on top of
``max_people=20``, the engine of ``edgepose infer``; ``lm.NAME=value`` sets an attribute of the
landmark model) it measures, in one process:

* **noise stability** (the definitions of ``tests/test_engine_stability.py``): every still under
  ``keypoints/`` and a Bonn frame, ±1 grey level of seeded noise; people found, not found again
  (no pose of the noisy image with OKS >= 0.5), new in the noisy image, found again with a
  visible keypoint beyond 2 % of their height, and the share of visible keypoints beyond 2 %;
* **accuracy** on the ``check_contracts.py infer`` set with the scorer's own ``score_poses``
  (PCK@0.2 all / matched, recall, OKS AP, angle error) and the annotated people with >= 10
  labelled keypoints found (greedy by score, OKS >= 0.1, as ``tools/recall_misses.py``);
* **person-free photos** with a pose (the 22 OpenCV samples of ``tests/test_person_free_stills.py``);
* **time**: the settings alternate image by image, so the wall-time ratio against the first
  setting is measured under the same load.

Usage, from the repo root::

    .venv/bin/python tools/still_stability.py --set views1:final_views=1 --set views5: --set views9:final_views=9 \
        [--only stability] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str((ROOT / ".." / "shared" / "tools").resolve()))
DATA = ROOT / ".." / "shared" / "data"
SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")


def _engine(spec: str):
    from edgepose.inference.engine import EngineConfig, PoseEngine

    kw: dict = {"max_people": 20}
    lm: dict = {}
    for item in filter(None, spec.split(",")):
        k, v = item.split("=")
        if k.startswith("lm."):  # an attribute of the landmark model
            lm[k[3:]] = float(v)
            continue
        cur = getattr(EngineConfig, k)
        kw[k] = (v not in ("0", "false", "no")) if isinstance(cur, bool) else type(cur)(v)
    engine = PoseEngine(EngineConfig(**kw))
    for k, v in lm.items():
        setattr(engine.landmarks, k, v)
    return engine


class Timed:
    def __init__(self, engine):
        self.engine, self.s = engine, 0.0

    def __call__(self, img):
        t0 = time.perf_counter()
        out = self.engine.detect_image(img)
        self.s += time.perf_counter() - t0
        return out


def stability(runs: dict[str, Timed], seed: int) -> dict[str, dict]:
    from tests.test_engine_stability import _noisy, compare_noisy

    stills = sorted((DATA / "keypoints").rglob("*.jpg")) + \
        [sorted((DATA / "tracking" / "bonn_060470979" / "frames").iterdir())[12]]
    acc = {n: {"people": 0, "lost": 0, "new": 0, "bad_people": 0, "moved": []} for n in runs}
    for path in stills:
        img = cv2.imread(str(path))
        noisy = _noisy(img, seed)
        for name, run in runs.items():
            a = acc[name]
            ref, got = run(img), run(noisy)
            c = compare_noisy(ref, got)
            a["people"] += len(ref)
            a["lost"] += len(c.lost)
            a["new"] += len(c.new)
            a["moved"] += c.moves
            a["bad_people"] += sum(bool((m > 0.02).any()) for m in c.moves)
    out = {}
    for name, a in acc.items():
        allm = np.concatenate(a.pop("moved"))
        out[name] = {"stills_people": a["people"], "lost": a["lost"], "new": a["new"], "bad_people": a["bad_people"],
                     "found_again": a["people"] - a["lost"],
                     "keypoints_beyond_2pct": round(float((allm > 0.02).mean()), 4),
                     "keypoint_move_median_pct": round(100 * float(np.median(allm)), 3)}
    return out


def accuracy(runs: dict[str, Timed]) -> dict[str, dict]:
    import check_contracts as cc
    import coco_eval

    gts = {f: coco_eval.normalise_gt(json.load(open(f)))[0] for f in cc.gt_files(DATA)}
    paths = sorted({(f.parent / im["file_name"]).resolve() for f, g in gts.items() for im in g["images"]})
    poses: dict[str, dict[Path, list]] = {n: {} for n in runs}
    for p in paths:
        img = cv2.imread(str(p))
        for name, run in runs.items():
            poses[name][p] = run(img)
    out = {}
    for name in runs:
        res = cc.score_poses(gts, lambda f, im, n=name: [q.to_json() for q in poses[n][(f.parent / im["file_name"]).resolve()]])
        people = found = 0
        for f, g in gts.items():
            for im in g["images"]:
                anns = [a for a in g["annotations"] if a["image_id"] == im["id"] and a["num_keypoints"] >= 10]
                if not anns:
                    continue
                mine = poses[name][(f.parent / im["file_name"]).resolve()]
                preds = [np.asarray(q.to_json()["coco17"], float) for q in mine]
                found += len(cc.greedy_matches(anns, preds, [q.score for q in mine], 0.1))
                people += len(anns)
        res["visible10_found"] = f"{found}/{people}"
        out[name] = res
    return out


def person_free(runs: dict[str, Timed]) -> dict[str, int]:
    from tests.test_person_free_stills import PERSON_FREE

    out = dict.fromkeys(runs, 0)
    for fn in PERSON_FREE:
        img = cv2.imread(str(SAMPLES / fn))
        for name, run in runs.items():
            out[name] += bool(run(img))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", action="append", default=[], metavar="NAME:key=value,...",
                    help="an engine setting (EngineConfig fields); the first is the time reference")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", choices=["stability", "accuracy", "person-free"], action="append")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    specs = [s.split(":", 1) for s in (a.set or ["base:"])]
    runs = {name: Timed(_engine(spec)) for name, spec in specs}
    parts = a.only or ["stability", "accuracy", "person-free"]
    res: dict = {n: {} for n in runs}
    for part, fn in (("stability", lambda: stability(runs, a.seed)), ("accuracy", lambda: accuracy(runs)),
                     ("person-free", lambda: {n: {"person_free_with_pose": v} for n, v in person_free(runs).items()})):
        if part in parts:
            for n, v in fn().items():
                res[n].update(v)
    ref = next(iter(runs.values())).s
    for n, run in runs.items():
        res[n]["seconds"] = round(run.s, 1)
        res[n]["time_ratio"] = round(run.s / ref, 3) if ref else None
        print(n, json.dumps(res[n]))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Noise stability of the ``infer`` engine on any folder of photos (no annotations needed).

Each photo is run clean and with +-1 grey level of seeded noise (the definitions of
``tests/test_engine_stability.py``): people found, not found again (no pose of the noisy photo
with OKS >= 0.5), new in the noisy photo, found again with a visible keypoint beyond 2 % of their
height, the share of visible keypoints beyond 2 % and the median move; every photo with more than
one pose, a lost or a new person is listed, so a duplicate skeleton on one person shows up.

Usage, from the repo root::

    .venv/bin/python tools/photo_stability.py ../shared/data/yoga [--seed 1] [--max-people 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXTS = (".jpg", ".jpeg", ".png")


def main(argv: list[str] | None = None) -> int:
    from edgepose.inference.engine import EngineConfig, PoseEngine
    from tests.test_engine_stability import _noisy, compare_noisy

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-people", type=int, default=20)
    a = ap.parse_args(argv)
    paths = sorted(p for p in a.folder.rglob("*") if p.suffix.lower() in EXTS)
    if not paths:
        print(f"no photos under {a.folder}", file=sys.stderr)
        return 2
    engine = PoseEngine(EngineConfig(max_people=a.max_people))
    people = lost = new = bad = 0
    moved: list[np.ndarray] = []
    for path in paths:
        img = cv2.imread(str(path))
        if img is None:
            print(f"{path}: not an image, skipped", file=sys.stderr)
            continue
        ref, got = engine.detect_image(img), engine.detect_image(_noisy(img, a.seed))
        c = compare_noisy(ref, got)
        people, lost, new = people + len(ref), lost + len(c.lost), new + len(c.new)
        moved += c.moves
        bad += sum(bool((m > 0.02).any()) for m in c.moves)
        notes = [f"lost (score {ref[i].score:.2f})" for i in c.lost] + \
            [f"new (score {got[j].score:.2f})" for j in c.new]
        if notes or len(ref) > 1:
            print(f"{path.relative_to(a.folder)}: {len(ref)} pose(s) clean, {len(got)} noisy; " + ", ".join(notes))
    allm = np.concatenate(moved) if moved else np.zeros(1)
    print(f"photos {len(paths)}, people {people}, not found again {lost}, new {new}; found again with a "
          f"keypoint beyond 2 %: {bad} of {people - lost}; visible keypoints beyond 2 %: "
          f"{float((allm > 0.02).mean()):.3f}, median move {100 * float(np.median(allm)):.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())

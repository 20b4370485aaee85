"""Pose streams for tracker tests, made from the Bonn sequence's ground truth (track ids known).

Helpers only (no tests); imported by test_tracking.py, test_analyze.py and test_sync.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgepose.pose import Pose
from edgepose.skeleton import COCO_INDEX

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
BONN = DATA / "tracking" / "bonn_060470979"


def bonn_gt() -> tuple[list[list[tuple[int, np.ndarray]]], list[str]]:
    """Per frame (in file order): [(track_id, (17, 3) COCO keypoints, v in {0, 1})], and file names."""
    raw = json.loads((BONN / "annotations.json").read_text())
    names = raw["categories"][0]["keypoints"]
    images = sorted(raw["images"], key=lambda i: i["file_name"])
    frames = []
    for im in images:
        people = []
        for a in raw["annotations"]:
            if a["image_id"] != im["id"]:
                continue
            k = np.asarray(a["keypoints"], float).reshape(-1, 3)
            out = np.zeros((17, 3))
            for src, n in enumerate(names):
                if n in COCO_INDEX and k[src, 2] > 0:
                    out[COCO_INDEX[n]] = (k[src, 0], k[src, 1], 1.0)
            people.append((int(a["track_id"]), out))
        frames.append(people)
    return frames, [im["file_name"] for im in images]


def as_pose(k17: np.ndarray, score: float = 0.9) -> Pose:
    return Pose(keypoints=k17.astype(np.float32), score=score, layout="coco17")

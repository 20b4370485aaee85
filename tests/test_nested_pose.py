"""A small pose lying on another person's body is part of that body, never a second person.

The material is real: the floor-press lifter (``exercise/floor_dumbbell_press_quva013.mp4``, lying,
legs out of the picture) at the size he has on a crowded frame, where the landmark model returns
a small whole-body pose on his face and raised arms (8 of the first 150 frames with the rule
switched off, looked at in docs/benchmarks.md "Crowd of ten"); and the annotated people of the
shared stills, who are all different people and must never be taken for one body.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edgepose.inference.nested import blaze33_nested, coco17_nested
from tests.conftest import DATA, need_data, needs_pose_models

pytestmark = needs_pose_models(__name__, DATA / "exercise" / "floor_dumbbell_press_quva013.mp4")


def _gt_people(path) -> dict[int, list[np.ndarray]]:
    d = json.loads(path.read_text())
    by: dict[int, list[np.ndarray]] = {}
    for a in d["annotations"]:
        k = np.asarray(a.get("keypoints") or [], float)
        if k.size != 51:
            continue
        k = k.reshape(17, 3)
        k[:, 2] = (k[:, 2] > 0).astype(float)
        by.setdefault(a["image_id"], []).append(k)
    return by


@pytest.mark.parametrize("sub, name", [("posetrack18", "posetrack18_val_keypoints.json"),
                                       ("coco", "coco_person_keypoints.json"),
                                       ("ochuman", "ochuman_keypoints.json"),
                                       ("humanart", "humanart_keypoints.json")])
def test_annotated_people_are_never_one_body(sub, name):
    """The plaza's eleven dancers and onlookers (small people behind big ones), the overlapping
    skiers, the airport occlusion, the acrobats' hand-balance: no pair lies on the other's body."""
    people = _gt_people(need_data("keypoints", sub, name))
    pairs = [(a, b) for ks in people.values() for i, a in enumerate(ks) for b in ks[i + 1:]]
    assert pairs or sub in ("ochuman", "humanart")
    assert not [1 for a, b in pairs if coco17_nested(a, b)]


def test_a_pose_on_the_lifters_face_and_arms_is_part_of_him():
    """His real pose, and a copy of it shrunk onto his own chest and arms, are one body; the
    same small copy moved beside him is someone else."""
    from edgepose.inference.engine import EngineConfig, PoseEngine, one_body

    cap = cv2.VideoCapture(str(DATA / "exercise" / "floor_dumbbell_press_quva013.mp4"))
    ok, im = cap.read()
    cap.release()
    assert ok
    eng = PoseEngine(EngineConfig(max_people=1, threads=2))
    poses = [eng.process(im, 0.0) for _ in range(3)][-1]
    assert len(poses) == 1
    big = poses[0].keypoints[:, :3].astype(np.float64)
    arms = [11, 12, 13, 14, 15, 16, 0]                          # shoulders, elbows, wrists, nose
    small = big.copy()
    centre = big[arms, :2].mean(0)
    small[:, :2] = centre + 0.4 * (big[:, :2] - centre)         # a quarter-size copy on his chest
    small[23:, 2] = 0.0                                         # hips and legs unseen
    assert blaze33_nested(small, big) and one_body(small, big)
    beside = small.copy()
    beside[:, 0] += 1.2 * (big[:, 0].max() - big[:, 0].min())   # the same small pose beside him
    assert not blaze33_nested(beside, big)


def test_the_engine_never_keeps_a_pose_lying_on_another():
    """Two places on the lifter at crowd size (0.75x): the model's small pose on his face and arms
    never takes the second place (8 of these 150 frames without the rule)."""
    from edgepose.inference.engine import EngineConfig, PoseEngine

    cap = cv2.VideoCapture(str(DATA / "exercise" / "floor_dumbbell_press_quva013.mp4"))
    eng = PoseEngine(EngineConfig(max_people=2, threads=2))
    nested, frames = [], 0
    for i in range(150):
        ok, im = cap.read()
        if not ok:
            break
        im = cv2.resize(im, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
        poses = eng.process(im, i / 25.0)
        frames += 1
        if len(poses) >= 2 and blaze33_nested(poses[0].keypoints, poses[1].keypoints):
            nested.append(i)
    cap.release()
    assert frames == 150
    assert nested == []

"""tools/pose_cost.py counts the engine's model calls from outside: its counts must be the engine's
own (EngineStats), call for call, on a real still and a real clip."""

from __future__ import annotations

import sys

import cv2

from edgepose.inference.engine import EngineConfig, PoseEngine
from tests.conftest import ROOT, need_data

sys.path.insert(0, str(ROOT / "tools"))
import pose_cost  # noqa: E402


def _engine(**kw) -> tuple[PoseEngine, pose_cost.Tally]:
    eng = PoseEngine(EngineConfig(threads=2, **kw))
    tally = pose_cost.Tally()
    pose_cost.instrument(eng, tally)
    return eng, tally


def test_counts_on_a_still_are_the_engines_own():
    img = cv2.imread(str(need_data("keypoints", "coco", "000000197388.jpg")))
    eng, tally = _engine(max_people=20)
    poses = eng.detect_image(img)
    assert len(poses) >= 4  # five skiers
    c = tally.calls
    assert c["bp_det"] == 1 and c["bp_tile"] >= 8  # the whole frame, then tiles (max_people > 1)
    assert c["bp_det"] + c["bp_tile"] + c["bp_region"] == eng.stats.detector_calls
    assert c["landmark"] == eng.stats.landmark_calls >= len(poses)
    if eng.persons is not None:  # a 640-px still: the whole frame, and again with the skiers painted out (no crops)
        assert (c["person"], c["person_crop"]) == (2, 0) == (eng.stats.person_calls, 0)
    assert all(tally.ms[k] > 0 for k in c)


def test_counts_on_a_clip_are_the_engines_own():
    cap = cv2.VideoCapture(str(need_data("video", "dance_single_office.mp4")))
    frames = [cap.read()[1] for _ in range(20)]
    cap.release()
    eng, tally = _engine(max_people=1)
    for i, f in enumerate(frames):
        eng.process(f, i / 30)
    c = tally.calls
    assert c["bp_det"] + c["bp_tile"] + c["bp_region"] == eng.stats.detector_calls
    assert c["landmark"] == eng.stats.landmark_calls >= 20  # one tracked person: a call per frame at least
    assert c["person"] + c["person_crop"] == eng.stats.person_calls

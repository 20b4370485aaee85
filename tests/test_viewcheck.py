"""Range of motion the camera cannot see is reported as such, not as a number."""

from __future__ import annotations

import json
import math

import numpy as np

from edgepose.evaluate.synth import side_pose
from edgepose.evaluate.viewcheck import PlaneCheck
from edgepose.pose import Pose
from tests.conftest import need_data


def _elbow_pose(bend_deg: float, in_depth: bool) -> Pose:
    """Arms held up; the forearm bends by ``bend_deg`` across the picture or along the line of sight."""
    p = side_pose(arm=180, elbow=180)
    k = p.keypoints.copy()
    z = np.zeros(len(k), np.float32)
    for side in ("left", "right"):
        e, w = p.index(f"{side}_elbow"), p.index(f"{side}_wrist")
        fore = float(np.hypot(*(k[w, :2] - k[e, :2])))
        a = math.radians(bend_deg)
        if in_depth:  # the wrist swings towards the camera: the picture shows it only shortening
            k[w, :2] = k[e, :2] + (k[w, :2] - k[e, :2]) * math.cos(a)
            z[w] = z[e] - fore * math.sin(a)
        else:
            k[w, 0] = k[e, 0] + fore * math.sin(a)
            k[w, 1] = k[e, 1] - fore * math.cos(a)
    return Pose(k, p.score, z=z)


def test_motion_across_the_picture_is_measurable_and_along_the_line_of_sight_is_not():
    across, along = PlaneCheck(["elbow"]), PlaneCheck(["elbow"])
    for i in range(120):
        bend = 45 + 45 * math.sin(i / 10)
        across.update(_elbow_pose(bend, in_depth=False))
        along.update(_elbow_pose(bend, in_depth=True))
    assert across.verdict("elbow") is None
    v = along.verdict("elbow")
    assert v is not None and v["measurable"] is False and "camera" in v["why"]
    assert v["depth_estimate_deg"] > 2 * v["seen_deg"]


def test_too_few_frames_or_no_depth_give_no_verdict():
    c = PlaneCheck(["elbow", "knee", "trunk_lean"])
    assert c.joints == ("elbow", "knee")
    for i in range(10):
        c.update(_elbow_pose(10 * i, in_depth=True))
    assert c.unmeasurable() == {}
    flat = PlaneCheck(["elbow"])
    for _ in range(100):
        flat.update(side_pose())  # no depth (e.g. MoveNet)
    assert flat.unmeasurable() == {}


def test_floor_press_from_the_feet_says_the_elbow_cannot_be_measured(tmp_path):
    from edgepose.cli import main

    press = need_data("exercise", "floor_dumbbell_press_quva013.mp4")
    squat = need_data("exercise", "squat_side_gym.mp4")
    for video, program in ((press, "floor-press"), (squat, "squat")):
        out = tmp_path / f"{program}.json"
        assert main(["run", "--source", str(video), "--program", program, "--summary", str(out), "--quiet"]) == 0
        s = json.loads(out.read_text())
        if program == "floor-press":
            assert s["reps"] == 7
            assert s["rom"]["elbow"]["measurable"] is False and "film from the side" in s["rom"]["elbow"]["why"]
            assert s["rep_rom_deg"] == [] and all("elbow" not in r["rom"] for r in s["rep_list"])
        else:  # a side view measures the knee and hip: numbers, about 130 and 140 degrees per rep
            assert s["reps"] == 3
            assert 115 < s["rom"]["knee"]["mean"] < 145 and 125 < s["rom"]["hip"]["mean"] < 155
            assert "measurable" not in s["rom"]["knee"]

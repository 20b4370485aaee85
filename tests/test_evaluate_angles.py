"""Body measures on stick figures whose true angles are known."""

from __future__ import annotations

import numpy as np
import pytest

from edgepose.evaluate.angles import (
    MEASURES,
    Measure,
    angles_deg,
    combine_sides,
    measure_pose,
    mirror_name,
)
from edgepose.evaluate.synth import front_pose, mirrored, side_pose
from edgepose.pose import Pose


@pytest.mark.parametrize("shin,thigh,trunk", [(0, 0, 0), (30, 60, 30), (20, 100, 45), (35, 110, 10)])
def test_side_view_angles_match_the_geometry(shin: float, thigh: float, trunk: float) -> None:
    m = measure_pose(side_pose(shin=shin, thigh=thigh, trunk=trunk, arm=90, elbow=100))
    assert m["right_knee"].value == pytest.approx(180 - shin - thigh, abs=0.01)
    assert m["right_hip"].value == pytest.approx(180 - thigh - trunk, abs=0.01)
    assert m["trunk_lean"].value == pytest.approx(trunk, abs=0.01)
    assert m["right_elbow"].value == pytest.approx(100, abs=0.01)
    assert m["right_shoulder"].value == pytest.approx(90 + trunk, abs=0.01)
    assert m["right_thigh"].value == pytest.approx(thigh, abs=0.01)
    assert m["right_shin"].value == pytest.approx(shin, abs=0.01)


def test_hip_height_is_size_and_distance_free() -> None:
    near = measure_pose(side_pose(torso=200, shin=30, thigh=60, ankle=(600, 900)))["hip_height"].value
    far = measure_pose(side_pose(torso=40, shin=30, thigh=60, ankle=(100, 150)))["hip_height"].value
    assert near == pytest.approx(far, abs=1e-3)
    standing = measure_pose(side_pose())["hip_height"].value
    assert standing > near + 0.4


def test_front_view_stance_valgus_and_abduction() -> None:
    m = measure_pose(front_pose(stance=1.2, knee_in=0.0, arms=90))
    assert m["stance_width"].value == pytest.approx(1.2, abs=1e-3)
    assert m["left_arm"].value == pytest.approx(90, abs=0.5)
    assert m["knee_ankle_ratio"].value > 0.7
    caved = measure_pose(front_pose(stance=1.2, knee_in=0.35))
    assert caved["knee_ankle_ratio"].value < 0.7


def test_confidence_is_the_lowest_visibility_used() -> None:
    m = measure_pose(side_pose(far_visibility=0.2))
    assert m["left_knee"].conf == pytest.approx(0.2, abs=1e-6)
    assert m["right_knee"].conf == pytest.approx(0.99, abs=1e-6)
    # the visible side dominates the combined value
    p = side_pose(shin=30, thigh=60, far_visibility=0.2)
    k = p.keypoints.copy()
    k[25, :2] += (40, 0)  # move the hidden left knee: a bad guess of an occluded joint
    ms = measure_pose(Pose(k, 1.0))
    both = combine_sides(ms, "knee", "visible", 0.5)
    assert both is not None and both.value == pytest.approx(90, abs=0.01)
    assert combine_sides(ms, "knee", "visible", 0.999) is None  # nothing seen well enough


def test_mirroring_swaps_sides() -> None:
    p = side_pose(shin=10, thigh=80, arm=45, far_visibility=0.9)
    k = p.keypoints.copy()
    k[26, :2] += (30, 0)  # make the right knee different from the left
    p = Pose(k, 1.0)
    a, b = measure_pose(p), measure_pose(mirrored(p, 640))
    for name in ("left_knee", "right_knee", "left_hip", "right_hip", "left_shoulder", "trunk_lean"):
        assert b[mirror_name(name)].value == pytest.approx(a[name].value, abs=1e-3)
    assert a["left_knee"].value != pytest.approx(a["right_knee"].value, abs=1)


def test_coco_layout_has_no_foot_measures_but_keeps_the_rest() -> None:
    p = side_pose(shin=30, thigh=60)
    coco = Pose(p.coco17(), 1.0, layout="coco17")
    m = measure_pose(coco)
    assert "right_knee" in m and "right_ankle" not in m and "right_heel_lift" not in m
    assert set(m) <= MEASURES


def test_degenerate_points_are_left_out() -> None:
    k = np.zeros((33, 3), np.float32)
    k[:, 2] = 1.0
    m = measure_pose(Pose(k, 1.0))
    assert "left_knee" not in m and "hip_height" not in m
    assert angles_deg(Pose(k, 1.0)) == {}
    assert isinstance(combine_sides({"left_knee": Measure(10, 0.9)}, "knee"), Measure)

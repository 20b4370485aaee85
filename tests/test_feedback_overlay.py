"""The overlay drawn on a real video frame, saved as PNG and checked pixel by pixel."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgepose.feedback.overlay import (
    EDGE_COLOR,
    NEUTRAL,
    STATUS_COLORS,
    Hud,
    draw_overlay,
    hud_regions,
    joint_radius,
)
from edgepose.pose import Pose
from edgepose.skeleton import BLAZE_INDEX, BLAZEPOSE33
from tests.conftest import video_frame


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return video_frame("video", "dance_single_office.mp4", index=30)


def standing_pose(w: int, h: int) -> Pose:
    """A person standing in the middle of the frame, built from numbers."""
    cx, top, hgt = w / 2, h * 0.15, h * 0.75
    spots = {
        "nose": (0, 0.05), "left_eye": (0.02, 0.03), "right_eye": (-0.02, 0.03),
        "left_ear": (0.04, 0.04), "right_ear": (-0.04, 0.04),
        "left_shoulder": (0.12, 0.2), "right_shoulder": (-0.12, 0.2),
        "left_elbow": (0.2, 0.35), "right_elbow": (-0.2, 0.35),
        "left_wrist": (0.25, 0.5), "right_wrist": (-0.25, 0.5),
        "left_hip": (0.08, 0.55), "right_hip": (-0.08, 0.55),
        "left_knee": (0.09, 0.78), "right_knee": (-0.09, 0.78),
        "left_ankle": (0.1, 0.98), "right_ankle": (-0.1, 0.98),
    }
    k = np.zeros((33, 3), np.float32)
    for name in BLAZEPOSE33:
        dx, dy = spots.get(name, (0.0, 0.0))
        if name not in spots:  # hands, feet, mouth: next to their parent joint
            base = next((p for p in spots if name.split("_")[0] == p.split("_")[0] and "wrist" in p), None)
            if "heel" in name or "foot" in name:
                base = name.split("_")[0] + "_ankle"
            elif "mouth" in name or "eye" in name:
                base = "nose"
            dx, dy = spots.get(base or "nose")
            dy += 0.05 if base and "ankle" in base else 0.02
        k[BLAZE_INDEX[name]] = (cx + dx * hgt, top + dy * hgt, 0.95)
    k[BLAZE_INDEX["right_ankle"], 2] = 0.1  # not visible
    return Pose(k, score=0.99)


def px(img: np.ndarray, pose: Pose, name: str) -> tuple[int, int, int]:
    x, y = np.round(pose.xy(name)).astype(int)
    return tuple(int(v) for v in img[y, x])


def test_joint_colours_at_joint_positions(frame, tmp_path):
    h, w = frame.shape[:2]
    pose = standing_pose(w, h)
    status = {"left_knee": "on", "right_knee": "near", "left_elbow": "off", "right_elbow": "unseen"}
    out = draw_overlay(frame, pose, status)
    path = tmp_path / "overlay_joints.png"
    assert cv2.imwrite(str(path), out)
    img = cv2.imread(str(path))  # check what was written, not what is in memory
    assert px(img, pose, "left_knee") == STATUS_COLORS["on"]
    assert px(img, pose, "right_knee") == STATUS_COLORS["near"]
    assert px(img, pose, "left_elbow") == STATUS_COLORS["off"]
    assert px(img, pose, "left_shoulder") == NEUTRAL, "joints without a status are white"
    # unseen (by status or by visibility): a hollow grey ring, the image shows through the centre
    for name in ("right_elbow", "right_ankle"):
        assert px(img, pose, name) == px(frame, pose, name)
        x, y = np.round(pose.xy(name)).astype(int)
        r = joint_radius(img)
        ring = img[y - r - 1:y + r + 2, x - r - 1:x + r + 2].reshape(-1, 3)
        grey = np.array(STATUS_COLORS["unseen"])
        assert (np.abs(ring.astype(int) - grey).sum(axis=1) < 30).sum() >= 4, name
    # no bone is drawn to the invisible ankle: the middle of knee→ankle is untouched
    mid = np.round((pose.xy("right_knee") + pose.xy("right_ankle")) / 2).astype(int)
    assert tuple(img[mid[1], mid[0]]) == tuple(frame[mid[1], mid[0]])
    # a bone between two seen joints is drawn
    mid = np.round((pose.xy("left_hip") + pose.xy("left_shoulder")) / 2).astype(int)
    assert np.abs(img[mid[1], mid[0]].astype(int) - EDGE_COLOR).sum() < 40
    # the frame passed in is untouched
    assert px(frame, pose, "left_knee") != STATUS_COLORS["on"]


def test_bone_takes_the_colour_its_joints_share(frame):
    h, w = frame.shape[:2]
    pose = standing_pose(w, h)
    out = draw_overlay(frame, pose, {"left_hip": "off", "left_knee": "off"})
    mid = np.round((pose.xy("left_hip") + pose.xy("left_knee")) / 2).astype(int)
    assert np.abs(out[mid[1], mid[0]].astype(int) - STATUS_COLORS["off"]).sum() < 40


def test_hud_text_changes_its_regions_only(frame, tmp_path):
    h, w = frame.shape[:2]
    hud = Hud(program="Squat (side view)", state="active", cue="Push your knees out", reps=7,
              elapsed_s=83.4, score=91)
    out = draw_overlay(frame, None, hud=hud)
    cv2.imwrite(str(tmp_path / "overlay_hud.png"), out)
    regs = hud_regions(frame)
    for name, (x0, y0, x1, y1) in regs.items():
        a = frame[y0:y1, x0:x1].astype(int)
        b = out[y0:y1, x0:x1].astype(int)
        bright = (b.max(axis=2) > 200) & (np.abs(a - b).sum(axis=2) > 100)
        assert bright.sum() > 50, f"no text drawn in the {name} region"
    # the middle of the picture (where the person is) is left alone
    cy, cx = h // 2, w // 2
    assert np.array_equal(out[cy - 20:cy + 20, cx - 20:cx + 20], frame[cy - 20:cy + 20, cx - 20:cx + 20])


def test_hud_values_are_rendered_not_just_boxes(frame):
    a = draw_overlay(frame, hud=Hud(reps=3, elapsed_s=10, score=40))
    b = draw_overlay(frame, hud=Hud(reps=8, elapsed_s=10, score=40))
    x0, y0, x1, y1 = hud_regions(frame)["stats"]
    assert not np.array_equal(a[y0:y1, x0:x1], b[y0:y1, x0:x1]), "different reps must look different"
    # score colour follows the score: red for 40, green for 95
    g = draw_overlay(frame, hud=Hud(score=95))
    def near(img, color):
        return (np.abs(img[y0:y1, x0:x1].astype(int) - color).sum(axis=2) < 60).sum()

    red, green = near(a, STATUS_COLORS["off"]), near(g, STATUS_COLORS["on"])
    assert red > 20 and green > 20
    assert near(a, STATUS_COLORS["on"]) < 5 and near(g, STATUS_COLORS["off"]) < 5


def test_countdown_number_in_the_centre(frame):
    h, w = frame.shape[:2]
    out = draw_overlay(frame, hud=Hud(countdown_s=2.4))
    c = out[h // 3: 2 * h // 3, w // 3: 2 * w // 3]
    assert (c.min(axis=2) > 250).sum() > 500, "a big white '3' in the middle"


def test_long_cue_is_fitted_to_the_width():
    img = np.zeros((240, 320, 3), np.uint8)
    out = draw_overlay(img, hud=Hud(cue="Keep your back straight and your chest up while you lower " * 3))
    x0, y0, x1, y1 = hud_regions(img)["cue"]
    cols = np.where((out[y0:y1].max(axis=2) > 200).any(axis=0))[0]
    assert cols.size and cols.min() > 0 and cols.max() < 319


def test_other_people_are_neutral_and_bad_input_is_refused(frame):
    h, w = frame.shape[:2]
    p1 = standing_pose(w, h)
    k2 = p1.keypoints.copy()
    k2[:, 0] -= w * 0.3
    p2 = Pose(k2, 0.9)
    out = draw_overlay(frame, [p1, p2], {"left_knee": "off"})
    assert px(out, p1, "left_knee") == STATUS_COLORS["off"]
    assert px(out, p2, "left_knee") == NEUTRAL
    with pytest.raises(ValueError, match="unknown status"):
        draw_overlay(frame, p1, {"left_knee": "great"})
    with pytest.raises(KeyError, match="no joint"):
        draw_overlay(frame, p1, {"left_kne": "off"})
    with pytest.raises(ValueError, match="uint8 BGR"):
        draw_overlay(frame[:, :, 0], p1)

"""Synthetic stick-figure poses with known geometry, for tests and demonstrations.

The figure is built from segment lengths and angles, so every measure of
:mod:`edgepose.evaluate.angles` has a known true value. Coordinates are image pixels, y down.
"""

from __future__ import annotations

import math

import numpy as np

from edgepose.pose import Pose
from edgepose.skeleton import BLAZE_INDEX, BLAZE_MIRROR

# Segment lengths in units of the torso (mid-shoulder to mid-hip).
THIGH, SHIN, UPPER_ARM, FOREARM, HEAD = 0.9, 0.85, 0.6, 0.55, 0.35


def _dir(deg_from_down: float, forward: float = 1.0) -> np.ndarray:
    """Unit vector at ``deg`` from straight down, rotated towards +x (``forward = 1``)."""
    a = math.radians(deg_from_down)
    return np.array([forward * math.sin(a), math.cos(a)])


def side_pose(*, ankle=(300.0, 400.0), torso: float = 100.0, shin: float = 0.0, thigh: float = 0.0,
              trunk: float = 0.0, arm: float = 0.0, elbow: float = 180.0, far_visibility: float = 0.9,
              facing: float = 1.0, score: float = 0.99) -> Pose:
    """A figure seen from the side, both legs together, both arms together.

    Parameters
    ----------
    shin, thigh:
        Inclinations from vertical in degrees: the shin leans forward (knee ahead of the ankle),
        the thigh leans forward from the hip (knee ahead of the hip). Knee angle = 180 - shin - thigh.
    trunk:
        Forward lean of the trunk from vertical, degrees.
    arm:
        Upper-arm angle from straight down in the image, degrees, forward (with an upright
        trunk this is the shoulder flexion); ``elbow`` is the elbow angle.
    far_visibility:
        Visibility given to the side farther from the camera (the left side).
    facing:
        ``1`` faces +x, ``-1`` faces -x.
    """
    ank = np.asarray(ankle, float)
    knee = ank + torso * SHIN * np.array([facing * math.sin(math.radians(shin)), -math.cos(math.radians(shin))])
    hip = knee + torso * THIGH * np.array([-facing * math.sin(math.radians(thigh)), -math.cos(math.radians(thigh))])
    sh = hip + torso * np.array([facing * math.sin(math.radians(trunk)), -math.cos(math.radians(trunk))])
    el = sh + torso * UPPER_ARM * _dir(arm, facing)
    wr = el + torso * FOREARM * _dir(arm + (180.0 - elbow), facing)  # the forearm bends forward/up
    head = sh + torso * HEAD * np.array([facing * math.sin(math.radians(trunk)), -math.cos(math.radians(trunk))])
    pts = {
        "shoulder": sh, "elbow": el, "wrist": wr, "hip": hip, "knee": knee, "ankle": ank,
        "heel": ank + torso * np.array([-facing * 0.1, 0.05]),
        "foot_index": ank + torso * np.array([facing * 0.25, 0.06]),
        "pinky": wr + torso * np.array([facing * 0.05, 0.05]), "index": wr + torso * np.array([facing * 0.06, 0.05]),
        "thumb": wr + torso * np.array([facing * 0.04, 0.03]),
        "eye": head + torso * np.array([facing * 0.08, -0.04]), "eye_inner": head + torso * np.array([facing * 0.1, -0.04]),
        "eye_outer": head + torso * np.array([facing * 0.05, -0.04]), "ear": head,
    }
    k = np.zeros((33, 3), np.float32)
    for name, i in BLAZE_INDEX.items():
        if name == "nose":
            p, v = head + torso * np.array([facing * 0.15, 0.0]), 0.99
        elif name in ("mouth_left", "mouth_right"):
            p, v = head + torso * np.array([facing * 0.12, 0.08]), 0.99
        else:
            side, base = name.split("_", 1)
            p = pts[base]
            v = 0.99 if side == "right" else far_visibility
        k[i] = (p[0], p[1], v)
    return Pose(k, score)


def front_pose(*, center=(320.0, 300.0), torso: float = 100.0, stance: float = 0.4, knee_in: float = 0.0,
               squat: float = 0.0, arms: float = 0.0, left_arm: float | None = None, right_arm: float | None = None,
               lift_right_foot: float = 0.0, score: float = 0.99) -> Pose:
    """A figure facing the camera.

    Parameters
    ----------
    stance:
        Ankle-to-ankle distance in torso lengths.
    knee_in:
        How far each knee sits inside the hip-ankle line, torso lengths (knee valgus).
    squat:
        0..1: how far the hips drop (a front-view squat: thighs foreshortened).
    arms, left_arm, right_arm:
        Arm elevation from hanging, degrees, out to the sides (abduction).
    lift_right_foot:
        How far the right ankle is raised, torso lengths.
    """
    cx, cy = center
    sw, hw = 0.45 * torso, 0.3 * torso
    hip_y = cy
    leg = (THIGH + SHIN) * torso * (1.0 - 0.45 * squat)
    k = np.zeros((33, 3), np.float32)

    def put(name: str, x: float, y: float, v: float = 0.99) -> None:
        k[BLAZE_INDEX[name]] = (x, y, v)

    for s, sign in (("left", 1.0), ("right", -1.0)):  # the person's left is image right
        ax = cx + sign * stance * torso / 2
        ay = hip_y + leg - (lift_right_foot * torso if s == "right" else 0.0)
        hx = cx + sign * hw
        kx = (hx + ax) / 2 - sign * knee_in * torso
        ky = (hip_y + ay) / 2
        shx = cx + sign * sw
        shy = hip_y - torso
        a = math.radians(left_arm if (s == "left" and left_arm is not None) else
                         right_arm if (s == "right" and right_arm is not None) else arms)
        ex, ey = shx + sign * UPPER_ARM * torso * math.sin(a), shy + UPPER_ARM * torso * math.cos(a)
        wx, wy = ex + sign * FOREARM * torso * math.sin(a), ey + FOREARM * torso * math.cos(a)
        put(f"{s}_shoulder", shx, shy)
        put(f"{s}_elbow", ex, ey)
        put(f"{s}_wrist", wx, wy)
        for n in ("pinky", "index", "thumb"):
            put(f"{s}_{n}", wx, wy + 0.05 * torso)
        put(f"{s}_hip", hx, hip_y)
        put(f"{s}_knee", kx, ky)
        put(f"{s}_ankle", ax, ay)
        put(f"{s}_heel", ax, ay + 0.05 * torso)
        put(f"{s}_foot_index", ax + sign * 0.05 * torso, ay + 0.1 * torso)
        put(f"{s}_ear", cx + sign * 0.12 * torso, shy - 0.3 * torso)
        for n in ("eye", "eye_inner", "eye_outer"):
            put(f"{s}_{n}", cx + sign * 0.06 * torso, shy - 0.35 * torso)
    put("nose", cx, shy - 0.3 * torso)
    put("mouth_left", cx + 0.04 * torso, shy - 0.22 * torso)
    put("mouth_right", cx - 0.04 * torso, shy - 0.22 * torso)
    return Pose(k, score)


def mirrored(pose: Pose, width: float) -> Pose:
    """The pose seen in a mirror: x flipped and left/right joints swapped."""
    k = pose.keypoints[list(BLAZE_MIRROR)].copy()
    k[:, 0] = width - k[:, 0]
    return Pose(k, pose.score, pose.layout, pose.id)


def jittered(pose: Pose, rng: np.random.Generator, sigma_px: float) -> Pose:
    """The pose with Gaussian noise on every keypoint position."""
    k = pose.keypoints.copy()
    k[:, :2] += rng.normal(0.0, sigma_px, size=(k.shape[0], 2)).astype(np.float32)
    return Pose(k, pose.score, pose.layout, pose.id)

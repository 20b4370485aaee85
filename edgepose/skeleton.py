"""Keypoint names, the BlazePose-33 to COCO-17 mapping and the edges used for drawing."""

from __future__ import annotations

BLAZEPOSE33: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)

COCO17: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)

# Every COCO-17 joint has a BlazePose joint of the same name.
BLAZE_INDEX: dict[str, int] = {n: i for i, n in enumerate(BLAZEPOSE33)}
COCO_INDEX: dict[str, int] = {n: i for i, n in enumerate(COCO17)}
COCO_FROM_BLAZE: tuple[int, ...] = tuple(BLAZE_INDEX[n] for n in COCO17)

# Per-keypoint OKS sigmas of COCO (used by tracking and evaluation).
COCO_SIGMAS: tuple[float, ...] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
    0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)

_BODY_EDGES = (
    ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"), ("left_hip", "right_hip"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"), ("nose", "left_eye"), ("nose", "right_eye"),
    ("left_eye", "left_ear"), ("right_eye", "right_ear"),
)
_FOOT_HAND_EDGES = (
    ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"), ("left_ankle", "left_foot_index"),
    ("right_ankle", "right_heel"), ("right_heel", "right_foot_index"), ("right_ankle", "right_foot_index"),
    ("left_wrist", "left_index"), ("right_wrist", "right_index"),
)

COCO_EDGES: tuple[tuple[int, int], ...] = tuple((COCO_INDEX[a], COCO_INDEX[b]) for a, b in _BODY_EDGES)
BLAZE_EDGES: tuple[tuple[int, int], ...] = tuple(
    (BLAZE_INDEX[a], BLAZE_INDEX[b]) for a, b in _BODY_EDGES + _FOOT_HAND_EDGES
)

# Left/right swaps, used to mirror a pose (a target done on the other side).
def _mirror(names: tuple[str, ...]) -> tuple[int, ...]:
    idx = {n: i for i, n in enumerate(names)}
    out = []
    for n in names:
        if n.startswith("left_"):
            out.append(idx["right_" + n[5:]])
        elif n.startswith("right_"):
            out.append(idx["left_" + n[6:]])
        elif n == "mouth_left":
            out.append(idx["mouth_right"])
        elif n == "mouth_right":
            out.append(idx["mouth_left"])
        else:
            out.append(idx[n])
    return tuple(out)


BLAZE_MIRROR: tuple[int, ...] = _mirror(BLAZEPOSE33)
COCO_MIRROR: tuple[int, ...] = _mirror(COCO17)

"""Can this camera view measure a joint's range of motion?

A joint angle is measured in the picture, in 2-D. That is right when the limb moves across the
picture (a knee seen from the side) and wrong when it moves towards and away from the camera (a
floor press filmed from the feet: the elbows bend by 90 degrees while the 2-D angle changes by
about 25). BlazePose also gives each keypoint a relative depth. The depth is too noisy to report
an angle from, but good enough to notice that the joint moved much more than the picture shows:
when the spread of the depth-aware angle is well above the spread of the 2-D angle, the motion
lies mostly along the line of sight, and the summary says the view cannot measure that joint
instead of reporting a number (docs/scoring.md, "Range of motion").
"""

from __future__ import annotations

import numpy as np

from edgepose.pose import Pose

# The joint angles a program may report as range of motion: name -> (a, vertex, b).
JOINTS = {
    "knee": ("hip", "knee", "ankle"),
    "hip": ("shoulder", "hip", "knee"),
    "elbow": ("shoulder", "elbow", "wrist"),
    "shoulder": ("hip", "shoulder", "elbow"),
}
MIN_FRAMES = 30  # fewer judged frames: no verdict (measurable)
RATIO = 1.8  # depth-aware spread over 2-D spread beyond which the view hides the motion ...
MIN_EXCESS_DEG = 20.0  # ... and only when the motion hidden is this large
MAX_SAMPLES = 20_000  # per joint; older samples are thinned beyond it


def _angle(u: np.ndarray, w: np.ndarray) -> float | None:
    nu, nw = float(np.linalg.norm(u)), float(np.linalg.norm(w))
    if nu < 1e-6 or nw < 1e-6:
        return None
    return float(np.degrees(np.arccos(min(1.0, max(-1.0, float(np.dot(u, w)) / (nu * nw))))))


def angle_pair(pose: Pose, joint: str, min_conf: float) -> tuple[float, float] | None:
    """(2-D angle, depth-aware angle) of ``joint`` on its better-seen side, or None."""
    if pose.z is None or joint not in JOINTS:
        return None
    k, z = pose.keypoints, pose.z
    best = None
    for side in ("left", "right"):
        try:
            idx = [pose.index(f"{side}_{n}") for n in JOINTS[joint]]
        except KeyError:
            return None
        conf = float(min(k[i, 2] for i in idx))
        if conf >= min_conf and (best is None or conf > best[0]):
            best = (conf, idx)
    if best is None:
        return None
    a, v, b = best[1]
    p3 = np.column_stack([k[:, :2].astype(np.float64), np.asarray(z, np.float64)])
    flat = _angle(p3[a, :2] - p3[v, :2], p3[b, :2] - p3[v, :2])
    deep = _angle(p3[a] - p3[v], p3[b] - p3[v])
    return None if flat is None or deep is None else (flat, deep)


class PlaneCheck:
    """Collects both angles of the joints a program reports, frame by frame."""

    def __init__(self, joints: tuple[str, ...] | list[str], min_conf: float = 0.5) -> None:
        self.joints = tuple(j for j in joints if j in JOINTS)
        self.min_conf = min_conf
        self._flat: dict[str, list[float]] = {j: [] for j in self.joints}
        self._deep: dict[str, list[float]] = {j: [] for j in self.joints}

    def update(self, pose: Pose) -> None:
        for j in self.joints:
            pair = angle_pair(pose, j, self.min_conf)
            if pair is None:
                continue
            flat, deep = self._flat[j], self._deep[j]
            flat.append(pair[0])
            deep.append(pair[1])
            if len(flat) > MAX_SAMPLES:
                del flat[::2]
                del deep[::2]

    def verdict(self, joint: str) -> dict | None:
        """None when the view measures ``joint`` (or there is too little to tell); else why not."""
        flat, deep = self._flat.get(joint, []), self._deep.get(joint, [])
        if len(flat) < MIN_FRAMES:
            return None
        spread = lambda v: float(np.percentile(v, 95) - np.percentile(v, 5))  # noqa: E731
        s2, s3 = spread(flat), spread(deep)
        if s3 > RATIO * s2 and s3 - s2 > MIN_EXCESS_DEG:
            return {"measurable": False, "seen_deg": round(s2, 1), "depth_estimate_deg": round(s3, 1),
                    "why": f"the {joint} moves mostly towards and away from the camera, so its angle in the "
                           f"picture changes far less than the joint does; film from the side to measure it"}
        return None

    def unmeasurable(self) -> dict[str, dict]:
        return {j: v for j in self.joints if (v := self.verdict(j)) is not None}

"""Body measures from one pose: joint angles, segment inclinations and size-free distances.

Everything here is a pure function of the keypoints (pixels, image y pointing down). Every
measure comes with a confidence, the lowest visibility of the keypoints it uses, so a caller can
refuse to judge what the model could not see.

Angles are in degrees:

* joint angles (``left_knee``, ``left_hip``, ``left_elbow``, ``left_ankle``): the inner angle at
  the joint, 180 = straight;
* ``left_shoulder``: arm elevation, the angle between the trunk (shoulder to hip) and the upper
  arm (shoulder to elbow); 0 = arm by the side, 90 = horizontal, 180 = overhead. Seen from the
  front this is shoulder abduction, seen from the side it is shoulder flexion (``*_abduction`` and
  ``*_flexion`` are accepted as names for the same 2-D measure);
* inclinations against the image vertical: ``trunk_lean`` (hip to shoulder against straight up:
  0 = upright, 90 = horizontal, 180 = head down), ``left_thigh`` / ``left_shin`` (hip to knee,
  knee to ankle against straight down: 0 = vertical, 90 = horizontal), ``left_arm`` (shoulder to
  wrist against straight down: 0 = hanging, 90 = horizontal, 180 = straight up).

Distances are divided by the torso length (mid-shoulder to mid-hip), which changes little with
the camera angle for the exercises here, so they compare across people, zoom and distance:
``hip_height`` (ankles to hips, vertical), ``left_wrist_height`` (wrist above the shoulder),
``stance_width`` (ankle to ankle), ``knee_ankle_ratio`` (knee gap over ankle gap: below about
0.7 the knees cave in), ``left_foot_lift`` (this ankle above the other), ``left_heel_lift``
(heel above the toes, in shin lengths) and ``hip_y`` (mid-hip height in the image, only
meaningful as a change over time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgepose.pose import Pose

SIDES = ("left", "right")

# Angles between three keypoints: name -> (a, vertex, b); "{s}" is the side.
_JOINT = {
    "knee": ("{s}_hip", "{s}_knee", "{s}_ankle"),
    "hip": ("{s}_shoulder", "{s}_hip", "{s}_knee"),
    "elbow": ("{s}_shoulder", "{s}_elbow", "{s}_wrist"),
    "shoulder": ("{s}_hip", "{s}_shoulder", "{s}_elbow"),
    "ankle": ("{s}_knee", "{s}_ankle", "{s}_foot_index"),
}
# Segment inclinations against straight down: name -> (from, to).
_SEGMENT = {
    "thigh": ("{s}_hip", "{s}_knee"),
    "shin": ("{s}_knee", "{s}_ankle"),
    "arm": ("{s}_shoulder", "{s}_wrist"),
}
# Accepted other names for a measure (the 2-D measure is the same).
ALIASES = {
    f"{s}_{alias}": f"{s}_shoulder" for s in SIDES for alias in ("shoulder_abduction", "shoulder_flexion")
}

SIDED = tuple(_JOINT) + tuple(_SEGMENT) + ("wrist_height", "foot_lift", "heel_lift")
UNSIDED = ("trunk_lean", "hip_height", "stance_width", "knee_ankle_ratio", "hip_y")
ANGLE_MEASURES = frozenset(
    [f"{s}_{n}" for s in SIDES for n in (*_JOINT, *_SEGMENT)] + ["trunk_lean"]
)
RATIO_MEASURES = frozenset(
    [f"{s}_{n}" for s in SIDES for n in ("wrist_height", "foot_lift", "heel_lift")]
    + ["hip_height", "stance_width", "knee_ankle_ratio", "hip_y"]
)
MEASURES = ANGLE_MEASURES | RATIO_MEASURES

# The keypoints each measure needs (for "unseen" joints on the overlay).
def _needs() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for s in SIDES:
        for n, pts in {**_JOINT, **_SEGMENT}.items():
            out[f"{s}_{n}"] = tuple(p.format(s=s) for p in pts)
        o = "right" if s == "left" else "left"
        out[f"{s}_wrist_height"] = (f"{s}_wrist", f"{s}_shoulder", "left_hip", "right_hip")
        out[f"{s}_foot_lift"] = (f"{s}_ankle", f"{o}_ankle", "left_shoulder", "right_shoulder")
        out[f"{s}_heel_lift"] = (f"{s}_heel", f"{s}_foot_index", f"{s}_knee", f"{s}_ankle")
    body = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
    out["trunk_lean"] = body
    out["hip_height"] = body + ("left_ankle", "right_ankle")
    out["stance_width"] = body + ("left_ankle", "right_ankle")
    out["knee_ankle_ratio"] = ("left_knee", "right_knee", "left_ankle", "right_ankle")
    out["hip_y"] = body
    return out


NEEDS: dict[str, tuple[str, ...]] = _needs()

# The joint (BlazePose name) a measure is drawn at on the overlay.
VERTEX: dict[str, str] = {
    **{f"{s}_{n}": f"{s}_{n}" for s in SIDES for n in ("knee", "hip", "elbow", "shoulder", "ankle")},
    **{f"{s}_thigh": f"{s}_knee" for s in SIDES},
    **{f"{s}_shin": f"{s}_ankle" for s in SIDES},
    **{f"{s}_arm": f"{s}_wrist" for s in SIDES},
    **{f"{s}_wrist_height": f"{s}_wrist" for s in SIDES},
    **{f"{s}_foot_lift": f"{s}_ankle" for s in SIDES},
    **{f"{s}_heel_lift": f"{s}_heel" for s in SIDES},
    "trunk_lean": "left_shoulder",
    "hip_height": "left_hip",
    "stance_width": "left_ankle",
    "knee_ankle_ratio": "left_knee",
    "hip_y": "left_hip",
}


def canonical(name: str) -> str:
    """The measure a name stands for (resolves aliases); unknown names come back unchanged."""
    return ALIASES.get(name, name)


def mirror_name(name: str) -> str:
    """The same measure on the other side of the body (``left_knee`` <-> ``right_knee``)."""
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


@dataclass(frozen=True)
class Measure:
    """One measure: its value and the confidence (0..1) that it was seen."""

    value: float
    conf: float


def _angle(a: np.ndarray, v: np.ndarray, b: np.ndarray) -> float | None:
    u, w = a - v, b - v
    nu, nw = float(np.hypot(*u)), float(np.hypot(*w))
    if nu < 1e-6 or nw < 1e-6:
        return None
    c = float(np.dot(u, w) / (nu * nw))
    return float(np.degrees(np.arccos(min(1.0, max(-1.0, c)))))


def _incline(p: np.ndarray, q: np.ndarray, ref: tuple[float, float]) -> float | None:
    """Angle in degrees between the segment p->q and the reference direction (image coords)."""
    d = q - p
    n = float(np.hypot(*d))
    if n < 1e-6:
        return None
    c = float((d[0] * ref[0] + d[1] * ref[1]) / n)
    return float(np.degrees(np.arccos(min(1.0, max(-1.0, c)))))


class _Kp:
    """Named access to a pose's keypoints, with visibility; missing joints have visibility 0."""

    def __init__(self, pose: Pose) -> None:
        self.pose = pose
        self.k = pose.keypoints

    def has(self, name: str) -> bool:
        try:
            self.pose.index(name)
            return True
        except KeyError:
            return False

    def p(self, name: str) -> np.ndarray:
        return self.k[self.pose.index(name), :2].astype(np.float64)

    def v(self, *names: str) -> float:
        vals = []
        for n in names:
            if not self.has(n):
                return 0.0
            vals.append(float(self.k[self.pose.index(n), 2]))
        return float(min(vals)) if vals else 0.0


def torso_length(pose: Pose) -> float:
    """Mid-shoulder to mid-hip distance in pixels (the body scale used by the ratios)."""
    kp = _Kp(pose)
    ms = (kp.p("left_shoulder") + kp.p("right_shoulder")) / 2
    mh = (kp.p("left_hip") + kp.p("right_hip")) / 2
    return float(np.hypot(*(ms - mh)))


def measure_pose(pose: Pose) -> dict[str, Measure]:
    """Every measure this pose allows, with its confidence.

    Measures whose keypoints the layout lacks (heels and toes in COCO-17) or whose geometry is
    degenerate (coincident points) are left out.
    """
    kp = _Kp(pose)
    out: dict[str, Measure] = {}
    for s in SIDES:
        for n, (a, v, b) in _JOINT.items():
            names = (a.format(s=s), v.format(s=s), b.format(s=s))
            if not all(kp.has(x) for x in names):
                continue
            ang = _angle(*(kp.p(x) for x in names))
            if ang is not None:
                out[f"{s}_{n}"] = Measure(ang, kp.v(*names))
        for n, (a, b) in _SEGMENT.items():
            pa, pb = a.format(s=s), b.format(s=s)
            ang = _incline(kp.p(pa), kp.p(pb), (0.0, 1.0))
            if ang is not None:
                out[f"{s}_{n}"] = Measure(ang, kp.v(pa, pb))

    ls, rs, lh, rh = (kp.p(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
    ms, mh = (ls + rs) / 2, (lh + rh) / 2
    body_v = kp.v("left_shoulder", "right_shoulder", "left_hip", "right_hip")
    # Visibility of a pair: the better side counts (a side view hides one of each pair).
    shoulder_v = max(kp.v("left_shoulder"), kp.v("right_shoulder"))
    hip_v = max(kp.v("left_hip"), kp.v("right_hip"))
    pair_v = min(shoulder_v, hip_v)
    torso = float(np.hypot(*(ms - mh)))
    lean = _incline(mh, ms, (0.0, -1.0))
    if lean is not None:
        out["trunk_lean"] = Measure(lean, pair_v)
    if torso < 1e-6:
        return out
    out["hip_y"] = Measure(float(-mh[1] / torso), pair_v)
    la, ra = kp.p("left_ankle"), kp.p("right_ankle")
    lav, rav = kp.v("left_ankle"), kp.v("right_ankle")
    if lav + rav > 0:
        ankle_y = (la[1] * lav + ra[1] * rav) / (lav + rav)
        out["hip_height"] = Measure(float((ankle_y - mh[1]) / torso), min(pair_v, max(lav, rav)))
    out["stance_width"] = Measure(float(np.hypot(*(la - ra)) / torso), min(body_v, lav, rav))
    gap = float(np.hypot(*(la - ra)))
    if gap > 0.05 * torso:
        knee_gap = float(np.hypot(*(kp.p("left_knee") - kp.p("right_knee"))))
        out["knee_ankle_ratio"] = Measure(knee_gap / gap, kp.v("left_knee", "right_knee", "left_ankle", "right_ankle"))
    for s in SIDES:
        o = "right" if s == "left" else "left"
        sh = kp.p(f"{s}_shoulder")
        out[f"{s}_wrist_height"] = Measure(
            float((sh[1] - kp.p(f"{s}_wrist")[1]) / torso), min(kp.v(f"{s}_wrist", f"{s}_shoulder"), hip_v)
        )
        out[f"{s}_foot_lift"] = Measure(
            float((kp.p(f"{o}_ankle")[1] - kp.p(f"{s}_ankle")[1]) / torso),
            min(kp.v(f"{s}_ankle", f"{o}_ankle"), pair_v),
        )
        if kp.has(f"{s}_heel") and kp.has(f"{s}_foot_index"):
            shin = float(np.hypot(*(kp.p(f"{s}_knee") - kp.p(f"{s}_ankle"))))
            if shin > 1e-6:
                out[f"{s}_heel_lift"] = Measure(
                    float((kp.p(f"{s}_foot_index")[1] - kp.p(f"{s}_heel")[1]) / shin),
                    kp.v(f"{s}_heel", f"{s}_foot_index", f"{s}_knee", f"{s}_ankle"),
                )
    return out


def combine_sides(ms: dict[str, Measure], base: str, how: str = "visible", min_conf: float = 0.5) -> Measure | None:
    """One value for a two-sided measure (``knee`` from ``left_knee`` and ``right_knee``).

    Parameters
    ----------
    how:
        ``"visible"``: the mean of the sides that were seen, weighted by how well (a side view
        then follows the near side); ``"max"`` / ``"min"``: the larger / smaller of the seen
        sides (e.g. the working arm of a one-arm exercise).
    min_conf:
        Sides below this confidence are not used; with neither seen the result is ``None``.
    """
    sides = [ms.get(f"{s}_{base}") for s in SIDES]
    seen = [m for m in sides if m is not None and m.conf >= min_conf]
    if not seen:
        return None
    if how == "max":
        return max(seen, key=lambda m: m.value)
    if how == "min":
        return min(seen, key=lambda m: m.value)
    w = np.array([(m.conf - min_conf + 0.05) ** 2 for m in seen])
    v = np.array([m.value for m in seen])
    return Measure(float((w * v).sum() / w.sum()), float(max(m.conf for m in seen)))


def angles_deg(pose: Pose, min_conf: float = 0.0) -> dict[str, float]:
    """The angle measures of a pose as plain floats (for display and JSON)."""
    return {k: round(m.value, 1) for k, m in measure_pose(pose).items() if k in ANGLE_MEASURES and m.conf >= min_conf}

"""The target pose as a stick figure, built from a program's own checks.

A program says what its pose is only as checks ("the left knee between 160 and 180 degrees",
"the right foot at least 0.35 torso lengths above the left"). :func:`target_figure` turns those
into a figure a person can copy: a 2-D body (torso length 1, mid-hip at the origin, y down) whose
segment angles are solved so that every check lies well inside its range, using the very
measures the live session judges (:func:`edgepose.evaluate.angles.measure_pose`), while the limbs
no check mentions stay in a relaxed standing position. Front-view programs get a figure facing
the camera (the person's left on the image right); side-view programs one seen from the side.

The figure is solved once per program (a few tens of milliseconds) and cached.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from edgepose.errors import Cancelled
from edgepose.evaluate.angles import _JOINT, _SEGMENT, ANGLE_MEASURES, _angle, _incline, measure_pose
from edgepose.pose import Pose
from edgepose.programs import Check, Program
from edgepose.skeleton import BLAZE_INDEX, BLAZEPOSE33

# Segment lengths in torso lengths (mid-shoulder to mid-hip = 1), roughly an adult's.
THIGH, SHIN, UPPER_ARM, FOREARM, FOOT, HEAD = 0.95, 0.9, 0.62, 0.55, 0.28, 0.42
_PARAMS = ("trunk", "left_thigh", "left_shin", "left_upper", "left_fore",
           "right_thigh", "right_shin", "right_upper", "right_fore")
INNER = 0.2  # aim this share of the range inside its ends (at most one margin)
RELAX = 0.03  # weight of staying near the relaxed stance, per radian squared
RELAX_W = np.array([0.3] + [RELAX] * 8)  # an upright trunk matters most to how a figure reads
GOOD_ENOUGH = 0.05  # below this the checks (and the side and floor terms) are met


@dataclass(frozen=True)
class Figure:
    """A target pose drawn as a body: BlazePose-33 keypoints in torso units.

    ``view`` is ``"front"`` (facing the camera) or ``"side"`` (facing image left); ``fit`` is
    the match score (0..1) of the figure against its own program, 1.0 when every check is met.
    """

    program: str
    pose: Pose
    view: str
    fit: float

    def placed(self, scale: float, origin: tuple[float, float], flip_x: bool = False) -> np.ndarray:
        """Keypoints ``(33, 2)`` in pixels: ``scale`` pixels per torso length, feet on ``origin``'s y.

        ``origin`` is ``(x_centre, y_floor)``: the figure is centred on x and its lowest point
        stands on y. ``flip_x`` draws it as in a mirror (a side figure facing right).
        """
        k = self.pose.keypoints[:, :2].copy()
        if flip_x:
            k[:, 0] = -k[:, 0]
        x0, x1 = k[:, 0].min(), k[:, 0].max()
        k[:, 0] -= (x0 + x1) / 2
        k[:, 1] -= k[:, 1].max()
        return k * scale + np.array(origin, dtype=np.float64)

    @property
    def size(self) -> tuple[float, float]:
        """Width and height in torso lengths."""
        k = self.pose.keypoints[:, :2]
        return float(np.ptp(k[:, 0])), float(np.ptp(k[:, 1]))


def _unit(a: float) -> np.ndarray:
    """Direction at angle ``a`` from straight down, positive towards image +x."""
    return np.array([math.sin(a), math.cos(a)])


def _relaxed(view: str) -> np.ndarray:
    arm = math.radians(8)
    if view == "side":
        return np.zeros(len(_PARAMS))
    return np.array([0.0, 0.0, 0.0, arm, arm, 0.0, 0.0, -arm, -arm])


def body(p: np.ndarray, view: str) -> np.ndarray:
    """The ``(33, 2)`` keypoints of a body with segment angles ``p`` (radians, see ``_PARAMS``)."""
    k = np.zeros((len(BLAZEPOSE33), 2))
    t = p[0]
    up = -_unit(t)  # hip -> shoulder
    across = np.array([math.cos(t), -math.sin(t)])  # towards the person's left (image +x) in front view
    hip_w, sh_w = (0.2, 0.38) if view == "front" else (0.03, 0.05)
    mid_sh = up * 1.0

    def put(name: str, xy: np.ndarray) -> None:
        k[BLAZE_INDEX[name]] = xy

    facing = np.array([-1.0, 0.0]) if view == "side" else np.zeros(2)  # side figures face image left
    for side, sign, off in (("left", 1.0, 0), ("right", -1.0, 4)):
        hip = across * sign * hip_w
        sh = mid_sh + across * sign * sh_w
        knee = hip + _unit(p[1 + off]) * THIGH
        ankle = knee + _unit(p[2 + off]) * SHIN
        elbow = sh + _unit(p[3 + off]) * UPPER_ARM
        wrist = elbow + _unit(p[4 + off]) * FOREARM
        foot_dir = facing if view == "side" else np.array([sign * 0.5, 0.3])
        foot_dir = foot_dir / (np.hypot(*foot_dir) or 1.0)
        put(f"{side}_hip", hip)
        put(f"{side}_shoulder", sh)
        put(f"{side}_knee", knee)
        put(f"{side}_ankle", ankle)
        put(f"{side}_heel", ankle + np.array([0.0, 0.08]) - foot_dir * 0.06)
        put(f"{side}_foot_index", ankle + np.array([0.0, 0.1]) + foot_dir * FOOT)
        put(f"{side}_elbow", elbow)
        put(f"{side}_wrist", wrist)
        hand = _unit(p[4 + off]) * 0.12
        for n in ("pinky", "index", "thumb"):
            put(f"{side}_{n}", wrist + hand)
    head = mid_sh + up * HEAD
    eye = across * 0.08 if view == "front" else np.zeros(2)
    fwd = facing * 0.1
    put("nose", head + fwd)
    for n, s in (("left_eye", 1), ("left_eye_inner", 0.6), ("left_eye_outer", 1.4)):
        put(n, head + up * 0.06 + eye * s + fwd)
        put(n.replace("left", "right"), head + up * 0.06 - eye * s + fwd)
    put("left_ear", head + up * 0.03 + (across * 0.16 if view == "front" else -fwd))
    put("right_ear", head + up * 0.03 - (across * 0.16 if view == "front" else fwd))
    put("mouth_left", head - up * 0.06 + eye * 0.5 + fwd)
    put("mouth_right", head - up * 0.06 - eye * 0.5 + fwd)
    return k


def _aim(c: Check) -> tuple[float, float]:
    """The part of a check's range the figure aims for: a little inside both ends."""
    span = c.hi - c.lo
    lo_lim, hi_lim = (0.0, 180.0) if c.measure in ANGLE_MEASURES else (-10.0, 10.0)
    lo = c.lo if c.lo <= lo_lim else c.lo + min(INNER * span, c.margin)
    hi = c.hi if c.hi >= hi_lim else c.hi - min(INNER * span, c.margin)
    return lo, max(lo, hi)


def measures_of(k: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    """The values of the measures ``names`` on a fully seen body ``k`` (33, 2).

    The same formulas as :func:`edgepose.evaluate.angles.measure_pose` (tests check they agree),
    computed only for the measures asked for: the solver calls this thousands of times.
    """
    ix = BLAZE_INDEX
    out: dict[str, float] = {}
    ms = (k[ix["left_shoulder"]] + k[ix["right_shoulder"]]) / 2
    mh = (k[ix["left_hip"]] + k[ix["right_hip"]]) / 2
    torso = float(np.hypot(*(ms - mh))) or 1e-6
    for n in names:
        side, _, base = n.partition("_")
        if side in ("left", "right") and base in _JOINT:
            a, v, b = (k[ix[x.format(s=side)]] for x in _JOINT[base])
            ang = _angle(a, v, b)
            if ang is not None:
                out[n] = ang
        elif side in ("left", "right") and base in _SEGMENT:
            a, b = (k[ix[x.format(s=side)]] for x in _SEGMENT[base])
            ang = _incline(a, b, (0.0, 1.0))
            if ang is not None:
                out[n] = ang
        elif n == "trunk_lean":
            ang = _incline(mh, ms, (0.0, -1.0))
            if ang is not None:
                out[n] = ang
        elif n == "stance_width":
            out[n] = float(np.hypot(*(k[ix["left_ankle"]] - k[ix["right_ankle"]])) / torso)
        elif n == "hip_height":
            out[n] = float(((k[ix["left_ankle"], 1] + k[ix["right_ankle"], 1]) / 2 - mh[1]) / torso)
        elif side in ("left", "right") and base == "foot_lift":
            o = "right" if side == "left" else "left"
            out[n] = float((k[ix[f"{o}_ankle"], 1] - k[ix[f"{side}_ankle"], 1]) / torso)
        elif side in ("left", "right") and base == "wrist_height":
            out[n] = float((k[ix[f"{side}_shoulder"], 1] - k[ix[f"{side}_wrist"], 1]) / torso)
    return out


def _cost(p: np.ndarray, checks: tuple[Check, ...], view: str, relaxed: np.ndarray) -> float:
    k = body(p, view)
    ms = measures_of(k, tuple(c.measure for c in checks))
    total = 0.0
    for c in checks:
        value = ms.get(c.measure)
        if value is None:
            total += c.weight
            continue
        lo, hi = _aim(c)
        e = (lo - value) if value < lo else (value - hi if value > hi else 0.0)
        total += c.weight * (e / c.margin) ** 2
    # stay near the relaxed stance; keep the feet below the hips (no floating legs)
    total += float((RELAX_W * (p - relaxed) ** 2).sum())
    hip_y = max(k[BLAZE_INDEX["left_hip"], 1], k[BLAZE_INDEX["right_hip"], 1])
    low_foot = max(k[BLAZE_INDEX["left_ankle"], 1], k[BLAZE_INDEX["right_ankle"], 1])
    if low_foot < hip_y + 0.3:
        total += 5.0 * (hip_y + 0.3 - low_foot) ** 2
    if view == "side":
        # a side figure faces image left: its knees bend forwards (to the left of the hip-ankle
        # line) and its trunk leans forwards, never backwards (2-D angles do not say which way)
        for side in ("left", "right"):
            hip, knee, ankle = (k[BLAZE_INDEX[f"{side}_{j}"]] for j in ("hip", "knee", "ankle"))
            ahead = (hip[0] + ankle[0]) / 2 - knee[0]
            if ahead < 0:
                total += 20.0 * ahead ** 2
        if p[0] < 0:
            total += 20.0 * p[0] ** 2
    if view == "front":
        # 2-D angles do not say which way a limb points: keep each arm and knee on its own side
        # of the body (a foot may still cross to rest on the other leg, as in tree pose)
        for side, sign in (("left", 1.0), ("right", -1.0)):
            for part, limit in (("wrist", 0.05), ("elbow", 0.15), ("knee", 0.0)):
                x = sign * k[BLAZE_INDEX[f"{side}_{part}"], 0]
                if x < limit:
                    total += 20.0 * (limit - x) ** 2
    return total


def _seed(checks: tuple[Check, ...], view: str, relaxed: np.ndarray) -> np.ndarray:
    """A start near the answer: segments a check names directly set to their aimed angle, outwards."""
    p = relaxed.copy()
    slot = {"thigh": 1, "shin": 2, "arm": 3, "shoulder": 3}
    for c in checks:
        lo, hi = _aim(c)
        mid = math.radians((lo + hi) / 2)
        if c.measure == "trunk_lean":
            p[0] = mid
            continue
        side, _, base = c.measure.partition("_")
        if side not in ("left", "right") or base not in slot:
            continue
        sign = (1.0 if side == "left" else -1.0) if view == "front" else -1.0
        off = 0 if side == "left" else 4
        i = slot[base] + off
        if base in ("arm", "shoulder"):
            p[i] = p[i + 1] = sign * mid
        else:
            p[i] = sign * mid
            if base == "thigh":
                p[i + 1] = sign * mid * 0.3
    return p


def solve_figure(checks: tuple[Check, ...], view: str, name: str = "", cancel: threading.Event | None = None) -> Figure:
    """The figure whose measures meet ``checks`` (see the module docstring).

    ``cancel``, when set, stops the solve at its next step (raises :class:`Cancelled`), so a
    session that ends does not wait for, or compete with, a figure nobody will see.
    """
    from scipy.optimize import minimize

    from edgepose.evaluate.match import match_checks

    view = "side" if view == "side" else "front"
    relaxed = _relaxed(view)
    starts = [_seed(checks, view, relaxed), relaxed]
    rng = np.random.default_rng(7)
    for _ in range(4):
        starts.append(starts[0] + rng.normal(0, 0.6, len(relaxed)))
    best = None
    for s in starts:
        if cancel is not None and cancel.is_set():
            raise Cancelled(name)

        def check_cancel(*_: object) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled(name)

        r = minimize(_cost, s, args=(checks, view, relaxed), method="Powell", callback=check_cancel,
                     options={"xtol": 1e-2, "ftol": 1e-3, "maxfev": 1500})
        if best is None or r.fun < best.fun:
            best = r
        if _cost(best.x, checks, view, best.x) < GOOD_ENOUGH:
            break  # every check met (the relaxed-stance term left out): no need to try further starts
    assert best is not None
    k = body(best.x, view)
    pose = Pose(np.column_stack([k, np.ones(len(k))]).astype(np.float32), 1.0)
    fit = match_checks(name, checks, measure_pose(pose), either_side=False).score
    return Figure(name, pose, view, round(float(fit), 3))


_CACHE: dict[tuple, Figure] = {}
_CACHE_LOCK = threading.Lock()


def target_figure(program: Program, cancel: threading.Event | None = None) -> Figure:
    """The target figure of a pose program (solved once per program and process)."""
    if not program.checks:
        raise ValueError(f"program {program.name!r} has no target checks to draw a figure from")
    key = (program.name, program.checks, program.view)
    with _CACHE_LOCK:
        fig = _CACHE.get(key)
    if fig is None:
        fig = solve_figure(program.checks, program.view, program.name, cancel)
        with _CACHE_LOCK:
            _CACHE[key] = fig
    return fig

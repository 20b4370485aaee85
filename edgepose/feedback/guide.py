"""Target-pose guidance on the live view: what to copy, what is off, which way to move.

On top of the camera frame :class:`Guide` draws, for the person being coached:

* their limbs coloured whole (green on target, amber near, red off; grey when not seen),
* the joint to move ringed, with an arrow the way it should go (the direction in the image that
  brings the worst check back into its range, found from the same measures the session judges),
* a small reference figure of the target pose beside them (:mod:`edgepose.feedback.figure`),
  scaled to their body and mirrored when they do the pose on the other side, its limb that needs
  fixing in the same red,
* a hold timer counting towards the program's hold goal, and a short "Pose held" confirmation.

Pure OpenCV drawing on BGR ``uint8`` frames; text and lines are sized to the frame
(:func:`edgepose.feedback.overlay.ui_scale`), so it reads at 320x240 and at 1080p alike.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from edgepose.evaluate.angles import mirror_name
from edgepose.evaluate.sides import sided
from edgepose.feedback.figure import Figure, target_figure
from edgepose.pose import Pose
from edgepose.programs import Program

# BGR colours of a limb's state.
COLORS = {"on": (60, 200, 40), "near": (0, 170, 255), "off": (40, 40, 230), "unseen": (150, 150, 150)}
FIGURE_COLOR = (235, 235, 235)
RANK = {"unseen": 0, "on": 1, "near": 2, "off": 3}
HELD_SHOW_S = 3.0
STATS_W, STATS_BOTTOM = 236, 180  # the HUD's stats box: its width and lower edge (size units)
MIN_FIGURE_H = 0.3  # the figure is at least this share of the frame's height
MIN_SCALE = 0.62  # below this Hershey text at the sizes used here is no longer legible

_LEG = ("{s}_hip", "{s}_knee"), ("{s}_knee", "{s}_ankle"), ("{s}_ankle", "{s}_heel"), ("{s}_heel", "{s}_foot_index"), \
    ("{s}_ankle", "{s}_foot_index")
_ARM = ("{s}_shoulder", "{s}_elbow"), ("{s}_elbow", "{s}_wrist")
_TORSO = (("left_shoulder", "right_shoulder"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
          ("left_hip", "right_hip"))
_HEAD = (("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"))


def _side_edges(template: tuple, side: str) -> list[tuple[str, str]]:
    return [(a.format(s=side), b.format(s=side)) for a, b in template]


def limb_edges(measure: str) -> list[tuple[str, str]]:
    """The skeleton edges a measure is about: a whole leg, arm or the torso."""
    side = measure.split("_", 1)[0] if measure.startswith(("left_", "right_")) else None
    base = measure.split("_", 1)[1] if side else measure
    if side and base in ("knee", "thigh", "shin", "foot_lift", "heel_lift", "ankle"):
        return _side_edges(_LEG, side)
    if side and base == "hip":
        return _side_edges(_LEG[:2], side) + [(f"{side}_shoulder", f"{side}_hip")]
    if side and base in ("elbow", "arm", "wrist_height", "shoulder"):
        return _side_edges(_ARM, side)
    if base == "trunk_lean":
        return list(_TORSO)
    if base in ("stance_width", "knee_ankle_ratio", "hip_height"):
        return _side_edges(_LEG, "left") + _side_edges(_LEG, "right")
    return []


def moving_point(measure: str) -> list[str]:
    """The keypoint(s) a person moves to change ``measure`` (the far end of the limb)."""
    side = measure.split("_", 1)[0] if measure.startswith(("left_", "right_")) else None
    base = measure.split("_", 1)[1] if side else measure
    far = {"knee": "ankle", "hip": "knee", "elbow": "wrist", "shoulder": "elbow", "ankle": "foot_index",
           "thigh": "knee", "shin": "ankle", "arm": "wrist", "wrist_height": "wrist", "foot_lift": "ankle",
           "heel_lift": "heel"}
    if side and base in far:
        return [f"{side}_{far[base]}"]
    if base == "trunk_lean":
        return ["left_shoulder", "right_shoulder"]
    if base in ("stance_width", "hip_height"):
        return ["left_ankle", "right_ankle"]
    if base == "knee_ankle_ratio":
        return ["left_knee", "right_knee"]
    return []


def ui_scale(img: np.ndarray) -> float:
    """A size unit for this frame: 1.0 at 720 lines, never so small that text becomes unreadable."""
    h, w = img.shape[:2]
    return max(min(h, w * 9 / 16) / 720.0, MIN_SCALE)


@dataclass(frozen=True)
class Advice:
    """What the guide found for one pose: limb states, the check to fix and its arrow."""

    edges: dict[tuple[str, str], str]
    focus: str | None  # the measure to fix (as judged, i.e. mirrored when the mirror fitted)
    points: tuple[str, ...]  # keypoints to move
    direction: tuple[float, float] | None  # unit vector in the image
    mirrored: bool
    score: float


def _excess(prog_check: Any, value: float) -> float:
    if value < prog_check.lo:
        return (prog_check.lo - value) / prog_check.margin
    if value > prog_check.hi:
        return (value - prog_check.hi) / prog_check.margin
    return 0.0


def advise(program: Program, pose: Pose, cue: str | None = None, min_conf: float = 0.5) -> Advice:
    """Judge ``pose`` against ``program`` and say which limb to move which way.

    The check to fix is the one whose cue is ``cue`` (the session's active cue), else the worst
    one off or near target. Its direction is the image direction of the moving keypoint(s) that
    reduces the check's excess fastest (a numerical gradient of the real measure).
    """
    from edgepose.evaluate.angles import measure_pose
    from edgepose.evaluate.match import match_program

    ms = measure_pose(pose)
    res = match_program(program, ms, min_conf)
    if cue:
        # the cue on screen was chosen over the last seconds: show the side it names, so the
        # figure, the arrow and the words agree while a moving person flips between sides
        for mirrored in (res.mirrored, not res.mirrored):
            r = res if mirrored == res.mirrored else _match_side(program, ms, mirrored, min_conf)
            if any(c.cue and sided(c.cue, mirrored) == cue for c in r.checks if c.state in ("off", "near")):
                res = r
                break
    edges: dict[tuple[str, str], str] = {}
    for c in res.checks:
        for e in limb_edges(c.measure):
            if RANK[c.state] >= RANK.get(edges.get(e, "unseen"), 0):
                edges[e] = c.state
    bad = [c for c in res.checks if c.state in ("off", "near")]
    chosen = next((c for c in bad if cue and c.cue and sided(c.cue, res.mirrored) == cue), None)
    if chosen is None and bad:
        chosen = max(bad, key=lambda c: c.excess * c.check.weight)
    if chosen is None:
        return Advice(edges, None, (), None, res.mirrored, res.score)
    pts = tuple(p for p in moving_point(chosen.measure) if p in pose.names)
    direction = _direction(pose, chosen, pts, ms)
    return Advice(edges, chosen.measure, pts, direction, res.mirrored, res.score)


def _match_side(program: Program, ms: dict, mirrored: bool, min_conf: float) -> Any:
    """The program's match judged on one side only (``mirrored``: left and right swapped)."""
    import dataclasses

    from edgepose.evaluate.match import MatchResult, match_checks

    checks = tuple(dataclasses.replace(c, measure=mirror_name(c.measure)) for c in program.checks) if mirrored \
        else program.checks
    r = match_checks(program.name, checks, ms, either_side=False, min_conf=min_conf)
    return MatchResult(r.program, r.score, mirrored, r.checks)


def _direction(pose: Pose, chosen: Any, pts: tuple[str, ...], ms: dict) -> tuple[float, float] | None:
    from edgepose.evaluate.angles import measure_pose, torso_length

    if not pts or chosen.value is None:
        return None
    step = max(1.0, 0.05 * torso_length(pose))
    idx = [pose.index(p) for p in pts]
    base = _excess(chosen.check, chosen.value)
    grad = np.zeros(2)
    for d in range(2):
        k = pose.keypoints.copy()
        sign = np.ones(len(idx))
        if chosen.measure in ("stance_width", "knee_ankle_ratio") and len(idx) == 2:
            sign = np.array([1.0, -1.0])  # the two feet (knees) move apart or together
        k[idx, d] += step * sign
        m = measure_pose(Pose(k, pose.score, pose.layout)).get(chosen.measure)
        if m is None:
            return None
        grad[d] = (_excess(chosen.check, m.value) - base) / step
    n = float(np.hypot(*grad))
    if n < 1e-9:
        return None
    g = -grad / n
    return float(g[0]), float(g[1])


class Guide:
    """Draws the target-pose guidance for one program (see the module docstring).

    The reference figure is solved on a background thread when the guide is made; until it is
    ready the rest of the guidance is drawn without it.
    """

    def __init__(self, program: Program) -> None:
        self.program = program
        self.figure: Figure | None = None
        self._held_at: float | None = None
        self._was_held = False
        self._cancel = threading.Event()
        self.figure_box: tuple[int, int, int, int] | None = None  # where the figure was last drawn
        if program.checks:
            threading.Thread(target=self._solve, name="edgepose-figure", daemon=True).start()

    def _solve(self) -> None:
        from edgepose.feedback.figure import Cancelled

        try:
            self.figure = target_figure(self.program, self._cancel)
        except Cancelled:
            pass

    def close(self) -> None:
        """Stop solving the figure (idempotent)."""
        self._cancel.set()

    def wait_figure(self, timeout: float = 30.0) -> Figure | None:
        """Block until the figure is solved (tests, stills)."""
        import time

        end = time.monotonic() + timeout
        while self.figure is None and self.program.checks and time.monotonic() < end:
            time.sleep(0.02)
        return self.figure

    # ------------------------------------------------------------------ drawing
    def draw(self, img: np.ndarray, pose: Pose | None, cue: str | None = None, hold_s: float = 0.0,
             t: float = 0.0, min_visibility: float = 0.5) -> Advice | None:
        """Draw the guidance for ``pose`` onto ``img`` in place; returns what it judged."""
        sc = ui_scale(img)
        adv = None
        self.figure_box = None
        if pose is not None:
            adv = advise(self.program, pose, cue)
            self._draw_limbs(img, pose, adv, sc, min_visibility)
            if adv.direction is not None and adv.points:
                self._draw_arrow(img, pose, adv, sc)
        self._draw_figure(img, pose, adv, sc)
        self._draw_hold(img, hold_s, t, sc)
        return adv

    def _draw_limbs(self, img: np.ndarray, pose: Pose, adv: Advice, sc: float, min_vis: float) -> None:
        th = max(2, round(6 * sc))
        k = pose.keypoints
        for a, b in _TORSO + tuple(e for s in ("left", "right") for e in _side_edges(_LEG + _ARM, s)):
            if a not in pose.names or b not in pose.names:
                continue
            ia, ib = pose.index(a), pose.index(b)
            if not (np.isfinite(k[[ia, ib], :2]).all()):
                continue
            seen = k[ia, 2] >= min_vis and k[ib, 2] >= min_vis
            state = adv.edges.get((a, b)) or adv.edges.get((b, a))
            color = COLORS["unseen"] if not seen else COLORS.get(state or "", (215, 215, 215))
            pa, pb = tuple(np.round(k[ia, :2]).astype(int)), tuple(np.round(k[ib, :2]).astype(int))
            t = th if state else max(1, th // 2)
            cv2.line(img, pa, pb, (20, 20, 20), t + max(2, t // 2), cv2.LINE_AA)
            cv2.line(img, pa, pb, color, t, cv2.LINE_AA)

    def _draw_arrow(self, img: np.ndarray, pose: Pose, adv: Advice, sc: float) -> None:
        from edgepose.evaluate.angles import torso_length

        assert adv.direction is not None
        xy = np.mean([pose.xy(p) for p in adv.points], axis=0)
        tl = torso_length(pose) or 100.0
        length = float(np.clip(0.7 * tl, 30 * sc, 160 * sc))
        d = np.array(adv.direction)
        r = max(4, min(round(16 * sc), round(0.3 * tl)))  # a ring about the size of the joint, not of the person
        start = xy + d * (r + 2)
        end = xy + d * (r + length)
        c = tuple(int(v) for v in np.round(xy))
        th = max(2, min(round(5 * sc), round(0.12 * tl)))
        cv2.circle(img, c, r + th, (20, 20, 20), th + 2, cv2.LINE_AA)
        cv2.circle(img, c, r + th, (0, 235, 255), th, cv2.LINE_AA)
        s, e = tuple(int(v) for v in np.round(start)), tuple(int(v) for v in np.round(end))
        tip = min(0.45, max(0.2, 28 * sc / max(1.0, length)))
        cv2.arrowedLine(img, s, e, (20, 20, 20), th + 3, cv2.LINE_AA, tipLength=tip)
        cv2.arrowedLine(img, s, e, (0, 235, 255), th, cv2.LINE_AA, tipLength=tip)

    def _figure_box(self, img: np.ndarray, pose: Pose | None, fig: Figure, sc: float) -> tuple[float, int, int, int]:
        """(scale px per torso, x centre, y floor, panel width) for the figure beside the person.

        The figure goes on the side of the person with more room, as tall as the person (a little
        smaller); when the person fills the frame it shrinks into that side's corner.
        """
        from edgepose.evaluate.angles import torso_length

        h, w = img.shape[:2]
        fw, fh = fig.size
        # clear of the hold timer and its label (down to 110 size units) with the panel's own
        # "Target" label (26 units, and the head's room, 0.2 torso, above the figure), and of the cue bar
        top, bottom = int(136 * sc), h - int(74 * sc)
        margin = int(8 * sc)
        fh_label = fh + 0.2   # the figure's height with the head's room above it, in torsos
        scale = max(4.0, (bottom - top - 30 * sc) / fh_label)
        room_l, room_r = float(w), float(w)
        floor = bottom
        if pose is not None:
            tl = torso_length(pose)
            if tl > 0:
                # as tall as the person, a little smaller; but never too small to read (a person far
                # from the camera gets a figure taller than them)
                scale = min(scale, max(0.8 * tl, MIN_FIGURE_H * h / fh))
            x0, y0, bw, bh = pose.box(0.3)  # (x, y, w, h)
            x1 = x0 + bw
            room_l, room_r = max(0.0, x0), max(0.0, w - x1)
            # stand the figure on the person's floor line, as far as the screen allows
            floor = int(min(bottom, max(top + fh_label * scale + 30 * sc, y0 + bh)))
        left = room_l > room_r
        room = max(room_l, room_r) - 2 * margin
        min_w = 0.16 * w
        if fw * scale + 24 * sc > max(room, min_w):
            scale = max(4.0, (max(room, min_w) - 24 * sc) / fw)
        for _ in range(2):
            panel_w = int(fw * scale + 24 * sc)
            if pose is None:
                xc = int(w - panel_w / 2 - margin)
            elif left:
                xc = int(max(panel_w / 2 + margin, room_l - panel_w / 2 - margin))
            else:
                xc = int(min(w - panel_w / 2 - margin, w - room_r + panel_w / 2 + margin))
            if xc + panel_w / 2 <= w - STATS_W * sc:
                break
            # under the stats box (time, score) on the right: start below it
            scale = min(scale, max(4.0, (bottom - STATS_BOTTOM * sc - 30 * sc) / fh_label))
        return scale, xc, min(floor, bottom - margin), panel_w

    def _draw_figure(self, img: np.ndarray, pose: Pose | None, adv: Advice | None, sc: float) -> None:
        fig = self.figure
        if fig is None:
            return
        scale, xc, floor, panel_w = self._figure_box(img, pose, fig, sc)
        if scale * fig.size[1] < 40:
            return  # no room for a figure anyone could read
        mirrored = bool(adv and adv.mirrored)
        flip = False
        if fig.view == "side" and pose is not None:
            flip = _faces_right(pose)
        pts = fig.placed(scale, (xc, floor), flip_x=flip)
        names = fig.pose.names
        if mirrored and fig.view == "front":
            # the person does it on the other side: the mirror image, with sides renamed
            pts[:, 0] = 2 * xc - pts[:, 0]
        top = int(pts[:, 1].min() - 0.2 * scale - 26 * sc)  # room for the head circle and the label
        x0, x1 = int(xc - panel_w / 2), int(xc + panel_w / 2)
        self.figure_box = (max(0, x0), max(0, top), max(0, x1), max(0, floor + int(6 * sc)))
        roi = img[max(0, top):max(0, floor + int(6 * sc)), max(0, x0):max(0, x1)]
        roi[:] = (roi.astype(np.float32) * 0.45).astype(np.uint8)
        put_text(img, "Target", (x0 + int(6 * sc), top + int(20 * sc)), 0.7 * sc, (255, 255, 255))
        th = max(2, round(4 * sc))
        focus_edges = set(limb_edges(adv.focus)) if adv and adv.focus else set()
        if mirrored and fig.view == "front":
            focus_edges = {(mirror_name(a), mirror_name(b)) for a, b in focus_edges}
        idx = {n: i for i, n in enumerate(names)}
        for a, b in _TORSO + _HEAD + tuple(e for s in ("left", "right") for e in _side_edges(_LEG + _ARM, s)):
            pa = tuple(int(v) for v in np.round(pts[idx[a]]))
            pb = tuple(int(v) for v in np.round(pts[idx[b]]))
            color = COLORS["off"] if (a, b) in focus_edges else FIGURE_COLOR
            cv2.line(img, pa, pb, color, th, cv2.LINE_AA)
        head = np.mean([pts[idx["left_ear"]], pts[idx["right_ear"]], pts[idx["nose"]]], axis=0)
        cv2.circle(img, tuple(int(v) for v in np.round(head)), max(3, round(0.17 * scale)), FIGURE_COLOR, th, cv2.LINE_AA)

    def _draw_hold(self, img: np.ndarray, hold_s: float, t: float, sc: float) -> None:
        goal = self.program.hold_target_s
        h, w = img.shape[:2]
        held = hold_s >= goal
        if held and not self._was_held:
            self._held_at = t
        self._was_held = held
        bw, bh = int(min(0.42 * w, 330 * sc)), max(6, int(16 * sc))
        x0, y0 = int(12 * sc), int(56 * sc)
        cv2.rectangle(img, (x0 - 2, y0 - 2), (x0 + bw + 2, y0 + bh + 2), (20, 20, 20), -1)
        frac = min(1.0, hold_s / goal) if goal else 0.0
        cv2.rectangle(img, (x0, y0), (x0 + int(bw * frac), y0 + bh), COLORS["on"], -1)
        label = f"Hold {int(min(hold_s, goal))} of {int(goal)} s" if hold_s > 0 else f"Hold the pose for {int(goal)} s"
        put_text(img, label, (x0, y0 + bh + int(30 * sc)), 0.85 * sc, (255, 255, 255))
        if self._held_at is not None and 0 <= t - self._held_at < HELD_SHOW_S:
            msg = "Pose held - well done!"
            s = 1.2 * sc
            (tw, tht), _ = cv2.getTextSize(msg, cv2.FONT_HERSHEY_SIMPLEX, s, max(1, round(2.5 * sc)))
            while tw > 0.9 * w and s > 0.3:
                s *= 0.9
                (tw, tht), _ = cv2.getTextSize(msg, cv2.FONT_HERSHEY_SIMPLEX, s, max(1, round(2.5 * sc)))
            cx, cy = (w - tw) // 2, h // 3
            pad = int(14 * sc)
            cv2.rectangle(img, (cx - pad, cy - tht - pad), (cx + tw + pad, cy + pad), (40, 120, 30), -1)
            put_text(img, msg, (cx, cy), s, (255, 255, 255))


def put_text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, color: tuple[int, int, int]) -> None:
    """Text with a dark outline, its weight following its size."""
    th = max(1, round(scale * 2.2))
    # the outline is the same strokes shifted (a thicker stroke would advance the glyphs differently
    # and draw a doubled, blurred word)
    x, y = org
    for dx, dy in ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)):
        cv2.putText(img, text, (x + dx, y + dy), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), th, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, th, cv2.LINE_AA)


def _faces_right(pose: Pose) -> bool:
    """Whether a side-on person faces image right (nose ahead of the hips)."""
    try:
        hip_x = (pose.xy("left_hip")[0] + pose.xy("right_hip")[0]) / 2
        return bool(pose.xy("nose")[0] > hip_x)
    except KeyError:
        return False


def coached_pose(poses: Sequence[Pose], box: tuple[float, float, float, float] | None) -> Pose | None:
    """The pose the session coaches: the one whose box is ``box`` (the session's pick), else the first."""
    if not poses:
        return None
    if box is None:
        return poses[0]

    def dist(p: Pose) -> float:
        b = p.box(0.3)
        return sum(abs(x - y) for x, y in zip(b, box, strict=True))

    return min(poses, key=dist)



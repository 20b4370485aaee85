"""Draw the live view: skeleton with per-joint form colours and a heads-up display.

Pure OpenCV on BGR ``uint8`` images; the input frame is not modified (a copy is returned), so the
same frame can also go to a recorder.

Joint colours (BGR) say how each joint compares with the program's target:

=========  =========  ==================================================
status     colour     meaning
=========  =========  ==================================================
on         green      within tolerance
near       amber      close: a small correction
off        red        outside tolerance: the cue is about this joint
unseen     grey ring  not visible enough to judge (hollow, image shows through)
(none)     white      not part of the current target
=========  =========  ==================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edgepose.evaluate.feedback import JointStatus
from edgepose.pose import Pose
from edgepose.skeleton import BLAZE_EDGES, COCO_EDGES

STATUS_COLORS: dict[str, tuple[int, int, int]] = {
    JointStatus.ON: (60, 200, 40),
    JointStatus.NEAR: (0, 170, 255),
    JointStatus.OFF: (40, 40, 230),
    JointStatus.UNSEEN: (150, 150, 150),
}
NEUTRAL = (235, 235, 235)
EDGE_COLOR = (210, 210, 210)
OUTLINE = (20, 20, 20)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class Hud:
    """What the heads-up display shows; ``None`` fields are left out."""

    program: str = ""
    state: str = ""
    cue: str = ""
    reps: int | None = None
    elapsed_s: float | None = None
    score: float | None = None  # 0..100
    countdown_s: float | None = None  # shown big in the centre while counting down


MIN_SCALE = 0.62  # the smallest size unit: Hershey text below it stops being legible on a 320x240 frame


def _scale(img: np.ndarray) -> float:
    """The size unit of text and bars: 1.0 on 720 lines (16:9), never below :data:`MIN_SCALE`."""
    h, w = img.shape[:2]
    return max(MIN_SCALE, min(h, w * 9 / 16) / 720.0)


def joint_radius(img: np.ndarray) -> int:
    """Radius of a joint dot for this image size."""
    return max(3, round(min(img.shape[:2]) / 110))


def draw_skeleton(
    img: np.ndarray,
    pose: Pose,
    joint_status: Mapping[str, str] | None = None,
    min_visibility: float = 0.5,
) -> np.ndarray:
    """Draw one pose onto ``img`` in place and return it.

    Parameters
    ----------
    joint_status:
        Joint name → a :class:`~edgepose.evaluate.feedback.JointStatus` (``"on"``, ``"near"``,
        ``"off"`` or ``"unseen"``). Joints not named are
        drawn white. A joint below ``min_visibility`` is drawn as unseen whatever its status.
    """
    status = dict(joint_status or {})
    for name, s in status.items():
        if s not in STATUS_COLORS:
            raise ValueError(f"joint {name!r}: unknown status {s!r}; use {', '.join(STATUS_COLORS)}")
        pose.index(name)  # raises with the list of joint names
    k = pose.keypoints
    # Dots sized for the image, but never so large that they hide a small, distant person:
    # at most about a fortieth of the person's height.
    body = k[k[:, 2] >= min_visibility] if (k[:, 2] >= min_visibility).any() else k
    height = float(np.nan_to_num(body[:, 1].max() - body[:, 1].min()))
    r = max(1, min(joint_radius(img), round(height / 40)))
    thick = max(1, min(max(2, r // 2), round(height / 60)))
    names = pose.names
    edges = BLAZE_EDGES if pose.layout == "blazepose33" else COCO_EDGES
    seen = (k[:, 2] >= min_visibility) & np.array([status.get(n) != JointStatus.UNSEEN for n in names])
    finite = np.isfinite(k[:, :2]).all(axis=1)
    pts = np.round(np.nan_to_num(k[:, :2])).astype(np.int32)
    for a, b in edges:
        if seen[a] and seen[b] and finite[a] and finite[b]:
            sa, sb = status.get(names[a]), status.get(names[b])
            color = STATUS_COLORS[sa] if sa is not None and sa == sb else EDGE_COLOR
            cv2.line(img, tuple(map(int, pts[a])), tuple(map(int, pts[b])), color, thick, cv2.LINE_AA)
    drawn = {i for e in edges for i in e} | {pose.index(n) for n in status}
    for i in sorted(drawn):
        if not finite[i]:
            continue
        c = (int(pts[i, 0]), int(pts[i, 1]))
        s = status.get(names[i])
        if not seen[i]:
            cv2.circle(img, c, r, STATUS_COLORS[JointStatus.UNSEEN], max(1, r // 3), cv2.LINE_8)
            continue
        color = STATUS_COLORS[s] if s is not None else NEUTRAL
        cv2.circle(img, c, r + 1, OUTLINE, -1, cv2.LINE_AA)
        cv2.circle(img, c, r, color, -1, cv2.LINE_8)
    return img


def _shade(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, alpha: float = 0.55) -> None:
    h, w = img.shape[:2]
    x0, x1 = max(0, x0), min(w, x1)
    y0, y1 = max(0, y0), min(h, y1)
    if x1 > x0 and y1 > y0:
        roi = img[y0:y1, x0:x1]
        roi[:] = (roi.astype(np.float32) * (1 - alpha)).astype(np.uint8)


def _fit(text: str, max_w: int, scale: float, thick: int) -> tuple[str, float]:
    """Shrink (down to 60%) and then cut the text so it fits ``max_w`` pixels."""
    s = scale
    while s > scale * 0.6 and cv2.getTextSize(text, _FONT, s, thick)[0][0] > max_w:
        s *= 0.9
    while text and cv2.getTextSize(text, _FONT, s, thick)[0][0] > max_w:
        text = text[:-4] + "..." if len(text) > 4 else text[:-1]
    return text, s


def _wrap(text: str, max_w: int, scale: float, thick: int, max_lines: int = 2) -> list[str]:
    """``text`` broken at spaces into at most ``max_lines`` lines that fit ``max_w`` pixels (the last may be cut)."""
    words = text.split()
    lines: list[str] = []
    cur = ""
    for i, word in enumerate(words):
        cand = f"{cur} {word}".strip()
        if cur and cv2.getTextSize(cand, _FONT, scale, thick)[0][0] > max_w:
            lines.append(cur)
            cur = word
            if len(lines) == max_lines - 1:
                cur = " ".join(words[i:])
                break
        else:
            cur = cand
    lines.append(cur)
    return lines


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, color: tuple[int, int, int],
          thick: int) -> None:
    # the outline is the same strokes shifted by a pixel: a thicker stroke advances the glyphs
    # differently and drew every word doubled
    x, y = org
    for dx, dy in ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)):
        cv2.putText(img, text, (x + dx, y + dy), _FONT, scale, (0, 0, 0), thick, cv2.LINE_AA)
    cv2.putText(img, text, org, _FONT, scale, color, thick, cv2.LINE_AA)


def score_color(score: float) -> tuple[int, int, int]:
    if score >= 80:
        return STATUS_COLORS[JointStatus.ON]
    if score >= 50:
        return STATUS_COLORS[JointStatus.NEAR]
    return STATUS_COLORS[JointStatus.OFF]


def format_time(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60:d}:{s % 60:02d}"


def hud_regions(img: np.ndarray) -> dict[str, tuple[int, int, int, int]]:
    """``(x0, y0, x1, y1)`` of the top bar, the stats box and the cue bar for this image size."""
    h, w = img.shape[:2]
    sc = _scale(img)
    bar = int(44 * sc)
    return {
        "top": (0, 0, w, bar),
        "stats": (w - int(230 * sc), bar, w, bar + int(130 * sc)),
        "cue": (0, h - int(64 * sc), w, h),
    }


def draw_hud(img: np.ndarray, hud: Hud) -> np.ndarray:
    """Draw the program, state, reps, timer, score and cue onto ``img`` in place."""
    h, w = img.shape[:2]
    sc = _scale(img)
    th = max(1, round(2 * sc))
    reg = hud_regions(img)
    pad = int(12 * sc)
    if hud.program or hud.state:
        x0, y0, x1, y1 = reg["top"]
        _shade(img, x0, y0, x1, y1)
        base = y1 - int(13 * sc)
        state = hud.state  # plain words, as given
        sw = cv2.getTextSize(state, _FONT, 0.7 * sc, th)[0][0] if state else 0
        if state:
            _text(img, state, (w - sw - pad, base), 0.7 * sc, (255, 255, 255), th)
        prog, ps = _fit(hud.program, w - sw - 3 * pad, 0.9 * sc, th)
        _text(img, prog, (pad, base), ps, (255, 255, 255), th)
    lines: list[tuple[str, tuple[int, int, int]]] = []
    if hud.reps is not None:
        lines.append((f"reps {hud.reps}", (255, 255, 255)))
    if hud.elapsed_s is not None:
        lines.append((f"time {format_time(hud.elapsed_s)}", (255, 255, 255)))
    if hud.score is not None:
        lines.append((f"score {hud.score:.0f}", score_color(hud.score)))
    if lines:
        x0, y0, x1, y1 = reg["stats"]
        step = (y1 - y0) // 3
        _shade(img, x0, y0, x1, y0 + step * len(lines) + int(8 * sc))
        for i, (t, color) in enumerate(lines):
            _text(img, t, (x0 + pad, y0 + step * (i + 1) - int(4 * sc)), 0.85 * sc, color, th)
    if hud.cue:
        x0, y0, x1, y1 = reg["cue"]
        lines = _wrap(hud.cue, w - 2 * pad, 1.1 * sc, th + 1)
        line_h = int(34 * sc)
        y0 = min(y0, y1 - line_h * len(lines) - int(22 * sc))
        _shade(img, x0, y0, x1, y1, alpha=0.65)
        for i, line in enumerate(lines):
            cue, cs = _fit(line, w - 2 * pad, 1.1 * sc, th + 1)
            tw = cv2.getTextSize(cue, _FONT, cs, th + 1)[0][0]
            base = y1 - int(20 * sc) - line_h * (len(lines) - 1 - i)
            _text(img, cue, ((w - tw) // 2, base), cs, (255, 255, 255), th + 1)
    if hud.countdown_s is not None and hud.countdown_s > 0:
        n = str(int(np.ceil(hud.countdown_s)))
        s = 4.0 * sc
        (tw, tht), _ = cv2.getTextSize(n, _FONT, s, th * 4)
        _text(img, n, ((w - tw) // 2, (h + tht) // 2), s, (255, 255, 255), th * 4)
    return img


def draw_overlay(
    image: np.ndarray,
    poses: Pose | Sequence[Pose] | None = None,
    joint_status: Mapping[str, str] | None = None,
    hud: Hud | None = None,
    min_visibility: float = 0.5,
) -> np.ndarray:
    """The live view: a copy of ``image`` with skeleton(s) and the HUD.

    ``joint_status`` applies to the first pose (the person being coached); further poses are
    drawn in neutral colours.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"draw_overlay needs an (H, W, 3) uint8 BGR image, got {image.shape} {image.dtype}")
    out = image.copy()
    plist = [poses] if isinstance(poses, Pose) else list(poses or [])
    for i, p in enumerate(plist):
        draw_skeleton(out, p, joint_status if i == 0 else None, min_visibility)
    if hud is not None:
        draw_hud(out, hud)
    return out

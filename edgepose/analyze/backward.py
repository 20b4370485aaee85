"""The backward pass: every person tracked from the first frame they are visible in.

Pass 1 finds a person only when a search runs (every few frames) and gives them an id only after
``min_hits`` more frames, so a track starts some frames after the person came into view. When a
track is confirmed, :class:`BackwardPass` walks back from its first pose through the frames held
in memory, running the landmark model on the ROI the later frame gives (the engine's own ROI
tracking, in reverse time): the first step seeds the ROI from the pose's keypoints (hips centre,
body radius, hips-to-shoulders rotation) and refines it once, every later step uses the model's
alignment ROI of the step before. The walk stops at the first frame where

* the model no longer sees a person (pose flag under ``min_score``, body visibility under
  ``min_body_visibility``),
* the pose jumps (keypoint similarity with the later pose under ``min_continuity``: the ROI slid
  onto someone or something else), or
* the pose is one already found in that frame (``collides``): the track is then the continuation
  of that pose's fragment, evidence :mod:`edgepose.analyze.relink` uses.

The same step follows a confirmed track *forward* through frames where pass 1 lost it
(:meth:`BackwardPass.follow`): an occluded person whose ROI the landmark model no longer holds.

Every step first runs the model on the frame as it is; when that finds nobody, or finds a pose
that is already someone else's (the ROI of a person half hidden behind another holds mostly the
one in front, and the model follows the larger body), the other people's bodies are painted out
(grey torso polygons and thick limb strokes, :func:`mask_people`) and the model runs again: what
is left in the ROI is the hidden person. On the Bonn frames this recovers the woman in green
behind the woman in pink (median keypoint error 20-26 px against 100-110 px unmasked).

The held frames are the last ``seconds`` of video, bounded by ``max_bytes`` of memory.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from edgepose.analyze.tracking import box_of, oks_matrix
from edgepose.inference.roi import Roi, roi_from_alignment
from edgepose.pose import Pose
from edgepose.skeleton import COCO_EDGES, COCO_INDEX

BODY = slice(11, 29)
_C = COCO_INDEX
_TORSO = [_C["left_shoulder"], _C["right_shoulder"], _C["right_hip"], _C["left_hip"]]


@dataclass(frozen=True)
class BackwardConfig:
    """How far and how strictly the backward pass walks.

    Attributes
    ----------
    seconds: video held in memory to walk back through.
    max_bytes: memory the held frames may take (fewer frames for large video).
    min_score: the landmark model's pose flag below which the person is gone.
    min_body_visibility: mean visibility of shoulders to ankles below which the person is gone.
    min_continuity: keypoint similarity (OKS) with the later frame's pose below which the walk
        stopped following the same body.
    reach, reach_rate: following a lost track forward, how far (body heights) from where it was
        going its pose may be found one frame after it was last seen, and how much further each
        frame after that.
    """

    seconds: float = 4.0
    max_bytes: int = 512 * 1024 * 1024
    min_score: float = 0.5
    min_body_visibility: float = 0.4
    min_continuity: float = 0.5
    reach: float = 0.25
    reach_rate: float = 0.05


@dataclass
class BackwardStats:
    walks: int = 0
    frames_added: int = 0
    landmark_calls: int = 0
    collisions: int = 0
    masked: int = 0           # poses found only with the other people painted out
    followed: int = 0         # poses of lost tracks found forward


@dataclass
class Step:
    """One pose the walk found: ``frame`` index, the pose, and how sure the model was."""

    frame: int
    pose: Pose
    image: np.ndarray = field(repr=False)


@dataclass
class Walk:
    """What one walk found: its poses (latest first) and the pose it ran into, if any."""

    steps: list[Step] = field(default_factory=list)
    collided_with: object = None


def seed_roi(kp33: np.ndarray) -> Roi | None:
    """A landmark ROI from a BlazePose-33 pose: centred on the hips, turned so that the hips-to-
    shoulders direction is up, with a side that holds the whole body (as the model's own
    alignment ROI does)."""
    vis = kp33[:, 2] >= 0.3
    hips = (kp33[23, :2] + kp33[24, :2]) / 2
    shoulders = (kp33[11, :2] + kp33[12, :2]) / 2
    up = shoulders - hips
    n = float(np.linalg.norm(up))
    pts = kp33[vis, :2] if vis.sum() >= 4 else kp33[:, :2]
    radius = float(np.max(np.linalg.norm(pts - hips, axis=1)))
    if n < 2 or radius < 8:
        return None
    return roi_from_alignment(hips, hips + up / n * radius * 1.1)


class BackwardPass:
    """Holds the last frames of pass 1 and walks confirmed tracks back through them.

    Parameters
    ----------
    run:
        The landmark model on one image and ROI (``LandmarkModel.run``): returns an object with
        ``keypoints`` ``(33, 3)``, ``score`` and ``next_roi()``.
    fps:
        Frame rate (for the ``seconds`` held).
    config:
        A :class:`BackwardConfig`.
    """

    def __init__(self, run: Callable, fps: float, config: BackwardConfig | None = None):
        self.run = run
        self.config = config or BackwardConfig()
        self.fps = fps if fps > 0 else 30.0
        self._frames: deque[tuple[int, np.ndarray]] = deque()
        self._limit: int | None = None
        self.stats = BackwardStats()

    def hold(self, index: int, image: np.ndarray | None) -> None:
        """Keep frame ``index`` (an unreadable frame, None, ends every walk that reaches it)."""
        if image is None:
            self._frames.clear()
            return
        if self._limit is None:
            per = max(1, image.nbytes)
            self._limit = max(1, min(int(math.ceil(self.config.seconds * self.fps)), self.config.max_bytes // per))
        self._frames.append((index, image))
        while len(self._frames) > self._limit:
            self._frames.popleft()

    def step(self, image: np.ndarray, roi: Roi, others: list[np.ndarray], collides: Callable[[Pose], object],
             refine: bool, plausible: Callable[[np.ndarray], bool]):
        """One landmark step on ``roi``; returns ``(pose, result, None)``, ``(None, None, what)``
        when the pose found is one already there (``collides``), or ``(None, None, None)``.

        ``others`` are the COCO-17 keypoints of the other poses of the frame, painted out for a
        second try when the first finds nobody or someone already found; ``plausible(kp33)``
        says whether a pose can be the person followed."""
        cfg = self.config
        hit = None
        for masked in (False, True):
            if masked:
                near = [k for k in others if _overlaps(k, roi)]
                if not near:
                    break
                img = mask_people(image, near)
            else:
                img = image
            r = self.run(img, roi)
            self.stats.landmark_calls += 1
            if refine and r.score >= cfg.min_score:
                r2 = self.run(img, r.next_roi())
                self.stats.landmark_calls += 1
                r = r2 if r2.score >= r.score else r
            kp = np.asarray(r.keypoints, np.float64)
            body = float(np.mean(kp[BODY, 2]))
            if r.score < cfg.min_score or body < cfg.min_body_visibility:
                continue
            if not plausible(kp):
                continue
            p = Pose(kp.astype(np.float32), float(r.score) * body, z=getattr(r, "z", None))
            what = collides(p)
            if what is not None:
                hit = what
                continue
            if masked:
                self.stats.masked += 1
            return p, r, None
        return None, None, hit

    def walk(self, first_frame: int, pose: Pose, collides: Callable[[int, Pose], object],
             others: Callable[[int], list[np.ndarray]] = lambda f: []) -> Walk:
        """Walk back from ``pose`` (seen in ``first_frame``) through the held frames before it.

        ``collides(frame, pose)`` returns what the pose coincides with in that frame (e.g. the
        fragment of an existing pose), or None; a collision ends the walk. ``others(frame)``: the
        COCO-17 keypoints of the poses already in that frame (painted out for a second try).
        """
        cfg = self.config
        out = Walk()
        if pose.layout != "blazepose33":
            return out
        frames = [(i, img) for i, img in self._frames if i < first_frame]
        if not frames or frames[-1][0] != first_frame - 1:
            return out
        self.stats.walks += 1
        later = pose.keypoints.astype(np.float64)
        roi = seed_roi(later)
        refine = True
        expect = first_frame - 1
        for index, image in reversed(frames):
            if index != expect or roi is None:
                break                                   # a gap (unreadable frame): stop
            expect -= 1
            p, r, hit = self.step(image, roi, others(index), lambda q, i=index: collides(i, q), refine,
                                  lambda kp, ref=later: _continuity(ref, kp) >= cfg.min_continuity)
            refine = False
            if p is None:
                if hit is not None:
                    out.collided_with = hit
                    self.stats.collisions += 1
                break
            out.steps.append(Step(index, p, image))
            later = p.keypoints.astype(np.float64)
            roi = r.next_roi()
        self.stats.frames_added += len(out.steps)
        return out

    def follow(self, image: np.ndarray, last33: np.ndarray, shift: np.ndarray, gap: int,
               others: list[np.ndarray], collides: Callable[[Pose], object]) -> Pose | None:
        """The pose of a track last seen ``gap`` frames ago (as ``last33``, moving by ``shift``
        pixels since) in ``image``, or None. The pose found must be where the person can be: its
        torso centre within ``reach`` (plus ``reach_rate`` a frame) body heights of where they
        were going, its torso length within 25 % of theirs (keypoint similarity, as between
        consecutive frames, is too strict once the person has been hidden a few frames)."""
        moved = last33.copy()
        moved[:, :2] += shift
        roi = seed_roi(moved)
        if roi is None:
            return None
        c0, t0 = _torso(moved)
        if t0 < 4:
            return None
        allowed = (self.config.reach + self.config.reach_rate * (gap - 1)) * t0 / 0.3

        def plausible(kp: np.ndarray) -> bool:
            c, t = _torso(kp)
            return bool(np.linalg.norm(c - c0) <= allowed and 0.8 <= t / t0 <= 1.25)

        p, _, _ = self.step(image, roi, others, collides, True, plausible)
        if p is not None:
            self.stats.followed += 1
        return p


def _torso(kp33: np.ndarray) -> tuple[np.ndarray, float]:
    sh = (kp33[11, :2] + kp33[12, :2]) / 2
    hp = (kp33[23, :2] + kp33[24, :2]) / 2
    return (sh + hp) / 2, float(np.linalg.norm(sh - hp))


def mask_people(image: np.ndarray, people: list[np.ndarray]) -> np.ndarray:
    """A copy of ``image`` with the bodies of ``people`` (COCO-17 keypoints) painted grey: torso
    polygon, limb strokes a third of the torso length wide, and the head."""
    out = image.copy()
    mask = np.zeros(image.shape[:2], np.uint8)
    for k in people:
        sh = (k[_C["left_shoulder"], :2] + k[_C["right_shoulder"], :2]) / 2
        hp = (k[_C["left_hip"], :2] + k[_C["right_hip"], :2]) / 2
        t = float(np.linalg.norm(sh - hp))
        if t < 4:
            continue
        cv2.fillPoly(mask, [np.round(k[_TORSO, :2]).astype(np.int32)], 255)
        w = max(3, int(round(0.35 * t)))
        for a, b in COCO_EDGES:
            if min(k[a, 2], k[b, 2]) < 0.3:
                continue
            cv2.line(mask, (int(round(k[a, 0])), int(round(k[a, 1]))), (int(round(k[b, 0])), int(round(k[b, 1]))),
                     255, w)
        if k[_C["nose"], 2] >= 0.3:
            cv2.circle(mask, (int(round(k[_C["nose"], 0])), int(round(k[_C["nose"], 1]))), max(3, int(0.4 * t)),
                       255, -1)
    out[mask > 0] = 128
    return out


def _overlaps(k17: np.ndarray, roi: Roi) -> bool:
    b = box_of(k17[:, :2], k17[:, 2], 0.3)
    h = roi.size / 2
    return bool(b[0] < roi.cx + h and b[2] > roi.cx - h and b[1] < roi.cy + h and b[3] > roi.cy - h)


def _continuity(a33: np.ndarray, b33: np.ndarray) -> float:
    """OKS between two BlazePose poses on their COCO-17 joints, at the scale of ``a``."""
    a = Pose(a33.astype(np.float32), 1.0).coco17().astype(np.float64)
    b = Pose(b33.astype(np.float32), 1.0).coco17().astype(np.float64)
    box = box_of(a[:, :2], a[:, 2], 0.3)
    area = np.array([max(1.0, (box[2] - box[0]) * (box[3] - box[1]))])
    return float(oks_matrix(a[None, :, :2], a[None, :, 2], b[None, :, :2], b[None, :, 2], area, 0.3)[0, 0])

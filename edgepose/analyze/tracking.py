"""Multi-person tracking: stable integer ids for the poses of a video.

Each frame's poses (detections) are matched to the tracks of the previous frames with the
Hungarian algorithm on a similarity that mixes keypoint similarity (COCO OKS) and box overlap
(IoU), both measured against each track's constant-velocity prediction. A track is

* **tentative** until it has been matched ``min_hits`` times, with at most
  ``tentative_misses`` frames missed in a row (one-frame false positives never get an id),
* **confirmed** with a stable id from then on; it **coasts** (is predicted on) through up to
  ``max_coast`` frames without a detection, so short occlusions keep the id,
* **lost** after that; it stays in a re-identification pool for ``reid_frames`` frames. When a
  new track is confirmed it is compared with the lost (and still coasting) tracks by body size,
  body proportions, last position and, when frames are given, a colour histogram of the torso;
  a good match gets the old id back, so a performer who leaves and returns keeps their id.

Ids are assigned only when a track is confirmed, so they are small consecutive integers. The
poses of a tentative track receive their id retroactively when it is confirmed: a caller that
writes poses out holds each frame for :attr:`Tracker.latency` frames (see
``edgepose.analyze.runner``).

When frames are given, the colours of each person's own torso and leg pixels
(:mod:`edgepose.analyze.appearance`) also enter the match: two people crossing at the same size
do not swap tracks. ``edgepose analyze`` uses the tracker for track *fragments* only
(:attr:`Tracker.last_uids`); its own ids come from :mod:`edgepose.analyze.relink`, which joins
the fragments over the whole clip.

Everything works on the COCO-17 subset of a pose, so ``blazepose33`` and ``coco17`` poses can be
tracked alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from edgepose.analyze import appearance
from edgepose.inference.person_detector import box_iou
from edgepose.pose import Pose
from edgepose.skeleton import COCO_INDEX, COCO_MIRROR, COCO_SIGMAS

log = logging.getLogger(__name__)

_SIGMAS = np.asarray(COCO_SIGMAS, dtype=np.float64)
_VAR = (2.0 * _SIGMAS) ** 2
_C = COCO_INDEX
# Segments whose lengths (divided by the torso length) describe a body's proportions.
_SHAPE_SEGMENTS = (
    ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
    ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
    ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"), ("right_hip", "right_knee"),
    ("left_knee", "left_ankle"), ("right_knee", "right_ankle"),
)
_TORSO = ((_C["left_shoulder"], _C["left_hip"]), (_C["right_shoulder"], _C["right_hip"]))


@dataclass(frozen=True)
class TrackerConfig:
    """Tracker parameters (frame counts are in frames of the input stream).

    Attributes
    ----------
    min_hits:
        Matches before a track is confirmed and gets an id (1 = at once).
    tentative_misses:
        Consecutive frames a tentative track may go unmatched before it is dropped.
    max_coast:
        Frames a confirmed track is predicted through without a detection before it is lost.
    reid_frames:
        Frames a lost track stays available for re-identification.
    min_similarity:
        Smallest combined OKS/IoU similarity accepted as a match.
    oks_weight:
        Weight of OKS in the similarity; IoU gets ``1 - oks_weight``.
    min_visibility:
        Keypoints below this visibility are left out of OKS and boxes.
    dedupe_oks:
        Two poses of one frame with a higher OKS are the same person; the weaker one is dropped.
    reid_max_cost:
        Largest re-identification cost (0 = identical, 1 = unrelated) that revives an old id.
    velocity_smoothing:
        Weight of the newest displacement in the velocity estimate (exponential average).
    colour_weight:
        When frames are given: similarity taken off a match whose torso/leg colours (from the
        person's own pixels, :mod:`edgepose.analyze.appearance`) differ from the track's by
        ``colour_free + colour_span`` or more (none under ``colour_free``), so that two people
        crossing at the same size do not swap tracks. 0 turns it off.
    coast_frames, coast_colour:
        A track unmatched for ``coast_frames`` frames or more is not matched (nor followed) to a
        pose whose colours differ from its own by ``coast_colour`` or more: after a person has
        been hidden, whoever stands where they were going is often someone else (on vtest.avi,
        of the re-acquisitions after 4-20 missed frames at a colour distance of 0.45 or more,
        every one went to another person or to a pose mixing two).
    """

    min_hits: int = 3
    tentative_misses: int = 1
    max_coast: int = 20
    reid_frames: int = 900
    min_similarity: float = 0.15
    oks_weight: float = 0.6
    min_visibility: float = 0.3
    dedupe_oks: float = 0.75
    reid_max_cost: float = 0.45
    velocity_smoothing: float = 0.5
    colour_weight: float = 0.3
    colour_free: float = 0.3
    colour_span: float = 0.3
    coast_frames: int = 3
    coast_colour: float = 0.45

    def __post_init__(self) -> None:
        if self.min_hits < 1:
            raise ValueError(f"TrackerConfig.min_hits must be >= 1, got {self.min_hits}")
        if self.max_coast < 0 or self.reid_frames < 0:
            raise ValueError("TrackerConfig.max_coast and reid_frames must be >= 0")
        if not 0.0 <= self.oks_weight <= 1.0:
            raise ValueError(f"TrackerConfig.oks_weight must be in [0, 1], got {self.oks_weight}")


@dataclass
class Track:
    """One person followed over time (internal state, exposed for inspection)."""

    uid: int                      # internal serial number, never reused
    kp: np.ndarray                # (17, 2) last observed COCO-17 positions
    vis: np.ndarray               # (17,) their visibilities
    last_frame: int
    first_frame: int
    vel: np.ndarray = field(default_factory=lambda: np.zeros((17, 2)))
    id: int | None = None         # public id, set on confirmation
    hits: int = 1
    misses: int = 0
    hint: object = None           # the engine's ROI track hint of the last detection
    hist: np.ndarray | None = None
    shape: np.ndarray | None = None
    size: float = 0.0
    pending: list[Pose] = field(default_factory=list)
    look: appearance.Appearance | None = None   # own-pixel colours, from uncrowded frames

    @property
    def confirmed(self) -> bool:
        return self.id is not None

    def predict(self, frame: int) -> np.ndarray:
        """Keypoints predicted for ``frame`` by constant velocity (damped after 10 frames)."""
        gap = frame - self.last_frame
        steps = min(gap, 10) + 0.5 * max(0, min(gap, 30) - 10)
        return self.kp + self.vel * steps


def _left_view(track: Track, frame: int, shape: tuple[int, ...]) -> bool:
    """An unmatched track whose torso centre, carried on by its own motion, is now outside the
    picture: the person walked out of view. Coasting it on would hand it to whoever comes in
    near the edge next (on vtest.avi a man walking out on the right was given to another walking
    in there, in black too, six frames later); the offline joining weighs a return instead."""
    torso = [5, 6, 11, 12]
    if (track.vis[torso] < 0.3).sum() > 2:
        return False
    x, y = track.predict(frame)[torso].mean(0)
    return not (0.0 <= x < shape[1] and 0.0 <= y < shape[0])


# ---------------------------------------------------------------------------- geometry
def _coco(pose: Pose) -> np.ndarray:
    return pose.coco17().astype(np.float64)


def box_of(kp: np.ndarray, vis: np.ndarray, min_visibility: float) -> np.ndarray:
    """``(x0, y0, x1, y1)`` around the keypoints at least ``min_visibility`` visible."""
    sel = kp[vis >= min_visibility]
    if len(sel) < 2:
        sel = kp
    return np.array([sel[:, 0].min(), sel[:, 1].min(), sel[:, 0].max(), sel[:, 1].max()])


# IoU between every box of a (n, 4) and of b (m, 4), both x0, y0, x1, y1: the person detector's.
iou_matrix = box_iou


def oks_matrix(a: np.ndarray, va: np.ndarray, b: np.ndarray, vb: np.ndarray,
               area: np.ndarray, min_visibility: float) -> np.ndarray:
    """COCO object keypoint similarity between poses ``a`` ``(n, 17, 2)`` and ``b`` ``(m, 17, 2)``.

    ``area`` ``(n,)`` is the scale of each pose of ``a`` (its box area). Keypoints count where both
    poses see them (visibility >= ``min_visibility``); with fewer than three such keypoints all
    17 count, so a pose that is unsure everywhere can still be matched by position.
    """
    d2 = ((a[:, None] - b[None, :]) ** 2).sum(-1)                      # (n, m, 17)
    e = d2 / _VAR / (2.0 * np.maximum(area, 1.0)[:, None, None])
    w = ((va[:, None] >= min_visibility) & (vb[None, :] >= min_visibility)).astype(np.float64)
    few = w.sum(-1) < 3
    w[few] = 1.0
    return (np.exp(-e) * w).sum(-1) / w.sum(-1)


def body_shape(kp: np.ndarray, vis: np.ndarray, min_visibility: float) -> tuple[np.ndarray | None, float]:
    """Body proportions (segment lengths / torso length; NaN where unseen) and torso length."""
    torso = [np.linalg.norm(kp[s] - kp[h]) for s, h in _TORSO
             if vis[s] >= min_visibility and vis[h] >= min_visibility]
    if not torso or max(torso) < 1.0:
        return None, 0.0
    t = float(np.mean(torso))
    out = np.full(len(_SHAPE_SEGMENTS), np.nan)
    for i, (p, q) in enumerate(_SHAPE_SEGMENTS):
        if vis[_C[p]] >= min_visibility and vis[_C[q]] >= min_visibility:
            out[i] = np.linalg.norm(kp[_C[p]] - kp[_C[q]]) / t
    return out, t


def torso_histogram(image: np.ndarray, kp: np.ndarray, vis: np.ndarray) -> np.ndarray | None:
    """Normalised hue/saturation histogram (8 x 4 bins) of the torso box, or None."""
    idx = [_C["left_shoulder"], _C["right_shoulder"], _C["left_hip"], _C["right_hip"]]
    pts = kp[idx]
    if (vis[idx] < 0.3).sum() > 1:
        return None
    h, w = image.shape[:2]
    x0, y0 = np.floor(pts.min(0)).astype(int)
    x1, y1 = np.ceil(pts.max(0)).astype(int)
    # The inner part of the torso box: less background at the sides.
    dx, dy = (x1 - x0) // 6, (y1 - y0) // 8
    x0, x1 = max(0, x0 + dx), min(w, x1 - dx)
    y0, y1 = max(0, y0 + dy), min(h, y1 - dy)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    hsv = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [8, 4], [0, 180, 0, 256]).ravel()
    s = hist.sum()
    return hist / s if s > 0 else None


def _hist_distance(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    if a is None or b is None:
        return None
    bc = float(np.sqrt(a * b).sum())                                   # Bhattacharyya coefficient
    return float(np.sqrt(max(0.0, 1.0 - bc)))


# ---------------------------------------------------------------------------- tracker
class Tracker:
    """Gives the poses of consecutive frames stable integer ids.

    Parameters
    ----------
    config:
        A :class:`TrackerConfig`; defaults suit 25-30 fps video.

    Examples
    --------
    >>> tracker = Tracker()
    >>> for image, poses in frames:                       # doctest: +SKIP
    ...     tracked = tracker.update(poses, image)        # ids set on confirmed people
    """

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        self.tracks: list[Track] = []
        self.lost: list[Track] = []
        self.frame = -1
        self._next_uid = 0
        self._next_id = 0
        self.id_revivals = 0
        # For an offline caller that re-links fragments itself (edgepose.analyze.relink): the
        # track (fragment) serial number of each pose the last update returned, and the tracks
        # confirmed by the last update (or by finish).
        self.last_uids: list[int] = []
        self.confirmed_now: list[Track] = []
        self._looks: list[appearance.Appearance | None] = []
        self._crowded: list[bool] = []

    @property
    def last_looks(self) -> list[appearance.Appearance | None]:
        """The own-pixel colours of each pose the last update returned (None where unseen or
        without a frame)."""
        return list(self._looks)

    @property
    def latency(self) -> int:
        """Frames after which a pose's id is final (a tentative track may still be confirmed)."""
        return (self.config.min_hits - 1) * (1 + self.config.tentative_misses)

    @property
    def ids(self) -> list[int]:
        """Ids handed out so far."""
        return list(range(self._next_id))

    # ------------------------------------------------------------------ public
    def update(self, poses: list[Pose], image: np.ndarray | None = None) -> list[Pose]:
        """Match one frame's poses to the tracks and set their ``id``.

        Parameters
        ----------
        poses:
            The frame's poses (any order; ``id`` is overwritten).
        image:
            The BGR frame, optional: when given, a torso colour histogram helps
            re-identification.

        Returns
        -------
        list[Pose]
            The poses kept (duplicates of one person removed). Poses of confirmed tracks carry
            their id; poses of tentative tracks have ``id=None`` until their track is confirmed
            (at most :attr:`latency` frames later), when the id is written into them.
        """
        cfg = self.config
        self.frame += 1
        f = self.frame
        poses = self._dedupe(list(poses))
        for p in poses:
            p.id = None
        kps = [_coco(p) for p in poses]
        dk = np.array([k[:, :2] for k in kps]).reshape(len(poses), 17, 2)
        dv = np.array([k[:, 2] for k in kps]).reshape(len(poses), 17)

        active = self.tracks
        self._looks, self._crowded = self._appearances(image, dk, dv)
        matches: list[tuple[int, int]] = []
        if active and poses:
            sim = self._similarity(active, dk, dv, poses, f)
            # Gate before assigning, so an impossible pair never displaces a possible one.
            sim = np.where(sim >= cfg.min_similarity, sim, 0.0)
            rows, cols = linear_sum_assignment(-sim)
            matches = [(r, c) for r, c in zip(rows, cols, strict=True) if sim[r, c] >= cfg.min_similarity]
        matched_t = {r for r, _ in matches}
        matched_d = {c for _, c in matches}
        uids = [-1] * len(poses)
        for r, c in matches:
            uids[c] = active[r].uid

        newly_confirmed: list[Track] = []
        for r, c in matches:
            tr = active[r]
            self._absorb(tr, poses[c], dk[c], dv[c], image, f)
            self._learn_look(tr, c)
            if not tr.confirmed and tr.hits >= cfg.min_hits:
                newly_confirmed.append(tr)

        survivors: list[Track] = []
        for i, tr in enumerate(active):
            if i in matched_t:
                survivors.append(tr)
                continue
            tr.misses += 1
            if not tr.confirmed:
                if tr.misses <= cfg.tentative_misses:
                    survivors.append(tr)
                else:
                    tr.pending.clear()      # never confirmed: its poses stay without an id
                continue
            if tr.misses > cfg.max_coast or (image is not None and _left_view(tr, f, image.shape)):
                self.lost.append(tr)
                log.debug("track %s lost at frame %d", tr.id, f)
            else:
                survivors.append(tr)
        for c in range(len(poses)):
            if c in matched_d:
                continue
            tr = Track(uid=self._next_uid, kp=dk[c].copy(), vis=dv[c].copy(), last_frame=f, first_frame=f,
                       hint=poses[c].track_hint)
            self._next_uid += 1
            uids[c] = tr.uid
            tr.shape, tr.size = body_shape(dk[c], dv[c], cfg.min_visibility)
            if image is not None:
                tr.hist = torso_histogram(image, dk[c], dv[c])
            if self._looks[c] is not None and not self._crowded[c]:
                tr.look = self._looks[c]
            tr.pending.append(poses[c])
            survivors.append(tr)
            if cfg.min_hits <= 1:
                newly_confirmed.append(tr)
        self.tracks = survivors
        self.last_uids = uids
        self.confirmed_now = list(newly_confirmed)
        if newly_confirmed:
            self._confirm(newly_confirmed, f)
        self.lost = [t for t in self.lost if f - t.last_frame <= cfg.reid_frames]
        for tr in self.tracks:
            if tr.confirmed and tr.last_frame == f:
                for p in tr.pending:
                    p.id = tr.id
                tr.pending.clear()
        return poses

    def extend(self, track: Track, pose: Pose, image: np.ndarray | None = None) -> None:
        """A pose of a coasting confirmed ``track`` in the current frame that the caller found
        itself (e.g. by following the person through an occlusion): the track takes it as if it
        had been matched, and keeps its id."""
        k = _coco(pose)
        self._absorb(track, pose, k[:, :2], k[:, 2], image, self.frame)
        track.pending.clear()
        pose.id = track.id

    def looks_unlike(self, track: Track, look: appearance.Appearance | None) -> bool:
        """The own-pixel colours ``look`` of a pose differ from ``track``'s learned ones by
        ``colour_free + colour_span`` or more (where a match's colour penalty is full), or by
        ``coast_colour`` once the track has missed ``coast_frames`` frames: someone else. False
        when either is unknown or colours are off (``colour_weight`` 0)."""
        cfg = self.config
        if cfg.colour_weight <= 0 or track.look is None or look is None or not look.usable():
            return False
        d = appearance.distance(track.look, look)
        limit = cfg.coast_colour if track.misses >= cfg.coast_frames else cfg.colour_free + cfg.colour_span
        return d is not None and d >= limit

    def finish(self) -> None:
        """End of the stream: confirm tentative tracks that could not reach ``min_hits``.

        A clip shorter than ``min_hits`` frames would otherwise give nobody an id; a track seen
        in every frame of such a clip is confirmed. Longer clips are not affected.
        """
        total = self.frame + 1
        late = [t for t in self.tracks if not t.confirmed and t.hits >= min(self.config.min_hits, total)
                and t.last_frame == self.frame]
        self.confirmed_now = list(late)
        if late:
            self._confirm(late, self.frame)
            for tr in late:
                for p in tr.pending:
                    p.id = tr.id
                tr.pending.clear()

    # ------------------------------------------------------------------ internals
    def _dedupe(self, poses: list[Pose]) -> list[Pose]:
        if len(poses) < 2:
            return poses
        poses = sorted(poses, key=lambda p: -p.score)
        k = np.array([_coco(p) for p in poses])
        boxes = np.array([box_of(x[:, :2], x[:, 2], self.config.min_visibility) for x in k])
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        oks = oks_matrix(k[:, :, :2], k[:, :, 2], k[:, :, :2], k[:, :, 2], area, self.config.min_visibility)
        iou = iou_matrix(boxes, boxes)
        core = [_C[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip",
                                "left_knee", "right_knee", "left_ankle", "right_ankle")]
        core_mirror = [COCO_MIRROR[c] for c in core]
        sh, hp = [_C["left_shoulder"], _C["right_shoulder"]], [_C["left_hip"], _C["right_hip"]]
        torso = np.linalg.norm(k[:, sh, :2].mean(1) - k[:, hp, :2].mean(1), axis=1)
        h = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)

        def same(i: int, j: int) -> bool:
            if max(oks[i, j], oks[j, i]) >= self.config.dedupe_oks:
                return True
            # Torso and legs on top of each other at the same scale: one person whose arms the
            # two estimates disagree on (two people one behind the other differ in scale).
            if iou[i, j] < 0.5 or not 0.8 < h[i] / h[j] < 1.25:
                return False
            # Left and right may be swapped in one of them (a ROI estimated the wrong way round).
            d = min(float(np.median(np.linalg.norm(k[i, core, :2] - k[j, other, :2], axis=1)))
                    for other in (core, core_mirror))
            if d < 0.1 * max(h[i], h[j]):
                return True
            # ``i`` (the weaker) fills nearly the same box with a torso under half as long: a
            # collapsed second estimate of ``j``, not a second person of the same size.
            return bool(iou[i, j] >= 0.6 and torso[i] < 0.5 * torso[j])

        keep: list[int] = []
        for i in range(len(poses)):
            if not any(same(i, j) for j in keep):
                keep.append(i)
        if len(keep) < len(poses):
            log.debug("frame %d: %d duplicate poses dropped", self.frame + 1, len(poses) - len(keep))
        return [poses[i] for i in keep]

    def _similarity(self, tracks: list[Track], dk: np.ndarray, dv: np.ndarray, poses: list[Pose],
                    f: int) -> np.ndarray:
        cfg = self.config
        pk = np.array([t.predict(f) for t in tracks])
        pv = np.array([t.vis for t in tracks])
        tb = np.array([box_of(k, v, cfg.min_visibility) for k, v in zip(pk, pv, strict=True)])
        db = np.array([box_of(k, v, cfg.min_visibility) for k, v in zip(dk, dv, strict=True)])
        area = (tb[:, 2] - tb[:, 0]) * (tb[:, 3] - tb[:, 1])
        oks = oks_matrix(pk, pv, dk, dv, area, cfg.min_visibility)
        iou = iou_matrix(tb, db)
        sim = cfg.oks_weight * oks + (1.0 - cfg.oks_weight) * iou
        # Gate: a detection far outside a track's predicted box (relative to its size) is not it.
        tc = (tb[:, :2] + tb[:, 2:]) / 2
        dc = (db[:, :2] + db[:, 2:]) / 2
        diag = np.hypot(tb[:, 2] - tb[:, 0], tb[:, 3] - tb[:, 1])
        dist = np.linalg.norm(tc[:, None] - dc[None, :], axis=-1)
        sim[dist > 1.0 * np.maximum(diag, 1.0)[:, None]] = 0.0
        # The engine's ROI hint (same tracked region as the track's last pose) is a small bonus;
        # coasting and tentative tracks get a small malus, so a steady confirmed track wins a tie.
        for i, t in enumerate(tracks):
            if t.hint is not None:
                for j, p in enumerate(poses):
                    if p.track_hint == t.hint and sim[i, j] > 0:
                        sim[i, j] += 0.05
            if t.misses:
                sim[i] -= 0.02
            if not t.confirmed:
                sim[i] -= 0.01
            if cfg.colour_weight > 0 and t.look is not None:
                for j, look in enumerate(self._looks):
                    if look is None or sim[i, j] <= 0:
                        continue
                    d = appearance.distance(t.look, look)
                    if d is not None:
                        sim[i, j] -= cfg.colour_weight * float(np.clip((d - cfg.colour_free) / cfg.colour_span, 0, 1))
                        if t.misses >= cfg.coast_frames and d >= cfg.coast_colour:
                            sim[i, j] = 0.0     # back after a while in other clothes: someone else
        return sim

    def _appearances(self, image: np.ndarray | None, dk: np.ndarray, dv: np.ndarray
                     ) -> tuple[list[appearance.Appearance | None], list[bool]]:
        """Each detection's own-pixel colours (None without a frame) and whether another
        detection's box overlaps it (its pixels may be someone else's)."""
        n = len(dk)
        if image is None or self.config.colour_weight <= 0 or n == 0:
            return [None] * n, [True] * n
        kp = np.concatenate([dk, dv[:, :, None]], axis=2)
        looks = [appearance.describe(image, k) for k in kp]
        boxes = np.array([box_of(k, v, self.config.min_visibility) for k, v in zip(dk, dv, strict=True)])
        iou = iou_matrix(boxes, boxes)
        np.fill_diagonal(iou, 0.0)
        return [x if x.usable() else None for x in looks], [bool(r.max() > 0.15) for r in iou]

    def _absorb(self, tr: Track, pose: Pose, kp: np.ndarray, vis: np.ndarray, image: np.ndarray | None,
                f: int) -> None:
        cfg = self.config
        gap = max(1, f - tr.last_frame)
        both = (vis >= cfg.min_visibility) & (tr.vis >= cfg.min_visibility)
        step = np.zeros((17, 2))
        if both.sum() >= 3:
            # A robust whole-body displacement plus per-joint detail, to keep noise low.
            d = (kp - tr.kp) / gap
            common = np.median(d[both], axis=0)
            step[:] = common
        a = cfg.velocity_smoothing
        tr.vel = a * step + (1 - a) * tr.vel if tr.hits > 1 else step
        tr.kp, tr.vis = kp.copy(), vis.copy()
        tr.last_frame = f
        tr.hits += 1
        tr.misses = 0
        tr.hint = pose.track_hint
        shape, size = body_shape(kp, vis, cfg.min_visibility)
        if shape is not None:
            if tr.shape is None:
                tr.shape = shape
            else:
                tr.shape = np.where(np.isnan(tr.shape), shape, np.where(np.isnan(shape), tr.shape,
                                                                           0.9 * tr.shape + 0.1 * shape))
            tr.size = size if tr.size <= 0 else 0.8 * tr.size + 0.2 * size
        if image is not None:
            h = torso_histogram(image, kp, vis)
            if h is not None:
                tr.hist = h if tr.hist is None else 0.8 * tr.hist + 0.2 * h
        tr.pending.append(pose)

    def _learn_look(self, tr: Track, c: int) -> None:
        look = self._looks[c] if c < len(self._looks) else None
        if look is None or self._crowded[c]:
            return
        if tr.look is None:
            tr.look = look
            return

        def ema(old, new):
            if old is None or new is None:
                return new if old is None else old
            m = 0.8 * old + 0.2 * new
            return m / m.sum()

        tr.look = appearance.Appearance(ema(tr.look.torso, look.torso), ema(tr.look.legs, look.legs))

    def _reid_cost(self, new: Track, old: Track, f: int) -> float:
        """0 (same person) .. 1+ (someone else) from size, proportions, position, colour."""
        terms: list[tuple[float, float]] = []          # (weight, cost in [0, 1])
        if new.size > 0 and old.size > 0:
            terms.append((1.0, min(1.0, abs(np.log(new.size / old.size)) / 0.5)))
        if new.shape is not None and old.shape is not None:
            ok = ~np.isnan(new.shape) & ~np.isnan(old.shape)
            if ok.sum() >= 3:
                d = float(np.median(np.abs(new.shape[ok] - old.shape[ok])))
                terms.append((1.0, min(1.0, d / 0.4)))
        hd = _hist_distance(new.hist, old.hist)
        if hd is not None:
            terms.append((2.0, min(1.0, hd / 0.6)))
        # Position: where the old track was last seen (or predicted, while coasting).
        gone = max(1, f - old.last_frame)
        ref = old.predict(f) if old.misses <= self.config.max_coast else old.kp
        scale = max(old.size, new.size, 10.0)
        dist = float(np.linalg.norm(np.median(new.kp, 0) - np.median(ref, 0))) / scale
        allowed = 1.5 + 0.05 * gone                     # people move further the longer they are gone
        terms.append((1.0, min(1.0, dist / allowed)))
        w = sum(t[0] for t in terms)
        return sum(t[0] * t[1] for t in terms) / w

    def _confirm(self, tracks: list[Track], f: int) -> None:
        cfg = self.config
        # Candidates: lost tracks and confirmed tracks coasting right now (not matched this frame).
        coasting = [t for t in self.tracks if t.confirmed and t.last_frame < f]
        cands = self.lost + coasting
        taken: set[int] = set()
        if cands:
            cost = np.array([[self._reid_cost(n, o, f) for o in cands] for n in tracks])
            # Gate before assigning (see update): an impossible pair costs more than any possible one.
            rows, cols = linear_sum_assignment(np.where(cost <= cfg.reid_max_cost, cost, 10.0 + cost))
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] <= cfg.reid_max_cost:
                    old, new = cands[c], tracks[r]
                    new.id = old.id
                    taken.add(r)
                    self.id_revivals += 1
                    if old in self.lost:
                        self.lost.remove(old)
                    else:
                        self.tracks.remove(old)
                    log.debug("frame %d: id %s re-identified (cost %.2f)", f, new.id, cost[r, c])
        for i, tr in enumerate(tracks):
            if i not in taken:
                tr.id = self._next_id
                self._next_id += 1
                log.debug("frame %d: new id %d", f, tr.id)

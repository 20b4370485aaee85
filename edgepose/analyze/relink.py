"""Offline identity: one pose per body, and track fragments joined into people.

Pass 1's tracker follows people frame to frame; an occlusion, a crossing or a turn the engine
loses ends a track, and the person comes back as a new one (a *fragment*). Offline the whole
clip is known, so fragments are joined globally rather than greedily at the moment a track
appears:

1. **One pose per body** (:func:`drop_duplicates`): two poses of one frame that lie on one body
   (keypoint similarity, or torso and legs on each other at the same scale, left and right
   possibly swapped) keep only the pose of the longer fragment.
2. **Fragments** (:class:`Fragment`): each confirmed track's poses, their colours
   (:mod:`edgepose.analyze.appearance`, averaged over the frames where no other pose overlaps
   theirs, whose pixels might be someone else's), body proportions and path.
3. **Joining** (:func:`link`): agglomerative, cheapest pair first. Two groups of fragments may
   join only if they never co-exist in a frame (two poses in one frame are two people) and
   every hand-over between them is physically plausible: where one ends and the next starts,
   the distance from where the first was going, in body heights, is within what a person covers
   in the gap, and the body's size changed no more than the gap allows. Among plausible pairs
   the cost mixes colours (weight 2), proportions (1) and motion (1); pairs costlier than
   ``max_cost`` stay apart, and so do pairs for which either side has a rival candidate
   nearly as cheap (``margin``: in a crowd in similar clothes colours do not single anyone
   out, and a wrong join is worse than a split id) -- except, for a pair up to
   ``chain_cost``, a rival that could be the other side's person as well (three fragments of
   one walk, one after the other: nothing to choose between), and a rival that is clearly
   better off with a partner of its own (two joins whose fragments each rival the other's:
   both made, :meth:`Linker._better_apart`). On a fixed camera the cost also
   holds each side's *stature* (:func:`stature_fit`: pixel height against the feet's image row,
   fitted over the clip; only when the fit is good), the cue that survives a long gap in dark
   clothes (weight 2); before the joining, a swap of two people where they cross in pass 1
   (:func:`repair_swaps`: stature and colours before and after fit the exchange far better) is
   undone, and so is a take-over (:func:`repair_takeovers`: one track went on with the other's
   person, whose own track ended there); both in :mod:`edgepose.analyze.swaps`. A backward walk (:mod:`edgepose.analyze.backward`) that ran into another
   fragment's pose is direct evidence that the two are one person: its cost is halved.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgepose.analyze import appearance, gaps, strays
from edgepose.analyze.appearance import Appearance
from edgepose.analyze.swaps import STATURE_MIN_OWN, _stature_measure, repair_swaps, repair_takeovers  # noqa: F401
from edgepose.analyze.tracking import body_shape, box_of, iou_matrix, oks_matrix
from edgepose.inference.nested import coco17_nested
from edgepose.skeleton import COCO_INDEX, COCO_MIRROR

log = logging.getLogger(__name__)

_C = COCO_INDEX
_CORE = [_C[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip",
                         "left_knee", "right_knee", "left_ankle", "right_ankle")]
_CORE_MIRROR = [COCO_MIRROR[c] for c in _CORE]
MIN_VIS = 0.3
TORSO_SHARE = 0.3      # torso centres closer than this many torso lengths: one body


@dataclass(frozen=True)
class LinkConfig:
    """Joining parameters (distances in body heights, times in seconds).

    Attributes
    ----------
    max_cost: largest combined cost (0 same person .. 1 someone else) at which groups join.
    speed: body heights per second a person may cover while unseen (a brisk walk is about 1).
    reach: distance allowed even for a gap of one frame (pose noise, the centre moving with limbs).
    size_change: log size change allowed for a one-frame gap; ``size_rate`` more per second.
    blind_gap: longest gap bridged without colours to compare (motion alone decides).
    colour_scale: Hellinger colour distance that costs 1 (different clothes).
    memory: gap (s) after which the motion term says "unknown" half-way (``gap / (gap + memory)``).
    margin: a join is made only if no other candidate of either side costs less than its cost
        plus this (the evidence must single the pair out).
    chain_cost: up to this cost, a rival that could be the same person as the other side too
        (cheap with it as well: three fragments of one walk, one after the other) is no rival.
    stature_scale: log difference of two statures (:func:`stature_fit`) that costs 1; 0 turns
        the stature term off.
    stature_fit: largest median relative residual of the clip's perspective fit at which
        statures are used (a fixed camera over a flat floor; a moving camera, or people who
        bend, sit or lie, fit worse and get no stature term. The dance clips fit at 0.02: their
        dancers stand, and no pair of their fragments differs in stature).
    stature_weight: weight of the stature term in the cost (colours weigh 2, proportions and
        motion 1): over a long gap motion says nothing, and dark clothes little, while a
        person's stature stays.
    swap_gain: two co-existing fragments whose tails, from a frame where they are within half a
        body height, are exchanged (:func:`repair_swaps`) when that makes before and after agree
        by this much more (a sum of two 0..1 distances); ``inf`` turns it off. Only with statures.
    swap_window: seconds of poses compared before and after a possible swap.
    drift_size: a pose that stands on another pose's legs in its frame and whose body height is
        off its own fragment's (median over ``drift_window`` seconds around it) by more than this
        log ratio is a track drifting onto someone in front (:func:`~edgepose.analyze.strays.drop_drifted`) and is
        dropped; ``inf`` turns it off.
    overlap_frames, overlap_dist: a fragment that starts on the body of one that ends at most
        ``overlap_frames`` frames later (torso centres within ``overlap_dist`` body heights in
        every frame they share) took that person over: the older one's last poses are second
        estimates and are dropped (:func:`~edgepose.analyze.strays.drop_taken_over`), so that the two may be joined. 0
        turns it off.
    split_gap, split_reach: a pass-1 track is cut where it went unseen ``split_gap`` seconds or
        more while another fragment ended or started within ``split_reach`` body heights
        (:func:`~edgepose.analyze.gaps.split_at_gaps`): whether the one who came back is the
        one who went is decided here, with both sides in view; ``split_gap`` 0 turns it off.
    weigh_alternatives: a rival candidate does not block a join when it is clearly better off
        with a partner of its own (:meth:`Linker._better_apart`): the two pairs together cost
        ``margin`` less than the exchange would.
    interleaved_share: poses of a fragment that sits on another's person in every frame they
        share, and is there in at most this share of the other's frames over that span, are
        second estimates and are dropped (:func:`~edgepose.analyze.strays.drop_interleaved`); 0
        turns it off.
    """

    max_cost: float = 0.4
    speed: float = 1.5
    reach: float = 0.5
    size_change: float = 0.35
    size_rate: float = 0.3
    blind_gap: float = 1.0
    colour_scale: float = 0.5
    memory: float = 2.0
    margin: float = 0.08
    chain_cost: float = 0.3
    stature_scale: float = 0.2
    stature_fit: float = 0.06
    stature_weight: float = 2.0
    swap_gain: float = 0.3
    swap_window: float = 2.0
    drift_size: float = 0.25
    drift_window: float = 2.0
    overlap_frames: int = 3
    overlap_dist: float = 0.25
    split_gap: float = 1.0
    split_reach: float = 2.0
    weigh_alternatives: bool = True
    interleaved_share: float = 0.5


@dataclass
class Obs:
    """One pose of a fragment."""

    frame: int
    kp: np.ndarray                 # (17, 3) COCO-17 pixels and visibility
    score: float
    app: Appearance | None = None
    crowded: bool = False          # another pose of the frame overlaps it


@dataclass
class Fragment:
    """One confirmed track's poses in frame order, and what they say about the person."""

    uid: int
    obs: list[Obs]
    frames: np.ndarray = field(init=False)
    pos: np.ndarray = field(init=False)        # (n, 2) torso centre
    scale: np.ndarray = field(init=False)      # (n,) body height estimate (pixels)
    shape: np.ndarray | None = field(init=False)
    app: Appearance = field(init=False)

    def __post_init__(self) -> None:
        self.obs.sort(key=lambda o: o.frame)
        self.frames = np.array([o.frame for o in self.obs], np.int64)
        self.pos = np.array([_centre(o.kp) for o in self.obs])
        self.scale = np.array([_scale(o.kp) for o in self.obs])
        shapes = [body_shape(o.kp[:, :2], o.kp[:, 2], MIN_VIS)[0] for o in self.obs]
        shapes = [s for s in shapes if s is not None]
        with warnings.catch_warnings():                 # a segment never seen: NaN, as meant
            warnings.simplefilter("ignore", RuntimeWarning)
            self.shape = np.nanmedian(np.array(shapes), axis=0) if shapes else None
        clean = [o.app for o in self.obs if o.app is not None and o.app.usable() and not o.crowded]
        if len(clean) < 3:
            clean = [o.app for o in self.obs if o.app is not None and o.app.usable()]
        self.app = appearance.mean(clean) if clean else Appearance(None, None)

    def __len__(self) -> int:
        return len(self.obs)


def _centre(kp: np.ndarray) -> np.ndarray:
    idx = [_C["left_shoulder"], _C["right_shoulder"], _C["left_hip"], _C["right_hip"]]
    if (kp[idx, 2] >= MIN_VIS).sum() >= 3:
        return kp[idx, :2].mean(0).astype(np.float64)
    b = box_of(kp[:, :2], kp[:, 2], MIN_VIS)
    return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])


def _scale(kp: np.ndarray) -> float:
    """Body height from the torso (shoulders to hips, about 0.3 of a standing body), which arms
    and bent legs do not change; the keypoint box when the torso is not seen."""
    sh = (kp[_C["left_shoulder"], :2] + kp[_C["right_shoulder"], :2]) / 2
    hp = (kp[_C["left_hip"], :2] + kp[_C["right_hip"], :2]) / 2
    torso = float(np.linalg.norm(sh - hp))
    b = box_of(kp[:, :2], kp[:, 2], MIN_VIS)
    return max(torso / 0.3, float(b[3] - b[1]), 1.0) if torso > 1 else max(float(b[3] - b[1]), 1.0)


# ---------------------------------------------------------------------------- one pose per body
def _torso(k: np.ndarray) -> tuple[np.ndarray, float]:
    sh = (k[_C["left_shoulder"], :2] + k[_C["right_shoulder"], :2]) / 2
    hp = (k[_C["left_hip"], :2] + k[_C["right_hip"], :2]) / 2
    return (sh + hp) / 2, float(np.linalg.norm(sh - hp))


def one_body(a: np.ndarray, b: np.ndarray) -> bool:
    """Two COCO-17 poses ``(17, 3)`` of one frame lie on one body: keypoint similarity; or torso
    and legs on each other at the same scale (left and right possibly swapped in one); or one
    torso centred on the other's, within ``TORSO_SHARE`` of the longer torso (a collapsed second
    estimate whose limbs went astray: two people, even one right behind the other or a couple
    dancing close, stand further apart than that); or a small pose lying on the other's body
    (:mod:`edgepose.inference.nested`)."""
    k = np.stack([a, b]).astype(np.float64)
    boxes = np.array([box_of(x[:, :2], x[:, 2], MIN_VIS) for x in k])
    area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1.0)
    oks = oks_matrix(k[:, :, :2], k[:, :, 2], k[:, :, :2], k[:, :, 2], area, MIN_VIS)
    if max(oks[0, 1], oks[1, 0]) >= 0.75 or coco17_nested(a, b):
        return True
    (ca, ta), (cb, tb) = _torso(k[0]), _torso(k[1])
    if max(ta, tb) >= 4 and float(np.linalg.norm(ca - cb)) < TORSO_SHARE * max(ta, tb):
        return True
    iou = float(iou_matrix(boxes[:1], boxes[1:])[0, 0])
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    if iou < 0.5 or not 0.8 < h[0] / h[1] < 1.25:
        return False
    d = min(float(np.median(np.linalg.norm(k[0, _CORE, :2] - k[1, other, :2], axis=1)))
            for other in (_CORE, _CORE_MIRROR))
    return d < 0.1 * float(max(h))


def drop_duplicates(frames: list[list[tuple[int, Obs]]], length: dict[int, int]) -> list[tuple[int, int]]:
    """``(frame, uid)`` of the poses to drop so that no two poses of a frame lie on one body.

    Of each such pair the pose of the shorter fragment (``length``: poses per uid) goes, the
    lower score on a tie. A fragment that lies on a longer one's body in at least half of the
    frames they share is a second estimate of that person throughout: all its poses in those
    frames go (the frames where the two seem apart are the estimate's worst), and what is left of
    it may be joined to that person later. ``frames`` holds each frame's ``(uid, Obs)`` pairs.
    """
    out: set[tuple[int, int]] = set()
    shared: dict[tuple[int, int], list[int]] = {}       # (kept uid, other uid) -> [frames, on one body]
    rank = lambda d: (-length.get(d[0], 0), -d[1].score, d[0])  # noqa: E731
    for dets in frames:
        if len(dets) < 2:
            continue
        order = sorted(dets, key=rank)
        kept: list[tuple[int, Obs]] = []
        for uid, o in order:
            same = [ku for ku, k in kept if one_body(o.kp, k.kp)]
            for ku, _ in kept:
                c = shared.setdefault((ku, uid), [0, 0])
                c[0] += 1
                c[1] += ku in same
            if same:
                out.add((o.frame, uid))
            else:
                kept.append((uid, o))
    second = {(a, b) for (a, b), (n, same) in shared.items() if same * 2 >= n and same >= 1}
    if second:
        for dets in frames:
            uids = {u for u, _ in dets}
            for a, b in second:
                if a in uids and b in uids:
                    out.add((next(o.frame for u, o in dets if u == b), b))
    return sorted(out)


def mark_crowded(frames: list[list[Obs]], min_iou: float = 0.15) -> None:
    """Flag each pose whose keypoint box overlaps another pose's in its frame."""
    for obs in frames:
        if len(obs) < 2:
            continue
        boxes = np.array([box_of(o.kp[:, :2], o.kp[:, 2], MIN_VIS) for o in obs])
        iou = iou_matrix(boxes, boxes)
        np.fill_diagonal(iou, 0.0)
        for o, row in zip(obs, iou, strict=True):
            o.crowded = bool(row.max() > min_iou)


def _without(frags: list[Fragment], dropped: set[int]) -> list[Fragment]:
    """The fragments without the ``Obs`` whose ``id()`` is in ``dropped`` (emptied ones left out)."""
    if not dropped:
        return frags
    out = []
    for f in frags:
        keep = [o for o in f.obs if id(o) not in dropped]
        if len(keep) == len(f.obs):
            out.append(f)
        elif keep:
            out.append(Fragment(f.uid, keep))
    return out


# ---------------------------------------------------------------------------- joining
@dataclass
class _Group:
    frags: list[Fragment]
    fr: np.ndarray            # every frame of the group, sorted
    fi: np.ndarray            # the index in ``frags`` of the fragment seen in each of them
    app: Appearance

    def start(self) -> int:
        return int(self.fr[0])


def _group(frags: list[Fragment]) -> _Group:
    frags = sorted(frags, key=lambda f: int(f.frames[0]))
    fr = np.concatenate([f.frames for f in frags])
    fi = np.concatenate([np.full(len(f), i) for i, f in enumerate(frags)])
    order = np.argsort(fr, kind="stable")
    apps = [f.app for f in frags if f.app.usable()]
    weights = [len(f) for f in frags if f.app.usable()]
    app = _weighted_mean(apps, weights) if apps else Appearance(None, None)
    return _Group(frags, fr[order], fi[order], app)


STATURE_MIN_POSES = 200     # poses of the clip needed for a perspective fit


def stature_fit(frags: list[Fragment]) -> tuple[np.ndarray, float, dict[int, float]] | None:
    """A fixed camera's perspective: the pixel height ``h`` (shoulders to feet) of a standing
    person grows linearly with the image row of the feet, ``h = a*y_foot + b``. Fitted robustly
    (iteratively, dropping poses beyond 2.5 sigma) over every clean measured pose of the clip,
    it gives each fragment a *stature*: its median ``h / (a*y_foot + b)`` (1 = the clip's typical
    person; the same person keeps it within a few per cent, people differ by 5-15 %).

    Returns ``(coef, residual, {uid: stature})`` with ``residual`` the median relative residual of
    the fit, or None with too few measured poses."""
    own: dict[int, list[tuple[float, float]]] = {}
    for f in frags:
        for o in f.obs:
            m = None if o.crowded else _stature_measure(o.kp)
            if m is not None:
                own.setdefault(f.uid, []).append(m)
    allm = np.array([m for ms in own.values() for m in ms]).reshape(-1, 2)
    if len(allm) < STATURE_MIN_POSES:
        return None
    a = np.c_[allm[:, 0], np.ones(len(allm))]
    keep = np.ones(len(allm), bool)
    for _ in range(5):
        coef = np.linalg.lstsq(a[keep], allm[keep, 1], rcond=None)[0]
        r = allm[:, 1] - a @ coef
        sigma = 1.4826 * float(np.median(np.abs(r[keep])))
        keep = np.abs(r) <= 2.5 * max(sigma, 1e-6)
    pred = a @ coef
    if (pred <= 0.2 * float(np.median(allm[:, 1]))).any():
        return None
    residual = float(np.median(np.abs(r) / pred))
    out = {}
    for uid, ms in own.items():
        if len(ms) >= STATURE_MIN_OWN:
            m = np.array(ms)
            out[uid] = float(np.median(m[:, 1] / (coef[0] * m[:, 0] + coef[1])))
    return coef, residual, out


def _weighted_mean(apps: list[Appearance], weights: list[int]) -> Appearance:
    def avg(parts):
        got = [(p, w) for p, w in zip(parts, weights, strict=True) if p is not None]
        if not got:
            return None
        m = sum(p * w for p, w in got)
        return m / m.sum()

    return Appearance(avg([a.torso for a in apps]), avg([a.legs for a in apps]))


class Linker:
    """Joins fragments into people (see the module docstring)."""

    def __init__(self, fps: float, config: LinkConfig | None = None, evidence: set[tuple[int, int]] = frozenset()):
        self.fps = fps if fps > 0 else 30.0
        self.config = config or LinkConfig()
        self.evidence = {tuple(sorted(p)) for p in evidence}
        self.stature: dict[int, float] = {}     # uid -> stature, when the clip's fit is good
        self.stature_residual: float | None = None
        self.swaps = 0
        self.fragment_of: dict[int, int] = {}   # id(Obs) -> uid of the fragment it ended in
        self.dropped: set[int] = set()          # id(Obs) of the poses dropped (drifted, taken over)

    def _handover(self, a: Fragment, fa: int, b: Fragment, fb: int) -> float:
        """Motion cost of ``a`` (last seen in frame ``fa``) becoming ``b`` (first seen in ``fb``):
        over 1 means impossible."""
        cfg = self.config
        ia = int(np.searchsorted(a.frames, fa, side="right")) - 1
        ib = int(np.searchsorted(b.frames, fb))
        gap = max(1, fb - fa)
        gs = gap / self.fps
        pa = np.median(a.pos[max(0, ia - 2): ia + 1], axis=0)
        pb = np.median(b.pos[ib: ib + 3], axis=0)
        k0 = max(0, ia - 9)
        vel = np.zeros(2)
        if ia - k0 >= 2:
            vel = (a.pos[ia] - a.pos[k0]) / max(1, a.frames[ia] - a.frames[k0])
        pred = pa + vel * min(gap, self.fps)
        sa = float(np.median(a.scale[max(0, ia - 4): ia + 1]))
        sb = float(np.median(b.scale[ib: ib + 5]))
        h = max(sa, sb, 1.0)
        d = min(np.linalg.norm(pb - pa), np.linalg.norm(pb - pred)) / h
        c_pos = d / (cfg.reach + cfg.speed * gs)
        c_size = abs(np.log(sb / sa)) / (cfg.size_change + cfg.size_rate * gs)
        return float(max(c_pos, c_size))

    def cost(self, x: _Group, y: _Group) -> float:
        """Cost of joining two groups (inf when they co-exist or a hand-over is impossible)."""
        cfg = self.config
        if np.intersect1d(x.fr, y.fr, assume_unique=True).size:
            return float("inf")
        # Hand-overs: where, on the joint timeline, the frame's pose changes from one group's to
        # the other's.
        fr = np.concatenate([x.fr, y.fr])
        gi = np.concatenate([np.zeros(len(x.fr), np.int64), np.ones(len(y.fr), np.int64)])
        fi = np.concatenate([x.fi, y.fi])
        order = np.argsort(fr, kind="stable")
        fr, gi, fi = fr[order], gi[order], fi[order]
        change = np.nonzero(gi[1:] != gi[:-1])[0]
        motion = 0.0
        longest = 0
        evidence = False
        groups = (x, y)
        for k in change:
            a, b = groups[gi[k]].frags[fi[k]], groups[gi[k + 1]].frags[fi[k + 1]]
            f0, f1 = int(fr[k]), int(fr[k + 1])
            ev = tuple(sorted((a.uid, b.uid))) in self.evidence
            evidence |= ev
            longest = max(longest, f1 - f0)
            m = self._handover(a, f0, b, f1)
            if m > 1.0 and not ev:
                return float("inf")
            motion = max(motion, min(m, 1.0))
        # The longer someone was unseen, the less where they reappear says: the motion term
        # tends to "unknown" (1) with the gap, so a long gap needs colours and proportions that
        # agree, not merely the absence of a contradiction.
        gs = longest / self.fps
        motion = max(motion, gs / (gs + cfg.memory))
        terms: list[tuple[float, float]] = [(1.0, min(1.0, motion))]
        dc = appearance.distance(x.app, y.app)
        if dc is None:
            if longest / self.fps > cfg.blind_gap and not evidence:
                return float("inf")
        else:
            terms.append((2.0, min(1.0, dc / cfg.colour_scale)))
        sx, sy = _group_shape(x), _group_shape(y)
        if sx is not None and sy is not None:
            ok = ~np.isnan(sx) & ~np.isnan(sy)
            if ok.sum() >= 3:
                terms.append((1.0, min(1.0, float(np.median(np.abs(sx[ok] - sy[ok]))) / 0.4)))
        hx, hy = self._group_stature(x), self._group_stature(y)
        if hx is not None and hy is not None:
            terms.append((cfg.stature_weight, min(1.0, abs(np.log(hx / hy)) / cfg.stature_scale)))
        c = sum(w * t for w, t in terms) / sum(w for w, _ in terms)
        return c * 0.5 if evidence else c

    def _group_stature(self, g: _Group) -> float | None:
        got = [(self.stature[f.uid], len(f)) for f in g.frags if f.uid in self.stature]
        if not got:
            return None
        return float(np.exp(sum(np.log(s) * n for s, n in got) / sum(n for _, n in got)))

    def _rivals(self, sym: Callable[[int], np.ndarray], i: int, j: int, c: float) -> list[float]:
        """Costs of the candidates that compete with joining groups ``i`` and ``j`` (``sym(k)``:
        every group's cost with group ``k``): within ``margin`` of ``c``; at ``c`` up to
        ``chain_cost``, not those that could join the other side as well; with
        ``weigh_alternatives``, not one that is clearly better off with a partner of its own."""
        cfg = self.config
        si, sj = sym(i), sym(j)
        out = []
        for own, other, contested, mate in ((si, sj, i, j), (sj, si, j, i)):
            for k in np.nonzero(own < c + cfg.margin)[0]:
                if k in (i, j):
                    continue
                if c <= cfg.chain_cost and other[k] <= cfg.max_cost:
                    continue
                if cfg.weigh_alternatives and self._better_apart(sym, contested, mate, int(k), c):
                    continue
                out.append(float(own[k]))
        return out

    def _better_apart(self, sym: Callable[[int], np.ndarray], contested: int, mate: int, rival: int,
                      c: float) -> bool:
        """Whether ``rival`` taking ``contested`` from ``mate`` is clearly worse for the two pairs
        than the join (cost ``c``): the join plus the rival with its best other partner, against
        the rival with ``contested`` plus ``mate`` with its best other partner (a group with none
        stays alone, which costs ``max_cost``). Two fragments contested by each other's partners,
        each of which has a clear match, then no longer block each other."""
        cfg = self.config

        def best_without(k: int, *others: int) -> float:
            row = sym(k).copy()
            row[list(others)] = np.inf
            return min(float(row.min()), cfg.max_cost)

        joined = c + best_without(rival, contested, mate)
        taken = float(sym(rival)[contested]) + best_without(mate, contested, rival)
        return taken >= joined + cfg.margin

    def link(self, frags: list[Fragment]) -> dict[int, int]:
        """uid -> person number (0, 1, ... in order of first appearance). Poses dropped as
        drifted (:func:`~edgepose.analyze.strays.drop_drifted`) or as a taken-over fragment's last second estimates
        (:func:`~edgepose.analyze.strays.drop_taken_over`; both in ``self.dropped``) are in no fragment any more; a
        fragment left empty has no person."""
        self.stature, self.stature_residual = {}, None
        cfg = self.config
        self.dropped = strays.drop_drifted(frags, self.fps, cfg.drift_size, cfg.drift_window)
        frags = _without(frags, self.dropped)
        taken = strays.drop_taken_over(frags, cfg.overlap_frames, cfg.overlap_dist)
        if cfg.interleaved_share > 0:
            taken |= strays.drop_interleaved(_without(frags, taken), cfg.overlap_dist, cfg.interleaved_share)
        frags = _without(frags, taken)
        self.dropped |= taken
        if cfg.split_gap > 0:
            frags = gaps.split_at_gaps(frags, max(2, round(cfg.split_gap * self.fps)), Fragment,
                                     cfg.split_reach)
        if self.config.stature_scale > 0:
            fit = stature_fit(frags)
            if fit is not None:
                self.stature_residual = fit[1]
                if fit[1] <= self.config.stature_fit:
                    self.stature = fit[2]
                log.debug("stature fit: h = %.4f y_foot + %.1f, median residual %.3f (%s)", fit[0][0], fit[0][1],
                          fit[1], "used" if self.stature else "not used")
                if self.stature and np.isfinite(self.config.swap_gain):
                    frags, self.swaps = repair_swaps(frags, fit[0], self.fps, self.config)
                    frags, takeovers, seconds = repair_takeovers(frags, fit[0], self.fps, self.config)
                    self.swaps += takeovers
                    self.dropped |= seconds
                    if self.swaps:
                        self.stature = stature_fit(frags)[2]
        self.fragment_of = {id(o): f.uid for f in frags for o in f.obs}
        groups = [_group([f]) for f in frags]
        n = len(groups)
        cost = np.full((n, n), np.inf)
        for i in range(n):
            for j in range(i + 1, n):
                cost[i, j] = self.cost(groups[i], groups[j])
        alive = [True] * n
        merges = 0
        sym = lambda k: np.minimum(cost[k, :], cost[:, k])  # noqa: E731  (cost is upper-triangular)
        # Pairs refused as ambiguous are never joined but stay rivals: refusing the best of two
        # candidates must not hand the join to the runner-up.
        refused = np.zeros((n, n), bool)
        self.ambiguous = 0
        while n > 1:
            open_ = np.where(refused, np.inf, cost)
            i, j = np.unravel_index(int(np.argmin(open_)), cost.shape)
            if not open_[i, j] <= self.config.max_cost:
                break
            # Only a join the evidence singles out: when either side has another candidate
            # nearly as good (similar clothes in a crowd), the pair stays apart -- unless, for a
            # cheap pair, every such rival could be the other side's person too (a chain of one
            # person's fragments: nothing to choose between).
            rivals = self._rivals(sym, i, j, float(cost[i, j]))
            if rivals:
                log.debug("ambiguous %s + %s (cost %.3f, a rival %.3f)", [f.uid for f in groups[i].frags],
                          [f.uid for f in groups[j].frags], cost[i, j], min(rivals))
                refused[i, j] = True
                self.ambiguous += 1
                continue
            log.debug("join %s + %s (cost %.3f)", [f.uid for f in groups[i].frags], [f.uid for f in groups[j].frags],
                      cost[i, j])
            groups[i] = _group(groups[i].frags + groups[j].frags)
            alive[j] = False
            cost[j, :] = np.inf
            cost[:, j] = np.inf
            refused[i, :] = refused[:, i] = False       # a new group: its pairs are weighed afresh
            merges += 1
            for k in range(len(groups)):
                if k != i and alive[k]:
                    c = self.cost(groups[i], groups[k])
                    cost[min(i, k), max(i, k)] = c
        people = sorted((g for g, a in zip(groups, alive, strict=True) if a), key=lambda g: g.start())
        self.merges = merges
        return {f.uid: pid for pid, g in enumerate(people) for f in g.frags}


def _group_shape(g: _Group) -> np.ndarray | None:
    shapes = [f.shape for f in g.frags if f.shape is not None]
    if not shapes:
        return None
    w = np.array([len(f) for f in g.frags if f.shape is not None], float)
    arr = np.array(shapes)
    ok = ~np.isnan(arr)
    s = np.where(ok, arr, 0.0) * w[:, None]
    den = (ok * w[:, None]).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, s.sum(0) / np.maximum(den, 1e-9), np.nan)

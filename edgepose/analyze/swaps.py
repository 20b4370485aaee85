"""Identity swaps of pass 1's tracker where two people cross, undone before the joining.

Where two people's tracks meet, the online tracker can leave each on the other's person
(:func:`repair_swaps`: both tracks go on, exchanged), or put one track on the other's person
while that person's own track ends there (:func:`repair_takeovers`: on vtest.avi two small
pedestrians crossing at the top of the lawn, one turning back: the turner's track went on with
the walker, the walker's ended, and the turner came back as a new track). Both compare the
stature (:func:`edgepose.analyze.relink.stature_fit`) and colours of a couple of seconds before
and after the meeting: who the tail looks like decides.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from edgepose.analyze import appearance
from edgepose.analyze.appearance import Appearance
from edgepose.skeleton import COCO_INDEX

log = logging.getLogger("edgepose.analyze.relink")

_C = COCO_INDEX
Obs = Any          # edgepose.analyze.relink.Obs (that module builds on this one)
Fragment = Any     # edgepose.analyze.relink.Fragment: frames, pos, scale, obs, uid
LinkConfig = Any   # edgepose.analyze.relink.LinkConfig: swap_gain, swap_window, stature_scale, colour_scale


_STATURE_KP = [_C[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip",
                                "left_ankle", "right_ankle")]
STATURE_MIN_OWN = 5         # a fragment's measured poses needed for its stature


def _stature_measure(kp: np.ndarray) -> tuple[float, float] | None:
    """``(foot y, shoulder-to-foot height)`` in pixels of an upright pose whose shoulders, hips
    and ankles are all seen; else None."""
    if kp[_STATURE_KP, 2].min() < 0.5:
        return None
    ls, rs, la, ra = (_C[n] for n in ("left_shoulder", "right_shoulder", "left_ankle", "right_ankle"))
    foot = (kp[la, 1] + kp[ra, 1]) / 2
    h = foot - (kp[ls, 1] + kp[rs, 1]) / 2
    return (float(foot), float(h)) if h > 0 else None


def _window(obs: list[Obs], stature: Callable[[Obs], float | None]) -> tuple[float, Appearance] | None:
    s = [v for v in (stature(o) for o in obs if not o.crowded) if v is not None]
    apps = [o.app for o in obs if o.app is not None and o.app.usable() and not o.crowded]
    if len(s) < STATURE_MIN_OWN or len(apps) < 4:
        return None
    return float(np.median(s)), appearance.mean(apps)


def _window_distance(x: tuple[float, Appearance], y: tuple[float, Appearance], cfg: LinkConfig) -> float:
    dc = appearance.distance(x[1], y[1])
    dc = cfg.colour_scale / 2 if dc is None else dc
    return (min(1.0, abs(np.log(x[0] / y[0])) / cfg.stature_scale)
            + 2 * min(1.0, dc / cfg.colour_scale)) / 3


SWAP_STRIDE = 8            # repair_swaps looks at a close pair every swap_window / this...
SWAP_COARSE_SLACK = 0.15   # ...and around the best look when it is within this of swap_gain


def repair_swaps(frags: list[Fragment], coef: np.ndarray, fps: float, cfg: LinkConfig) -> tuple[list[Fragment], int]:
    """Undo identity swaps of pass 1's tracker where two people cross: for two co-existing
    fragments, at each frame where their torso centres are within half a body height, compare
    stature and colours over ``swap_window`` before and after; when "P before = Q after and Q
    before = P after" fits better than each staying itself by ``swap_gain``, their tails from
    that frame are exchanged (the best such frame of the best pair first, then again). Returns
    the fragments (the heads keep their uids) and the number of swaps."""
    def stature(o: Obs) -> float | None:
        m = _stature_measure(o.kp)
        return None if m is None else m[1] / (coef[0] * m[0] + coef[1])

    w = max(3, int(round(cfg.swap_window * fps)))
    stride = max(1, w // SWAP_STRIDE)
    frags = list(frags)
    swaps = 0
    done: set[tuple[int, int, int]] = set()
    windows: dict[tuple[int, int, int], tuple[float, Appearance] | None] = {}  # this pass's, by slice

    def window(k: int, lo: int, hi: int) -> tuple[float, Appearance] | None:
        key = (k, max(0, lo), hi)
        if key not in windows:
            windows[key] = _window(frags[k].obs[key[1]:hi], stature)
        return windows[key]

    def gain_at(a: int, b: int, pi: int, qi: int) -> float | None:
        win = [window(a, pi - w, pi), window(a, pi, pi + w), window(b, qi - w, qi), window(b, qi, qi + w)]
        if any(x is None for x in win):
            return None
        pb, pa, qb, qa = win
        return (_window_distance(pb, pa, cfg) + _window_distance(qb, qa, cfg)
                - _window_distance(pb, qa, cfg) - _window_distance(qb, pa, cfg))

    while True:
        best = None
        index = [{int(fr): i for i, fr in enumerate(f.frames)} for f in frags]
        windows.clear()       # the fragments changed with the last swap
        for a in range(len(frags)):
            for b in range(a + 1, len(frags)):
                P, Q = frags[a], frags[b]
                if P.frames[0] > Q.frames[-1] or Q.frames[0] > P.frames[-1]:
                    continue
                close = []
                for t in sorted(set(index[a]) & set(index[b])):
                    pi, qi = index[a][t], index[b][t]
                    if min(pi, qi) < 1 or (P.uid, Q.uid, t) in done:
                        continue
                    if np.linalg.norm(P.pos[pi] - Q.pos[qi]) <= 0.5 * max(P.scale[pi], Q.scale[qi]):
                        close.append((t, pi, qi))
                # Two people side by side are close in every frame: look every ``stride`` frames
                # (the windows overlap by all but a few frames, so the gain moves little), then at
                # every frame around the best coarse one.
                coarse = [(g, k) for k in range(0, len(close), stride)
                          if (g := gain_at(a, b, close[k][1], close[k][2])) is not None]
                if not coarse or max(coarse)[0] < cfg.swap_gain - SWAP_COARSE_SLACK:
                    continue
                k0 = max(coarse)[1]
                for k in range(max(0, k0 - stride), min(len(close), k0 + stride + 1)):
                    t, pi, qi = close[k]
                    gain = gain_at(a, b, pi, qi)
                    if gain is not None and gain >= cfg.swap_gain and (best is None or gain > best[0]):
                        best = (gain, a, b, pi, qi, t)
        if best is None:
            return frags, swaps
        gain, a, b, pi, qi, t = best
        P, Q = frags[a], frags[b]
        log.debug("swap: fragments %d and %d exchange their poses from frame %d (gain %.3f)", P.uid, Q.uid, t, gain)
        frags[a] = type(P)(P.uid, P.obs[:pi] + Q.obs[qi:])
        frags[b] = type(Q)(Q.uid, Q.obs[:qi] + P.obs[pi:])
        done.add((P.uid, Q.uid, t))
        swaps += 1


TAKEOVER_END = 5   # frames: a track that ends this soon after meeting another may have been taken over
TAKEOVER_SAME = 0.25  # body heights: the ended track's last poses this close to the other's are one body
TAKEOVER_TIE = 0.01   # gains this close to a pair's best are the same take-over


def repair_takeovers(frags: list[Fragment], coef: np.ndarray, fps: float,
                     cfg: LinkConfig) -> tuple[list[Fragment], int, set[int]]:
    """Undo a take-over: track Q ends within :data:`TAKEOVER_END` frames of meeting track P
    (torso centres within half a body height), and P's next ``swap_window`` seconds look like
    Q's last ones rather than like P's own before the meeting, by ``swap_gain / 2`` (one of the
    two distances :func:`repair_swaps` sums). Then the tracker moved P onto Q's person there:
    P's tail from that frame becomes Q's. Q's last poses from it are P's again, except those on
    the body P's tail holds in the same frame (within :data:`TAKEOVER_SAME` of a body height:
    both tracks were on Q's person), which are dropped as second estimates. The best meeting of
    the best pair first, then again. Returns the fragments, the number of repairs and the
    ``id()`` of the dropped poses."""
    def stature(o: Obs) -> float | None:
        m = _stature_measure(o.kp)
        return None if m is None else m[1] / (coef[0] * m[0] + coef[1])

    w = max(3, int(round(cfg.swap_window * fps)))
    frags = list(frags)
    repairs = 0
    dropped: set[int] = set()
    done: set[tuple[int, int, int]] = set()
    while True:
        best = None
        for a, P in enumerate(frags):
            at = {int(fr): i for i, fr in enumerate(P.frames)}
            for b, Q in enumerate(frags):
                if b == a or not P.frames[0] < Q.frames[-1] < P.frames[-1] - w:
                    continue
                found: list[tuple[float, int, int, int, int, int]] = []
                for qi in range(max(1, len(Q.frames) - TAKEOVER_END), len(Q.frames)):
                    t = int(Q.frames[qi])
                    pi = at.get(t)
                    if pi is None or pi < 1 or (P.uid, Q.uid, t) in done or \
                            np.linalg.norm(P.pos[pi] - Q.pos[qi]) > 0.5 * max(P.scale[pi], Q.scale[qi]):
                        continue
                    pb, pa = _window(P.obs[max(0, pi - w):pi], stature), _window(P.obs[pi:pi + w], stature)
                    qb = _window(Q.obs[max(0, qi - w):qi + 1], stature)
                    if pb is None or pa is None or qb is None:
                        continue
                    gain = _window_distance(pb, pa, cfg) - _window_distance(qb, pa, cfg)
                    if gain >= cfg.swap_gain / 2:
                        found.append((gain, a, b, pi, qi, t))
                # From the frame P is on Q's person, later frames give the same windows: the
                # earliest frame at the pair's best gain is where the track moved.
                if found:
                    top = max(g[0] for g in found)
                    first = next(g for g in found if g[0] >= top - TAKEOVER_TIE)
                    if best is None or top > best[0]:
                        best = (top, *first[1:])
        if best is None:
            return frags, repairs, dropped
        gain, a, b, pi, qi, t = best
        P, Q = frags[a], frags[b]
        log.debug("take-over: fragment %d goes on with fragment %d's person from frame %d (gain %.3f)",
                  P.uid, Q.uid, t, gain)
        at = {int(fr): i for i, fr in enumerate(P.frames)}
        back = []
        for k in range(qi, len(Q.frames)):
            j = at.get(int(Q.frames[k]))
            if j is not None and np.linalg.norm(P.pos[j] - Q.pos[k]) <= TAKEOVER_SAME * max(P.scale[j], Q.scale[k]):
                dropped.add(id(Q.obs[k]))
            else:
                back.append(Q.obs[k])
        frags[a] = type(P)(P.uid, P.obs[:pi] + back)
        frags[b] = type(Q)(Q.uid, Q.obs[:qi] + P.obs[pi:])
        done.add((P.uid, Q.uid, t))
        repairs += 1

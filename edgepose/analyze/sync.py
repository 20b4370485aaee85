"""Synchronisation of performers from their joint-angle trajectories (numpy only).

The method and its formulas are in ``docs/sync.md``. In short, for each performer:

1. eight joint angles (elbows, shoulders, hips, knees; each in ``[0, pi]``, so size, position and
   camera distance drop out) per frame, resampled onto one uniform time grid, short gaps
   interpolated, lightly smoothed; their time derivative is the angular velocity;
2. for a pair ``(a, b)`` at time ``t`` the **posture agreement**
   ``p(t) = exp(-d(t)^2 / (2 sigma^2))`` with ``d`` the RMS angle difference, and over a window
   ``W`` around ``t`` the **motion agreement**
   ``m(t) = (sum va.vb + eps) / sqrt((sum va^2 + eps)(sum vb^2 + eps))`` (two performers holding
   still agree; one moving while the other holds does not);
3. the pair score ``S(t) = sqrt(mean_W p * max(0, m))`` in ``[0, 1]``; mirroring is handled by
   also scoring ``a`` against ``b`` with left and right swapped and keeping the better;
4. the lag by cross-correlating the angular velocities over +-``max_lag_s``; ``lag > 0`` means
   ``b`` follows ``a`` (``a`` leads);
5. the group score is the mean of the pair scores; each performer's deviation is the RMS
   distance of their angles to the median of the others'; moves are cut at the deep minima of the
   group's mean angular speed (where the group passes through a pose).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from edgepose.skeleton import BLAZE_INDEX, COCO_INDEX

# name: (a, vertex, b) -- the angle at the vertex.
ANGLES: dict[str, tuple[str, str, str]] = {
    "left_elbow": ("left_shoulder", "left_elbow", "left_wrist"),
    "right_elbow": ("right_shoulder", "right_elbow", "right_wrist"),
    "left_shoulder": ("left_hip", "left_shoulder", "left_elbow"),
    "right_shoulder": ("right_hip", "right_shoulder", "right_elbow"),
    "left_hip": ("left_shoulder", "left_hip", "left_knee"),
    "right_hip": ("right_shoulder", "right_hip", "right_knee"),
    "left_knee": ("left_hip", "left_knee", "left_ankle"),
    "right_knee": ("right_hip", "right_knee", "right_ankle"),
}
ANGLE_NAMES: tuple[str, ...] = tuple(ANGLES)
# Column permutation that swaps each left angle with its right twin.
MIRROR: tuple[int, ...] = tuple(
    ANGLE_NAMES.index(n.replace("left_", "right_") if n.startswith("left_") else n.replace("right_", "left_"))
    for n in ANGLE_NAMES
)


@dataclass(frozen=True)
class SyncConfig:
    """Parameters of the synchronisation measure (see docs/sync.md).

    Attributes
    ----------
    sigma_deg: posture tolerance: an RMS angle difference of sigma gives p = 0.61.
    window_s: width of the window for the motion agreement and the posture mean.
    still_deg_s: angular speed below which a joint counts as holding still (sets eps).
    max_lag_s: largest lag searched.
    smooth_s: moving-average width applied to the angles.
    max_gap_s: longest gap in a performer's angles that is interpolated.
    min_visibility: keypoints below this visibility make an angle unknown.
    move_min_s: shortest move.
    move_depth: a speed minimum cuts two moves when it is below this fraction of both
        neighbouring peaks.
    """

    sigma_deg: float = 25.0
    window_s: float = 1.0
    still_deg_s: float = 30.0
    max_lag_s: float = 1.0
    smooth_s: float = 0.25
    max_gap_s: float = 0.5
    min_visibility: float = 0.3
    move_min_s: float = 0.5
    move_depth: float = 0.6


@dataclass
class PairSync:
    """Synchronisation of performers ``a`` and ``b``.

    Attributes
    ----------
    score: ``(T,)`` time-resolved score at zero lag (NaN where either is unknown).
    mean: mean of ``score``.
    lag_s: lag of ``b`` behind ``a`` in seconds (negative: ``b`` leads).
    lag_corr: peak normalised cross-correlation of the angular velocities (confidence).
    aligned_mean: mean score after shifting ``b`` by the lag (same choreography, any timing).
    mirrored: share of time the left/right-swapped comparison scored better.
    """

    a: int
    b: int
    score: np.ndarray
    mean: float
    lag_s: float
    lag_corr: float
    aligned_mean: float
    mirrored: float

    @property
    def leader(self) -> int | None:
        """Who leads (None when the lag is under 20 ms or the correlation is weak)."""
        if self.lag_corr < 0.2 or abs(self.lag_s) < 0.02:
            return None
        return self.a if self.lag_s > 0 else self.b


@dataclass
class GroupSync:
    """Synchronisation of the whole group on the time grid ``t``."""

    t: np.ndarray
    ids: list[int]
    score: np.ndarray                                   # (T,) mean of the pair scores
    pairs: list[PairSync]
    deviation_deg: dict[int, np.ndarray]                # id -> (T,) RMS angle distance to the others
    moves: list[tuple[float, float, float]]             # (start s, end s, mean group score)
    speed: np.ndarray                                   # (T,) group mean angular speed, deg/s
    mean: float = float("nan")
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------- angles
def joint_angles(kp: np.ndarray, layout: str = "blazepose33", min_visibility: float = 0.3) -> np.ndarray:
    """``(n, 8)`` joint angles in radians from ``(n, K, 3)`` keypoints; NaN where a point is unseen."""
    kp = np.asarray(kp, dtype=np.float64)
    index = BLAZE_INDEX if layout == "blazepose33" else COCO_INDEX
    out = np.full((kp.shape[0], len(ANGLES)), np.nan)
    for j, (a, v, b) in enumerate(ANGLES.values()):
        pa, pv, pb = kp[:, index[a]], kp[:, index[v]], kp[:, index[b]]
        u, w = pa[:, :2] - pv[:, :2], pb[:, :2] - pv[:, :2]
        nu, nw = np.linalg.norm(u, axis=1), np.linalg.norm(w, axis=1)
        ok = (np.minimum(np.minimum(pa[:, 2], pv[:, 2]), pb[:, 2]) >= min_visibility) & (nu > 1e-6) & (nw > 1e-6)
        cos = np.einsum("ij,ij->i", u, w) / np.maximum(nu * nw, 1e-12)
        out[ok, j] = np.arccos(np.clip(cos[ok], -1.0, 1.0))
    return out


def resample(t: np.ndarray, angles: np.ndarray, grid: np.ndarray, max_gap_s: float) -> np.ndarray:
    """Angles at the times ``grid`` by linear interpolation; NaN outside the data and in long gaps."""
    t = np.asarray(t, float)
    out = np.full((len(grid), angles.shape[1]), np.nan)
    for j in range(angles.shape[1]):
        ok = np.isfinite(angles[:, j])
        if ok.sum() < 2:
            continue
        tj, aj = t[ok], angles[ok, j]
        val = np.interp(grid, tj, aj)
        # The nearest sample on each side must be close enough.
        pos = np.searchsorted(tj, grid)
        left = np.abs(grid - tj[np.clip(pos - 1, 0, len(tj) - 1)])
        right = np.abs(tj[np.clip(pos, 0, len(tj) - 1)] - grid)
        near = np.minimum(left, right) <= 1e-6
        bridged = (left + right) <= max_gap_s + 1e-6
        inside = (grid >= tj[0] - 1e-6) & (grid <= tj[-1] + 1e-6)
        keep = inside & (near | bridged)
        out[keep, j] = val[keep]
    return out


def _fit(n: int, length: int) -> int:
    """An odd window no longer than the signal (``np.convolve(mode="same")`` keeps the length)."""
    n = min(n, length)
    return max(1, n if n % 2 else n - 1)


def _moving_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving mean over ``n`` samples along axis 0, ignoring NaN (NaN stays NaN)."""
    n = _fit(n, len(x))
    if n <= 1:
        return x.copy()
    ok = np.isfinite(x)
    v = np.where(ok, x, 0.0)
    k = np.ones(n)
    conv = lambda a: np.apply_along_axis(lambda c: np.convolve(c, k, mode="same"), 0, a)  # noqa: E731
    s, c = conv(v), conv(ok.astype(float))
    out = np.where(c > 0, s / np.maximum(c, 1e-12), np.nan)
    out[~ok] = np.nan
    return out


def prepare(t: np.ndarray, angles: np.ndarray, grid: np.ndarray, rate: float,
            cfg: SyncConfig) -> tuple[np.ndarray, np.ndarray]:
    """Resampled, smoothed angles and their angular velocity (rad/s) on ``grid``."""
    a = resample(t, angles, grid, cfg.max_gap_s)
    a = _moving_mean(a, max(1, int(round(cfg.smooth_s * rate)) | 1))
    v = np.full_like(a, np.nan)
    if len(a) >= 3:
        v[1:-1] = (a[2:] - a[:-2]) * rate / 2.0
    return a, v


# ---------------------------------------------------------------------------- pair score
def _window_sum(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving sum over ``n`` samples along axis 0 (NaN treated as 0)."""
    n = _fit(n, len(x))
    return np.convolve(np.nan_to_num(x), np.ones(n), mode="same")


def pair_score(aa: np.ndarray, va: np.ndarray, ab: np.ndarray, vb: np.ndarray, rate: float,
               cfg: SyncConfig) -> np.ndarray:
    """``S(t)`` of docs/sync.md for one orientation of the pair (no mirroring), ``(T,)``."""
    sigma = np.radians(cfg.sigma_deg)
    both = np.isfinite(aa) & np.isfinite(ab)
    n_j = both.sum(1)
    diff2 = np.where(both, (aa - ab) ** 2, 0.0).sum(1)
    d2 = np.where(n_j > 0, diff2 / np.maximum(n_j, 1), np.nan)
    p = np.exp(-d2 / (2 * sigma ** 2))
    w = max(3, int(round(cfg.window_s * rate)) | 1)
    p_ok = np.isfinite(p)
    p_mean = _window_sum(np.where(p_ok, p, 0.0), w) / np.maximum(_window_sum(p_ok.astype(float), w), 1e-12)
    vboth = np.isfinite(va) & np.isfinite(vb)
    dot = _window_sum(np.where(vboth, va * vb, 0.0).sum(1), w)
    ea = _window_sum(np.where(vboth, va * va, 0.0).sum(1), w)
    eb = _window_sum(np.where(vboth, vb * vb, 0.0).sum(1), w)
    cnt = _window_sum(vboth.sum(1).astype(float), w)
    eps = cnt * np.radians(cfg.still_deg_s) ** 2
    m = (dot + eps) / np.sqrt((ea + eps) * (eb + eps) + 1e-18)
    m = np.where(cnt > 0, m, np.nan)
    s = np.sqrt(np.clip(p_mean, 0, 1) * np.clip(m, 0, 1))
    s[~p_ok] = np.nan
    return s


def _shift(x: np.ndarray, k: int) -> np.ndarray:
    """``y[t] = x[t + k]`` with NaN outside."""
    y = np.full_like(x, np.nan)
    if k >= 0:
        y[: len(x) - k] = x[k:]
    else:
        y[-k:] = x[: len(x) + k]
    return y


def estimate_lag(va: np.ndarray, vb: np.ndarray, rate: float, max_lag_s: float) -> tuple[float, float]:
    """``(lag_s, peak correlation)``: ``b(t + lag) ~ a(t)``, so ``lag > 0`` means ``b`` follows ``a``.

    Normalised cross-correlation of the angular velocities over the samples both have, for every
    whole-frame lag up to ``max_lag_s``; the peak is refined to sub-frame by a parabola.
    """
    T = len(va)
    K = int(min(max_lag_s * rate, max(0, T // 3)))
    lags = np.arange(-K, K + 1)
    corr = np.full(len(lags), -np.inf)
    for i, k in enumerate(lags):
        sb = _shift(vb, k)
        ok = np.isfinite(va) & np.isfinite(sb)
        if ok.sum() < max(8, 0.2 * va.size):
            continue
        x, y = va[ok], sb[ok]
        den = np.sqrt((x * x).sum() * (y * y).sum())
        corr[i] = (x * y).sum() / den if den > 0 else 0.0
    if not np.isfinite(corr).any():
        return 0.0, 0.0
    i = int(np.argmax(corr))
    k = float(lags[i])
    if 0 < i < len(lags) - 1 and np.isfinite(corr[i - 1]) and np.isfinite(corr[i + 1]):
        den = corr[i - 1] - 2 * corr[i] + corr[i + 1]
        if den < 0:
            k += 0.5 * (corr[i - 1] - corr[i + 1]) / den
    return k / rate, float(corr[i])


def _mean(x: np.ndarray) -> float:
    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")


def sync_pair(a: int, b: int, A: tuple[np.ndarray, np.ndarray], B: tuple[np.ndarray, np.ndarray], rate: float,
              cfg: SyncConfig | None = None) -> PairSync:
    """Score, lag and aligned score of one pair from their prepared ``(angles, velocity)``."""
    cfg = cfg or SyncConfig()
    (aa, va), (ab, vb) = A, B
    m = list(MIRROR)
    direct = pair_score(aa, va, ab, vb, rate, cfg)
    mirror = pair_score(aa, va, ab[:, m], vb[:, m], rate, cfg)
    score = np.fmax(direct, mirror)
    known = np.isfinite(direct) & np.isfinite(mirror)
    mirrored = float((mirror[known] > direct[known]).mean()) if known.any() else 0.0
    lag_d, c_d = estimate_lag(va, vb, rate, cfg.max_lag_s)
    lag_m, c_m = estimate_lag(va, vb[:, m], rate, cfg.max_lag_s)
    lag, corr = (lag_d, c_d) if c_d >= c_m else (lag_m, c_m)
    k = int(round(lag * rate))
    if k:
        sa, sv = _shift(ab, k), _shift(vb, k)
        aligned = np.fmax(pair_score(aa, va, sa, sv, rate, cfg), pair_score(aa, va, sa[:, m], sv[:, m], rate, cfg))
    else:
        aligned = score
    return PairSync(a, b, score, _mean(score), lag, corr, _mean(aligned), mirrored)


# ---------------------------------------------------------------------------- group
def segment_moves(speed: np.ndarray, rate: float, cfg: SyncConfig) -> list[tuple[int, int]]:
    """``[(start, end)]`` sample ranges cut at the deep minima of the group's angular speed."""
    T = len(speed)
    if T == 0:
        return []
    s = np.nan_to_num(_moving_mean(speed[:, None], max(1, int(round(0.3 * rate)) | 1))[:, 0])
    minima = [i for i in range(1, T - 1) if s[i] <= s[i - 1] and s[i] < s[i + 1]]
    min_len = max(1, int(round(cfg.move_min_s * rate)))
    cuts = [0]
    for n, i in enumerate(minima):
        nxt = minima[n + 1] if n + 1 < len(minima) else T - 1
        left_peak = s[cuts[-1]:i + 1].max()
        right_peak = s[i:nxt + 1].max()
        if s[i] < cfg.move_depth * min(left_peak, right_peak) and i - cuts[-1] >= min_len and T - i >= min_len:
            cuts.append(i)
    cuts.append(T)
    return [(cuts[i], cuts[i + 1]) for i in range(len(cuts) - 1)]


def group_sync(series: dict[int, tuple[np.ndarray, np.ndarray]], rate: float,
               cfg: SyncConfig | None = None) -> GroupSync:
    """Synchronisation of every pair and of the group.

    Parameters
    ----------
    series:
        id -> ``(t, angles)``: each performer's frame times (s) and ``(n, 8)`` joint angles
        (:func:`joint_angles`).
    rate:
        Rate of the common time grid (the video's frame rate).
    """
    cfg = cfg or SyncConfig()
    ids = sorted(series)
    t0 = min(float(np.min(t)) for t, _ in series.values()) if series else 0.0
    t1 = max(float(np.max(t)) for t, _ in series.values()) if series else 0.0
    grid = t0 + np.arange(int(np.floor((t1 - t0) * rate + 1e-6)) + 1) / rate
    prep = {i: prepare(*series[i], grid, rate, cfg) for i in ids}
    pairs = [sync_pair(a, b, prep[a], prep[b], rate, cfg) for n, a in enumerate(ids) for b in ids[n + 1:]]
    score = np.full(len(grid), np.nan)
    if pairs:
        stack = np.array([p.score for p in pairs])
        has = np.isfinite(stack).any(0)
        score[has] = np.nanmean(stack[:, has], axis=0)
    # Deviation: each performer against the median of the others (each oriented like them).
    mirrored = {(p.a, p.b): p.mirrored > 0.5 for p in pairs}
    deviation: dict[int, np.ndarray] = {}
    for i in ids:
        others = []
        for o in ids:
            if o == i:
                continue
            flip = mirrored.get((min(i, o), max(i, o)), False)
            others.append(prep[o][0][:, list(MIRROR)] if flip else prep[o][0])
        if not others:
            deviation[i] = np.full(len(grid), np.nan)
            continue
        stack = np.array(others)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = np.nanmedian(np.where(np.isfinite(stack), stack, np.nan), axis=0) if np.isfinite(stack).any() \
                else np.full_like(prep[i][0], np.nan)
            d = prep[i][0] - ref
            n = np.isfinite(d).sum(1)
            deviation[i] = np.where(n > 0, np.degrees(np.sqrt(np.nansum(d * d, 1) / np.maximum(n, 1))), np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        spd = np.array([np.sqrt(np.nanmean(prep[i][1] ** 2, axis=1)) for i in ids]) if ids else np.zeros((0, len(grid)))
        speed = np.degrees(np.nanmean(spd, axis=0)) if ids else np.full(len(grid), np.nan)
    moves = []
    for s, e in segment_moves(speed, rate, cfg):
        moves.append((float(grid[s]), float(grid[min(e, len(grid)) - 1]), _mean(score[s:e])))
    return GroupSync(grid, ids, score, pairs, deviation, moves, speed, _mean(score))

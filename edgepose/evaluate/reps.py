"""Repetition counting on a smoothed signal, with hysteresis that calibrates itself.

A rep is one excursion of the signal away from its rest level and back. The counter works on
``y`` = the signal, negated for ``direction = "down"`` programs, so a rep always takes ``y`` up to
a *far* extreme and back down to a *rest* extreme.

Turning points are found with a zig-zag rule: an extreme is confirmed only when the signal has
come back from it by at least ``h``, where

    h = max(0.5 * min_amplitude, hysteresis * typical_swing)

``typical_swing`` is the median of the last four swings between confirmed turning points once
there are two, and before that the spread of the smoothed signal over the last ``window_s``
seconds. Jitter smaller than ``h`` therefore never makes a turning point, whatever the units,
the body size or the camera distance; ``h`` follows the movement the person actually makes, and
a slow drift (the person walking towards the camera) does not inflate it. A rep
is counted when its far extreme is confirmed and its excursion from the preceding rest extreme is
at least ``min_amplitude`` (smaller ones are "partial": too small to be a rep), and its far
extreme comes at least ``min_period_s`` after the previous rep's (nobody repeats faster; a quicker
second far extreme is a wobble of the same rep and is merged into it). A far extreme with no rest extreme before it
(the person starts mid-rep) is not a rep.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

GAP_RESET_S = 2.0
END_CREDIT = 0.75
SPREAD_PCT = (5.0, 95.0)  # the recent spread ignores the outer 5 % of samples on each side
MIN_OUT_SHARE = 0.25  # the way out (rest to far) of a rep takes at least this share of min_period_s
RHYTHM_SHARE = 0.5  # far extremes closer than this share of the usual rep spacing are one rep
REST_BAND = 0.1  # a rep starts and ends where the signal leaves / re-enters 10 % of its excursion  # after this long without a signal, a half-done rep is forgotten


class Smoother:
    """Median of the last three samples, then an exponential average with time constant ``tau``.

    The median removes one-frame glitches (a swapped limb); the average removes jitter. Time
    aware, so a varying frame rate smooths the same.
    """

    def __init__(self, tau_s: float) -> None:
        self.tau = tau_s
        self.buf: deque[float] = deque(maxlen=3)
        self.y: float | None = None
        self.t: float | None = None

    def reset(self) -> None:
        self.buf.clear()
        self.y = self.t = None

    def __call__(self, t: float, x: float) -> float:
        self.buf.append(x)
        med = float(np.median(self.buf))
        if self.y is None or self.t is None or self.tau <= 0:
            self.y = med
        else:
            a = 1.0 - math.exp(-max(0.0, t - self.t) / self.tau)
            self.y += a * (med - self.y)
        self.t = t
        return self.y


@dataclass
class Rep:
    """One counted repetition (times in seconds of the session clock, values in signal units)."""

    index: int
    t_start: float  # the rest extreme before it
    t_far: float  # its far extreme
    t_counted: float  # when it was confirmed
    amplitude: float
    t_end: float | None = None  # the rest extreme after it (None until seen)
    rom: dict[str, list[float]] = field(default_factory=dict)  # name -> [min, max]
    faults: list[str] = field(default_factory=list)
    complete: bool = True
    source: str = "signal"  # "fallback" when counted while the main signal was unseen
    rest_value: float | None = None  # the signal at the rest extreme before it (signal units)
    far_value: float | None = None  # the signal at its far extreme

    @property
    def duration_s(self) -> float:
        end = self.t_end if self.t_end is not None else self.t_counted
        return max(0.0, end - self.t_start)


@dataclass(frozen=True)
class RepEvent:
    kind: str  # "rep" (counted), "partial" (an excursion too small to count)
    rep: Rep | None
    amplitude: float


class RepCounter:
    """Streaming rep counter on one signal.

    Parameters
    ----------
    direction:
        ``"down"`` when a rep takes the signal down and back (knee angle in a squat), ``"up"``
        when it takes it up and back (arm elevation in a raise).
    min_amplitude:
        The smallest excursion that can be a rep, in signal units (a floor against jitter).
    hysteresis:
        Share of the recent range a reversal must exceed to confirm a turning point.
    smooth_s:
        Time constant of the smoothing.
    window_s:
        How far back the recent range looks.
    detrend_s:
        When above 0, the signal's slow part (an average with this time constant) is removed
        first: for quick movements such as rope jumps, so sway and walking about do not count.
    rest_range:
        ``(low, high)`` in signal units: where a rep can start. A turning point outside it is
        no start position (arms held overhead before an upright row, a glitch pose with the
        wrists further from the shoulders than arms reach), so the swing that follows is not a
        rep. Not applied with ``detrend_s`` (the detrended signal has no absolute level).
    """

    def __init__(self, direction: str, min_amplitude: float, hysteresis: float = 0.35, smooth_s: float = 0.1,
                 window_s: float = 10.0, gap_reset_s: float = GAP_RESET_S, min_period_s: float = 0.0,
                 detrend_s: float = 0.0, rest_range: tuple[float, float] | None = None) -> None:
        if direction not in ("up", "down"):
            raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
        self.sign = 1.0 if direction == "up" else -1.0
        self.min_amp = float(min_amplitude)
        self.hyst = float(hysteresis)
        self.window_s = float(window_s)
        self.gap_reset_s = float(gap_reset_s)
        self.min_period_s = float(min_period_s)
        self.rest_range = rest_range
        self.baseline = Smoother(detrend_s) if detrend_s > 0 else None
        self.smooth = Smoother(smooth_s)
        self.hist: deque[tuple[float, float]] = deque()
        self.reps: list[Rep] = []
        self.partials = 0
        self._reset_zigzag()
        self.last_t: float | None = None
        self.value: float | None = None  # smoothed signal, original units

    def _reset_zigzag(self) -> None:
        self.seeking: str | None = None  # None (start), "max" or "min"
        self.run_min = (math.inf, 0.0)
        self.run_max = (-math.inf, 0.0)
        self.ext = (0.0, 0.0)  # (y, t) of the candidate extreme
        self.rest: tuple[float, float] | None = None  # last confirmed rest extreme
        self.open_rep: Rep | None = None  # counted, waiting for its rest extreme
        self.frame_rom: dict[str, list[float]] = {}
        self.frame_faults: set[str] = set()
        self.swings: list[tuple[float, float]] = []  # (time confirmed, size)
        self.last_turn: float | None = None

    def _turn(self, y: float) -> None:
        if self.last_turn is not None:
            self.swings.append((self.last_t or 0.0, abs(y - self.last_turn)))
        self.last_turn = y

    @property
    def count(self) -> int:
        return len(self.reps)

    def spread(self) -> float:
        """The recent range of the signal, without its outer 5 % on each side (glitches)."""
        if not self.hist:
            return 0.0
        lo, hi = np.percentile(np.fromiter((y for _, y in self.hist), float, len(self.hist)), SPREAD_PCT)
        return float(hi - lo)

    def threshold(self) -> float:
        now = self.last_t if self.last_t is not None else 0.0
        recent = [s for t, s in self.swings[-4:] if t >= now - self.window_s]
        typical = self.spread()
        if len(recent) >= 2:
            # a swing cannot be larger than what the signal recently spans: a glitch-made swing
            # (a wrong pose while the engine locks on) is capped, and old swings expire
            typical = min(typical, float(np.median(recent)))
        return max(0.5 * self.min_amp, self.hyst * typical)

    def min_gap(self) -> float:
        """How soon after the last rep's far extreme another far extreme can be a new rep.

        ``min_period_s``, or once four reps are counted, half the median of their last five
        spacings if longer: a rep twice as quick as the person's own rhythm is a wobble of the
        last one (the median of at least three spacings, so one pause between reps does not
        raise it).
        """
        fars = [r.t_far for r in self.reps[-6:]]
        if len(fars) < 4:
            return self.min_period_s
        return max(self.min_period_s, RHYTHM_SHARE * float(np.median(np.diff(fars))))

    @property
    def phase(self) -> str:
        """``"rest"``, ``"going"`` (towards the far end) or ``"returning"``."""
        if self.seeking == "max":
            return "going"
        if self.seeking == "min":
            return "returning"
        return "rest"

    def update(self, t: float, x: float | None, extras: dict[str, float] | None = None,
               faults: set[str] | None = None) -> RepEvent | None:
        """Feed one sample (``None`` when the signal was not seen); returns a rep event or ``None``.

        ``extras`` are other measures (e.g. joint angles) whose per-rep min/max are kept;
        ``faults`` are form faults seen on this frame, attached to the rep in progress.
        """
        if x is None or not math.isfinite(x):
            if self.last_t is not None and t - self.last_t > self.gap_reset_s:
                self._forget()
            return None
        if self.last_t is not None and t - self.last_t > self.gap_reset_s:
            self._forget()
        self.last_t = t
        xs = self.smooth(t, float(x))
        if len(self.smooth.buf) < self.smooth.buf.maxlen:  # type: ignore[operator]
            # the median needs its 3 samples before it can reject a glitch: the first sample of a
            # stream (often a pose the engine has not locked on yet) must not set the rest level
            self.smooth.y = None  # the average starts from the first full median
            return None
        if self.baseline is not None:
            xs -= self.baseline(t, float(x))  # only the quick part: sway and drift drop out
        self.value = xs
        y = self.sign * xs
        self.hist.append((t, y))
        while self.hist and self.hist[0][0] < t - self.window_s:
            self.hist.popleft()
        for k, v in (extras or {}).items():
            mm = self.frame_rom.setdefault(k, [v, v])
            mm[0], mm[1] = min(mm[0], v), max(mm[1], v)
        self.frame_faults |= faults or set()
        h = self.threshold()
        if self.seeking is None:
            if y < self.run_min[0]:
                self.run_min = (y, t)
            if y > self.run_max[0]:
                self.run_max = (y, t)
            if y - self.run_min[0] > h:
                self._confirm_rest(self.run_min, y, t)
            elif self.run_max[0] - y > h:
                self._turn(self.run_max[0])
                self.seeking, self.ext = "min", (y, t)  # started mid-rep: that top is no rep
            return None
        if self.seeking == "max":
            if y >= self.ext[0]:
                self.ext = (y, t)
            elif self.ext[0] - y > h:
                return self._confirm_far(y, t)
            return None
        if y <= self.ext[0]:
            self.ext = (y, t)
        elif y - self.ext[0] > h:
            self._confirm_rest(self.ext, y, t)
        return None

    def _forget(self) -> None:
        self.smooth.reset()
        if self.baseline is not None:
            self.baseline.reset()
        self.hist.clear()
        self._reset_zigzag()

    def _near_rest_time(self, rest_y: float, band: float, after: float | None = None,
                        before: float | None = None) -> float | None:
        """First time after ``after`` (or last before ``before``) the signal was within ``band`` of rest."""
        ts = [tt for tt, yy in self.hist if yy <= rest_y + band
              and (after is None or tt > after) and (before is None or tt < before)]
        if not ts:
            return None
        return ts[0] if after is not None else ts[-1]

    def _confirm_rest(self, ext: tuple[float, float], y: float, t: float) -> None:
        self._turn(ext[0])
        if self.open_rep is not None:
            r = self.open_rep
            band = REST_BAND * r.amplitude
            r.t_end = self._near_rest_time(ext[0], band, after=r.t_far) or ext[1]
            self._close(self.open_rep)
            self.open_rep = None
        v = self.sign * ext[0]  # the turning point in signal units
        # a detrended signal has no absolute level, so a rest range cannot apply to it
        ok = self.rest_range is None or self.baseline is not None or \
            self.rest_range[0] <= v <= self.rest_range[1]
        self.rest = ext if ok else None  # not a start position: the next swing is no rep
        self.seeking, self.ext = "max", (y, t)
        self.frame_rom, self.frame_faults = {}, set()

    def _close(self, rep: Rep) -> None:
        for k, mm in self.frame_rom.items():
            cur = rep.rom.setdefault(k, list(mm))
            cur[0], cur[1] = min(cur[0], mm[0]), max(cur[1], mm[1])
        for f in sorted(self.frame_faults):
            if f not in rep.faults:
                rep.faults.append(f)

    def _confirm_far(self, y: float, t: float) -> RepEvent | None:
        far = self.ext
        self._turn(far[0])
        self.seeking, self.ext = "min", (y, t)
        if self.rest is None:
            return None
        amp = far[0] - self.rest[0]
        if amp < self.min_amp:
            self.partials += 1
            return RepEvent("partial", None, amp)
        if self.reps and far[1] - self.reps[-1].t_far < self.min_gap():
            prev = self.reps[-1]  # a wobble of the same rep: merge
            if amp > prev.amplitude:
                prev.amplitude, prev.t_far, prev.far_value = amp, far[1], self.sign * far[0]
            self._close(prev)
            prev.t_end = None
            self.frame_rom, self.frame_faults = {}, set()
            self.open_rep = prev
            return None
        t_start = self._near_rest_time(self.rest[0], REST_BAND * amp, before=far[1]) or self.rest[1]
        if far[1] - t_start < MIN_OUT_SHARE * self.min_period_s:
            return None  # out to the far end faster than any body moves: a pose glitch, not a rep
        rep = Rep(index=len(self.reps) + 1, t_start=t_start, t_far=far[1], t_counted=t, amplitude=amp,
                  rest_value=self.sign * self.rest[0], far_value=self.sign * far[0])
        self._close(rep)
        self.frame_rom, self.frame_faults = {}, set()
        self.reps.append(rep)
        self.open_rep = rep
        return RepEvent("rep", rep, amp)

    def finish(self) -> None:
        """End of the session.

        A counted rep still waiting for its rest end keeps what was seen. A rep in progress whose
        excursion already reached ``END_CREDIT`` of the median excursion of the counted reps and
        whose return had visibly begun (by half the hysteresis) counts: it reached the far end and
        only the end of its return was cut off. It is marked ``t_end = None``.
        """
        if self.seeking == "max" and self.rest is not None and self.reps and self.hist:
            amp = self.ext[0] - self.rest[0]
            typical = float(np.median([r.amplitude for r in self.reps]))
            y_end = self.hist[-1][1]
            if self.baseline is None and len(self.smooth.buf) >= 2:
                # the stream has ended, so the last sample has no successor for the median of
                # three to wait for: the end is the mean of the last two samples (a lag of one
                # sample would otherwise hide a return begun in the last frame, worse at low fps)
                y_end = min(y_end, self.sign * float(np.mean(list(self.smooth.buf)[-2:])))
            returned = self.ext[0] - y_end
            if amp >= max(self.min_amp, END_CREDIT * typical) and returned >= 0.5 * self.threshold() \
                    and self.ext[1] - self.reps[-1].t_far >= self.min_period_s:
                rep = Rep(index=len(self.reps) + 1, t_start=self.rest[1], t_far=self.ext[1],
                          t_counted=self.last_t or self.ext[1], amplitude=amp,
                          rest_value=self.sign * self.rest[0], far_value=self.sign * self.ext[0])
                self._close(rep)
                self.reps.append(rep)
                self.seeking = None
                return
        if self.open_rep is not None:
            r = self.open_rep
            self._close(r)
            # its rest end was not confirmed (nothing came after): it ended on re-entering the band
            # around the lowest value since its far end
            if self.seeking == "min":
                r.t_end = self._near_rest_time(self.ext[0], REST_BAND * r.amplitude, after=r.t_far) or self.last_t
            else:
                r.t_end = self.last_t
            self.open_rep = None

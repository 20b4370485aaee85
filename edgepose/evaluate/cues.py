"""One clear cue at a time: onset delay, hold, rate limit, priority."""

from __future__ import annotations

from collections import Counter


class CueGate:
    """Turns a per-frame list of wanted cues (most important first) into one steady cue.

    A wanted cue becomes active only after it has been wanted for ``onset_s`` without a break
    (a one-frame wobble says nothing). The active cue stays while it is wanted and for
    ``release_s`` after (hysteresis), and is not replaced sooner than ``min_gap_s`` after it
    started, so the person hears one clear instruction, not a stream. When several are ready the
    first in the list (the most important) wins. ``counts`` tallies each activation.
    """

    def __init__(self, onset_s: float = 0.6, release_s: float = 1.0, min_gap_s: float = 3.0) -> None:
        self.onset_s, self.release_s, self.min_gap_s = onset_s, release_s, min_gap_s
        self.since: dict[str, float] = {}
        self.active: str | None = None
        self.active_since = -1e9
        self.last_wanted = -1e9
        self.counts: Counter[str] = Counter()

    def update(self, t: float, wanted: list[str]) -> tuple[str | None, bool]:
        """The cue to show now and whether it has just become active (say it)."""
        self.since = {c: self.since.get(c, t) for c in wanted}
        if self.active is not None and self.active in wanted:
            self.last_wanted = t
        if self.active is not None and t - self.last_wanted >= self.release_s:
            self.active = None  # no longer wanted: released
        if t - self.active_since < self.min_gap_s:
            return self.active, False  # rate limit: no new cue yet
        ready = [c for c in wanted if t - self.since[c] >= self.onset_s]
        if not ready or ready[0] == self.active:
            return self.active, False
        # ready[0] is more important than the active cue (which, if still wanted, is ready too)
        cue = ready[0]
        self.active, self.active_since, self.last_wanted = cue, t, t
        self.counts[cue] += 1
        return cue, True

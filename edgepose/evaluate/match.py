"""How well a pose fits a target: per-check deviations and one 0..1 score.

A check asks a measure to lie in ``[lo, hi]``. Its normalised excess is ``x = e / margin`` where
``e`` is how far the value lies outside the range. The pose's score is the weighted geometric mean
of the checks' ``2 ** -(x ** 2)``:

    score = 2 ** -( sum(w * x**2) / sum(w) )

so 1.0 means every check is inside its range and 0.5 means the checks are, on average, one
margin out. A check whose measure was not seen well enough (confidence below ``min_conf``) is
not judged; it counts as ``x = 1`` (half credit: unknown, neither right nor wrong) -- unless
the program has the same check for the other side and that side was seen (a side view hides
one of each pair): then the seen side stands in for the hidden one. A check seen
with a confidence below ``FULL_CONF`` weighs in proportion (``w * conf / FULL_CONF``), so a
half-hidden limb counts, but less. Programs with
``sides = "either"`` are also tried mirrored (left and right swapped) and the better fit counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgepose.evaluate.angles import Measure, mirror_name
from edgepose.programs import Check, Program

ON_FRACTION = 0.25  # within a quarter margin of the range counts as "on"
FULL_CONF = 0.5  # a measure seen with at least this confidence weighs fully


@dataclass(frozen=True)
class CheckResult:
    check: Check
    measure: str  # the measure actually judged (mirrored when the mirror fitted better)
    value: float | None
    conf: float
    excess: float  # e / margin; 0 inside the range; 1.0 for an unseen measure
    state: str  # "on" | "near" | "off" | "unseen"
    cue: str | None  # the cue that fixes this deviation, when off or near

    @property
    def score(self) -> float:
        return float(2.0 ** -(self.excess**2))


@dataclass(frozen=True)
class MatchResult:
    program: str
    score: float
    mirrored: bool
    checks: tuple[CheckResult, ...]

    @property
    def seen_share(self) -> float:
        """Share of the checks' weight that was seen."""
        tot = sum(c.check.weight for c in self.checks)
        seen = sum(c.check.weight for c in self.checks if c.state != "unseen")
        return seen / tot if tot else 0.0


def judge(check: Check, m: Measure | None, measure: str, min_conf: float) -> CheckResult:
    """One check against one measured value."""
    if m is None or m.conf < min_conf:
        return CheckResult(check, measure, None if m is None else m.value, 0.0 if m is None else m.conf, 1.0, "unseen", None)
    v = m.value
    if v < check.lo:
        e, cue = check.lo - v, check.cue_low
    elif v > check.hi:
        e, cue = v - check.hi, check.cue_high
    else:
        e, cue = 0.0, None
    x = e / check.margin
    state = "on" if x <= ON_FRACTION else ("near" if x <= 1.0 else "off")
    return CheckResult(check, measure, v, m.conf, x, state, cue if state != "on" else None)


def effective_weight(r: CheckResult) -> float:
    """A check's weight, scaled down when its measure was seen with low confidence."""
    if r.state == "unseen":
        return r.check.weight
    return r.check.weight * min(1.0, r.conf / FULL_CONF)


def score_checks(results: tuple[CheckResult, ...] | list[CheckResult]) -> float:
    ws = [effective_weight(r) for r in results]
    tot = sum(ws)
    if tot <= 0:
        return 0.0
    return float(2.0 ** -(sum(w * r.excess**2 for w, r in zip(ws, results, strict=True)) / tot))


def match_checks(name: str, checks: tuple[Check, ...], measures: dict[str, Measure], *, either_side: bool,
                 min_conf: float = 0.5) -> MatchResult:
    """Score a set of checks on measured values, trying the mirror image when ``either_side``."""
    best: MatchResult | None = None
    ranges = {(c.measure, c.lo, c.hi) for c in checks}
    for mirrored in (False, True) if either_side else (False,):
        res = []
        for c in checks:
            mname = mirror_name(c.measure) if mirrored else c.measure
            m = measures.get(mname)
            other = mirror_name(mname)
            if (m is None or m.conf < min_conf) and other != mname and (mirror_name(c.measure), c.lo, c.hi) in ranges:
                # a symmetric check (same range on both sides) whose side is hidden, as in a side
                # view: the side that is seen stands in for it
                mo = measures.get(other)
                if mo is not None and mo.conf >= min_conf:
                    m = mo
            res.append(judge(c, m, mname, min_conf))
        r = MatchResult(name, score_checks(res), mirrored, tuple(res))
        if best is None or r.score > best.score + 1e-9:
            best = r
    assert best is not None
    return best


def match_program(prog: Program, measures: dict[str, Measure], min_conf: float = 0.5) -> MatchResult:
    """How well the measured pose fits a program's target checks."""
    return match_checks(prog.name, prog.checks, measures, either_side=prog.sides == "either", min_conf=min_conf)


def rank(programs: list[Program], measures: dict[str, Measure], min_conf: float = 0.05) -> list[MatchResult]:
    """Every target-pose program's fit, best first."""
    out = [match_program(p, measures, min_conf) for p in programs if p.kind == "pose"]
    return sorted(out, key=lambda r: -r.score)

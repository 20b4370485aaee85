"""Clinical tests judged against published norms; each verdict names its source.

- 30-second chair stand: CDC STEADI "Assessment: 30-Second Chair Stand" (after Rikli & Jones,
  1999): a count *below* these is below average for the age and sex (ages 60-94).
- Timed Up and Go: CDC STEADI "Assessment: Timed Up & Go": 12 s or more means a risk of falling
  (Podsiadlo & Richardson 1991 defined the test).
- Single-leg stance, eyes open: Bohannon RW (2006), "Single limb stance times: a descriptive
  meta-analysis of data from individuals at least 60 years of age", Topics in Geriatric
  Rehabilitation 22(1):70-77: mean 27.0 s (60-69), 17.2 s (70-79), 8.5 s (80-99).

Ages come from the client's birth year (so may be a year off); without a birth year (or sex, for
the chair stand) the result is shown without a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STEADI_CHAIR = ("CDC STEADI, Assessment: 30-Second Chair Stand (norms of Rikli & Jones 1999); "
                "below average = fewer stands than the figure for the age and sex")
STEADI_TUG = "CDC STEADI, Assessment: Timed Up & Go; 12 s or more = at risk of falling"
BOHANNON_SLS = ("Bohannon RW 2006, Single limb stance times: a descriptive meta-analysis, "
                "Top Geriatr Rehabil 22(1):70-77; mean eyes-open time for the age group")

# (lowest age, highest age) -> (men, women): fewer stands than this is below average.
CHAIR_STAND_BELOW = {
    (60, 64): (14, 12),
    (65, 69): (12, 11),
    (70, 74): (12, 10),
    (75, 79): (11, 10),
    (80, 84): (10, 9),
    (85, 89): (8, 8),
    (90, 94): (7, 4),
}
TUG_RISK_S = 12.0
# (lowest age, highest age) -> mean single-limb-stance time, eyes open, seconds
SLS_MEAN_S = {
    (60, 69): 27.0,
    (70, 79): 17.2,
    (80, 99): 8.5,
}

TESTS = {"chair-stand-30s": "30-second chair stand", "timed-up-and-go": "Timed Up and Go",
         "single-leg-stance": "Single-leg stance"}


@dataclass(frozen=True)
class Verdict:
    """One clinical result put against its norm."""

    test: str               # program name of the test
    title: str
    value: float | None     # stands, seconds
    unit: str               # "stands" | "s"
    norm: str               # "below 12 stands is below average for women 60-64", or why there is none
    flag: str               # "ok" | "below" | "risk" | "none"
    words: str              # "Below average", "Within the norm", "At risk of falling", "No norm"
    source: str


def _band(table: dict[tuple[int, int], Any], age: int | None) -> tuple[tuple[int, int], Any] | None:
    if age is None:
        return None
    for (lo, hi), v in table.items():
        if lo <= age <= hi:
            return (lo, hi), v
    return None


def judge(test: str, clinical: dict[str, Any], age: int | None, sex: str | None) -> Verdict | None:
    """A verdict for one session's ``clinical`` block, or None when it is not a known test."""
    title = TESTS.get(test)
    if title is None or not isinstance(clinical, dict):
        return None
    if test == "chair-stand-30s":
        v = _num(clinical.get("stands"))
        band = _band(CHAIR_STAND_BELOW, age)
        if v is None:
            return Verdict(test, title, None, "stands", "no count", "none", "No result", STEADI_CHAIR)
        if band is None or sex not in ("f", "m"):
            why = ("norms cover ages 60-94" if age is not None else "birth year not recorded")
            if band is not None:
                why = "sex not recorded"
            return Verdict(test, title, v, "stands", f"no norm ({why})", "none", "No norm", STEADI_CHAIR)
        (lo, hi), (men, women) = band
        cut = men if sex == "m" else women
        who = "men" if sex == "m" else "women"
        below = v < cut
        return Verdict(test, title, v, "stands", f"below {cut} stands is below average for {who} {lo}-{hi}",
                       "below" if below else "ok", "Below average" if below else "Average or better",
                       STEADI_CHAIR)
    if test == "timed-up-and-go":
        v = _num(clinical.get("time_s"))
        if v is None:
            return Verdict(test, title, None, "s", "no time measured", "none", "No result", STEADI_TUG)
        risk = v >= TUG_RISK_S
        return Verdict(test, title, v, "s", f"{TUG_RISK_S:g} s or more = at risk of falling",
                       "risk" if risk else "ok", "At risk of falling" if risk else "Below the risk cut-off",
                       STEADI_TUG)
    v = _num(clinical.get("best_hold_s"))
    if v is None:
        return Verdict(test, title, None, "s", "no hold measured", "none", "No result", BOHANNON_SLS)
    band = _band(SLS_MEAN_S, age)
    if band is None:
        why = "norms cover ages 60-99" if age is not None else "birth year not recorded"
        return Verdict(test, title, v, "s", f"no norm ({why})", "none", "No norm", BOHANNON_SLS)
    (lo, hi), mean = band
    below = v < mean
    return Verdict(test, title, v, "s", f"mean {mean:g} s for ages {lo}-{hi}",
                   "below" if below else "ok", "Below the age mean" if below else "At or above the age mean",
                   BOHANNON_SLS)


def age_at(birth_year: Any, year: int) -> int | None:
    if isinstance(birth_year, int) and not isinstance(birth_year, bool) and 1900 <= birth_year <= year:
        return year - birth_year
    return None


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)

"""What the client and session pages show, built from stored records (pure functions, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgepose.dashboard import norms, words
from edgepose.dashboard.charts import Chart, Ref, Series, bar_chart, line_chart

if TYPE_CHECKING:
    from markupsafe import Markup

    from edgepose.history.store import ClientRecord, RepRecord, SessionRecord


def when(s: SessionRecord) -> Any:
    return s.started_at or s.received_at


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def rom_means(payload: dict[str, Any]) -> dict[str, float]:
    """Per measure: the mean per-rep range of motion of a session (from ``rom``)."""
    rom = payload.get("rom")
    out: dict[str, float] = {}
    if isinstance(rom, dict):
        for k, v in rom.items():
            if isinstance(k, str) and isinstance(v, dict) and _num(v.get("mean")) is not None:
                out[k[:40]] = float(v["mean"])
    return out


def hold_s(payload: dict[str, Any]) -> float | None:
    clin = payload.get("clinical")
    if isinstance(clin, dict) and _num(clin.get("best_hold_s")) is not None:
        return _num(clin.get("best_hold_s"))
    return _num(payload.get("hold_s"))


@dataclass
class ProgramProgress:
    program: str
    title: str
    sessions: int
    charts: list[Markup] = field(default_factory=list)


@dataclass
class ClinicalRow:
    session: SessionRecord
    verdict: norms.Verdict
    age: int | None


def clinical_rows(sessions: Sequence[SessionRecord], client: ClientRecord | None) -> list[ClinicalRow]:
    out = []
    for s in sessions:
        clin = s.payload.get("clinical")
        test = clin.get("test") if isinstance(clin, dict) else None
        if not isinstance(test, str):
            continue
        age = norms.age_at(client.birth_year if client else None, when(s).year)
        v = norms.judge(test, clin, age, client.sex if client else None)
        if v is not None:
            out.append(ClinicalRow(s, v, age))
    return out


def progress(sessions: Sequence[SessionRecord], titles: dict[str, str]) -> list[ProgramProgress]:
    """Per program (oldest session first): reps, score, range of motion per joint, hold time."""
    by: dict[str, list[SessionRecord]] = {}
    for s in sorted(sessions, key=lambda s: (when(s), s.id)):
        by.setdefault(s.program, []).append(s)
    out = []
    for prog, ss in sorted(by.items(), key=lambda kv: -len(kv[1])):
        if all(isinstance(s.payload.get("clinical"), dict) for s in ss):
            continue  # clinical tests have their own charts, against their norms
        title = words.program(prog, titles)
        labels = [when(s).strftime("%d %b") for s in ss]
        p = ProgramProgress(prog, title, len(ss))
        if any(s.reps for s in ss):
            p.charts.append(bar_chart(Chart("Reps per session", labels, [Series("reps", [float(s.reps) for s in ss])])))
        scores = [s.score for s in ss]
        if any(v is not None for v in scores):
            p.charts.append(line_chart(Chart("Score (0-100)", labels, [Series("score", scores)])))
        joints: list[str] = []
        roms = [rom_means(s.payload) for s in ss]
        for r in roms:
            joints += [j for j in r if j not in joints]
        if joints:
            unit = "deg" if all(not j.endswith("ratio") for j in joints) else ""
            p.charts.append(line_chart(Chart("Range of motion per rep (mean)", labels,
                                             [Series(words.measure(j), [r.get(j) for r in roms]) for j in joints[:6]],
                                             unit=unit)))
        holds = [hold_s(s.payload) for s in ss]
        if any(h for h in holds):
            p.charts.append(line_chart(Chart("Longest hold", labels, [Series("hold", holds)], unit="s")))
        out.append(p)
    return out


def clinical_charts(rows: Sequence[ClinicalRow]) -> list[Markup]:
    """One chart per clinical test over time, with the norm of the latest session's age drawn."""
    by: dict[str, list[ClinicalRow]] = {}
    for r in rows:
        by.setdefault(r.verdict.test, []).append(r)
    out = []
    for test, rs in by.items():
        rs = sorted(rs, key=lambda r: (when(r.session), r.session.id))
        labels = [when(r.session).strftime("%d %b") for r in rs]
        refs = []
        last = rs[-1].verdict
        if test == "timed-up-and-go":
            refs.append(Ref(norms.TUG_RISK_S, "fall-risk cut-off 12 s (STEADI)"))
        elif last.flag != "none":
            cut = _first_number(last.norm)
            if cut is not None:
                label = (f"below {cut:g} = below average (STEADI)" if test == "chair-stand-30s"
                         else f"age mean {cut:g} s (Bohannon 2006)")
                refs.append(Ref(cut, label))
        unit = "stands" if last.unit == "stands" else "s"
        shade = {"ok": "#059669", "below": "#dc2626", "risk": "#dc2626"}
        out.append(bar_chart(Chart(rs[-1].verdict.title, labels,
                                   [Series(unit, [r.verdict.value for r in rs],
                                           point_colors=[shade.get(r.verdict.flag) for r in rs])],
                                   unit=unit, refs=refs)))
    return out


def _first_number(text: str) -> float | None:
    import re

    m = re.search(r"(\d+(?:\.\d+)?)", text)
    return float(m.group(1)) if m else None


@dataclass
class RepRow:
    idx: int
    duration_s: float | None
    score: float | None
    rom: dict[str, float]
    faults: list[str]


def rep_rows(reps: Sequence[RepRecord]) -> tuple[list[RepRow], list[str]]:
    """Rows for the session page and the measures (columns) they cover."""
    rows, measures = [], []
    for r in reps:
        rom: dict[str, float] = {}
        if isinstance(r.rom, dict):
            for k, v in r.rom.items():
                val = _num(v.get("range")) if isinstance(v, dict) else _num(v)
                if val is not None and isinstance(k, str):
                    name = "primary" if k == "primary_deg" else k[:40]
                    rom[name] = val
                    if name not in measures:
                        measures.append(name)
        rows.append(RepRow(r.idx, r.duration_s, r.score, rom,
                           [words.fault(f) for f in (r.faults or [])][:12]))
    return rows, measures


def session_charts(rows: Sequence[RepRow], measures: Sequence[str]) -> list[Markup]:
    if not rows:
        return []
    labels = [str(r.idx) for r in rows]
    out = []
    if measures:
        out.append(bar_chart(Chart("Range of motion per rep", labels,
                                   [Series(words.measure(m), [r.rom.get(m) for r in rows]) for m in measures[:4]],
                                   unit="deg")))
    if any(r.duration_s is not None for r in rows):
        out.append(bar_chart(Chart("Tempo: seconds per rep", labels, [Series("s", [r.duration_s for r in rows])],
                                   unit="s")))
    return out


def counts(payload: dict[str, Any], key: str, limit: int = 20) -> list[tuple[str, int]]:
    """``cue_counts`` / ``form_faults``: (text, count) pairs, most frequent first."""
    d = payload.get(key)
    if not isinstance(d, dict):
        return []
    items = [(str(k)[:200], int(v)) for k, v in d.items() if isinstance(v, int) and not isinstance(v, bool)]
    return sorted(items, key=lambda kv: -kv[1])[:limit]

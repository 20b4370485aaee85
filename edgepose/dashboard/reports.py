"""Per-client reports: PDF (reportlab) and CSV, over a date range.

Every string from a unit goes through :func:`esc` before it reaches reportlab's paragraph markup,
and CSV cells that a spreadsheet would run as a formula get a leading apostrophe.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from edgepose.dashboard import norms, views, words

if TYPE_CHECKING:
    from edgepose.history.store import ClientRecord, RepRecord, SessionRecord


def esc(v: Any) -> str:
    """Text safe inside a reportlab Paragraph (its markup is XML-like)."""
    return escape(str(v), {'"': "&quot;"})


def _when(s: SessionRecord) -> str:
    return views.when(s).strftime("%Y-%m-%d %H:%M")


def _period(start: str, end: str) -> str:
    if not start and not end:
        return "all sessions"
    return f"{start or 'first session'} to {end or 'today'}"


def client_pdf(client: ClientRecord, sessions: Sequence[SessionRecord], reps: dict[int, list[RepRecord]],
               start: str, end: str, titles: dict[str, str], made_by: str) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    ss = getSampleStyleSheet()
    small = ParagraphStyle("small", parent=ss["Normal"], fontSize=8, leading=10)
    cell = ParagraphStyle("cell", parent=ss["Normal"], fontSize=8.5, leading=10.5)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm, title=f"edgepose report {client.code}", author="edgepose dashboard")
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    story: list[Any] = [
        Paragraph(f"Progress report: client {esc(client.code)}", ss["Title"]),
        Paragraph(f"Period: {esc(_period(start, end))} &nbsp;·&nbsp; {len(sessions)} sessions &nbsp;·&nbsp; "
                  f"made {esc(now)} by {esc(made_by)}", ss["Normal"]),
        Paragraph(f"Birth year: {esc(client.birth_year or 'not recorded')} &nbsp;·&nbsp; "
                  f"Sex: {esc({'f': 'female', 'm': 'male'}.get(client.sex or '', 'not recorded'))}", ss["Normal"]),
        Spacer(1, 6 * mm),
    ]
    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#cbd5e1")),
                       ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e2e8f0")),
                       ("VALIGN", (0, 0), (-1, -1), "TOP")])
    story.append(Paragraph("Sessions", ss["Heading2"]))
    if sessions:
        head = ["Date (UTC)", "Program", "Unit", "Result", "Reps", "Score", "Length", "Range of motion (mean)"]
        data = [[Paragraph(esc(h), cell) for h in head]]
        for s in sessions:
            rom = ", ".join(f"{words.measure(k)} {v:.0f}°" for k, v in list(views.rom_means(s.payload).items())[:3])
            hold = views.hold_s(s.payload)
            if hold and not rom:
                rom = f"hold {hold:.1f} s"
            data.append([Paragraph(esc(x), cell) for x in (
                _when(s), words.program(s.program, titles), s.device_id, words.session_status(s.status), s.reps,
                "—" if s.score is None else f"{s.score:.0f}", words.seconds(s.duration_s, 0), rom or "—")])
        t = Table(data, colWidths=[25 * mm, 28 * mm, 22 * mm, 21 * mm, 12 * mm, 13 * mm, 16 * mm, 41 * mm],
                  repeatRows=1)
        t.setStyle(grid)
        story.append(t)
    else:
        story.append(Paragraph("No sessions in this period.", ss["Normal"]))
    rows = views.clinical_rows(sessions, client)
    if rows:
        story += [Spacer(1, 6 * mm), Paragraph("Clinical tests", ss["Heading2"])]
        head = ["Date (UTC)", "Test", "Result", "Norm", "Verdict"]
        data = [[Paragraph(esc(h), cell) for h in head]]
        for r in rows:
            v = r.verdict
            val = "—" if v.value is None else (f"{v.value:.0f} stands" if v.unit == "stands" else f"{v.value:.1f} s")
            data.append([Paragraph(esc(x), cell) for x in (_when(r.session), v.title, val, v.norm, v.words)])
        t = Table(data, colWidths=[27 * mm, 34 * mm, 22 * mm, 68 * mm, 27 * mm], repeatRows=1)
        t.setStyle(grid)
        story.append(t)
        story.append(Spacer(1, 3 * mm))
        for src in sorted({r.verdict.source for r in rows}):
            story.append(Paragraph("Source: " + esc(src), small))
    story += [Spacer(1, 6 * mm), Paragraph("Per session: reps and their range of motion", ss["Heading2"])]
    for s in sessions[:200]:
        rr, measures = views.rep_rows(reps.get(s.id, []))
        if not rr:
            continue
        line = "; ".join(
            f"{r.idx}: " + ", ".join(f"{words.measure(m)} {r.rom[m]:.0f}°" for m in measures[:2] if m in r.rom)
            + (f" ({', '.join(r.faults)})" if r.faults else "") for r in rr[:40])
        story.append(Paragraph(f"<b>{esc(_when(s))} {esc(words.program(s.program, titles))}</b>: {esc(line)}", small))
    story += [Spacer(1, 8 * mm), Paragraph(
        "Made by the edgepose staff dashboard from the sessions stored for this pseudonymous client code. "
        "Measured by a camera-based pose model; confirm clinical decisions with a standard assessment.", small)]
    doc.build(story)
    return buf.getvalue()


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(v: Any) -> str:
    s = "" if v is None else str(v)
    return "'" + s if s.startswith(_FORMULA) else s


def client_csv(client: ClientRecord, sessions: Sequence[SessionRecord], titles: dict[str, str]) -> str:
    """One row per session; ``rom_mean_<measure>`` columns for every measure seen."""
    measures: list[str] = []
    for s in sessions:
        measures += [m for m in views.rom_means(s.payload) if m not in measures]
    clin = {r.session.id: r for r in views.clinical_rows(sessions, client)}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["client", "started_utc", "unit", "program", "status", "reps", "score", "duration_s", "hold_s",
                *[f"rom_mean_{m}" for m in measures], "clinical_test", "clinical_value", "norm", "verdict", "norm_source",
                "session_id"])
    for s in sessions:
        rom = views.rom_means(s.payload)
        r = clin.get(s.id)
        w.writerow([_cell(x) for x in (
            client.code, views.when(s).strftime("%Y-%m-%dT%H:%M:%SZ"), s.device_id, s.program, s.status, s.reps,
            s.score, s.duration_s, views.hold_s(s.payload), *[rom.get(m) for m in measures],
            r.verdict.test if r else "", (r.verdict.value if r else ""), r.verdict.norm if r else "",
            r.verdict.words if r else "", r.verdict.source if r else "", s.session_id)])
    return out.getvalue()


__all__ = ["client_csv", "client_pdf", "esc", "norms"]

"""Dashboard parts without a server: norms (numbers checked against their sources), SVG escaping,
plain words, password hashing, the login rate limit, PDF/CSV escaping, the config file."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from edgepose.dashboard import auth, charts, norms, reports, settings, words


def test_chair_stand_norms_are_steadis() -> None:
    # CDC STEADI "30-Second Chair Stand": below-average scores, men / women
    assert norms.CHAIR_STAND_BELOW == {(60, 64): (14, 12), (65, 69): (12, 11), (70, 74): (12, 10),
                                       (75, 79): (11, 10), (80, 84): (10, 9), (85, 89): (8, 8), (90, 94): (7, 4)}
    v = norms.judge("chair-stand-30s", {"stands": 11}, 62, "f")
    assert (v.flag, v.words) == ("below", "Below average") and "below 12" in v.norm and "STEADI" in v.source
    assert norms.judge("chair-stand-30s", {"stands": 12}, 62, "f").flag == "ok"
    assert norms.judge("chair-stand-30s", {"stands": 13}, 62, "m").flag == "below"
    v = norms.judge("chair-stand-30s", {"stands": 13}, 62, None)
    assert v.flag == "none" and "sex not recorded" in v.norm
    assert norms.judge("chair-stand-30s", {"stands": 13}, 45, "m").flag == "none"


def test_tug_and_single_leg_stance_norms() -> None:
    assert norms.judge("timed-up-and-go", {"time_s": 12.0}, None, None).flag == "risk"
    assert norms.judge("timed-up-and-go", {"time_s": 11.9}, None, None).flag == "ok"
    assert norms.SLS_MEAN_S == {(60, 69): 27.0, (70, 79): 17.2, (80, 99): 8.5}  # Bohannon 2006
    v = norms.judge("single-leg-stance", {"best_hold_s": 16.0}, 72, "f")
    assert v.flag == "below" and "17.2" in v.norm and "Bohannon" in v.source
    assert norms.judge("single-leg-stance", {"best_hold_s": 9.0}, 85, "m").flag == "ok"
    assert norms.judge("single-leg-stance", {"best_hold_s": 9.0}, None, "m").flag == "none"
    assert norms.judge("squat", {}, 70, "f") is None
    assert norms.age_at(1954, 2026) == 72 and norms.age_at(None, 2026) is None and norms.age_at(True, 2026) is None


def test_svg_text_is_escaped_and_max_label_sits_above_its_point() -> None:
    c = charts.Chart('T <x>&"', ["<a>", "b"], [charts.Series("s<script>", [1.0, 5.0]), charts.Series("t", [2.0, None])],
                     unit="deg", refs=[charts.Ref(3, "norm <i>")])
    svg = str(charts.line_chart(c))
    assert "<script>" not in svg and "<x>" not in svg and "<a>" not in svg and "<i>" not in svg
    assert "s&lt;script&gt;" in svg and "T &lt;x&gt;&amp;&quot;" in svg
    import re
    import xml.etree.ElementTree as ET

    ET.fromstring(svg)  # well-formed
    label = re.search(r'class="max-label" x="([\d.]+)" y="([\d.]+)"[^>]*>5<', svg)
    point = re.search(rf'<circle cx="{label.group(1)}" cy="([\d.]+)"', svg)
    assert float(label.group(2)) < float(point.group(1))  # above the point it labels
    ET.fromstring(str(charts.bar_chart(c)))


def test_plain_words() -> None:
    assert words.live_state("rep_down") == "Going down"
    assert words.live_state("active") == "In a session"
    assert words.live_state("<weird>") == "Unknown state"
    assert words.fault("trunk_lean:high") == "trunk lean too high"
    assert words.fault("incomplete") == "not the full range"
    assert words.seconds(125) == "2 min 05 s" and words.seconds(None) == "—"


def test_passwords_and_rate_limit() -> None:
    h = auth.hash_password("a long enough secret")
    assert h.startswith("$argon2id$") and "a long enough secret" not in h
    assert auth.verify_password(h, "a long enough secret")
    assert not auth.verify_password(h, "a long enough secreT")
    assert not auth.verify_password(None, "anything at all")
    with pytest.raises(ValueError, match="too short"):
        auth.hash_password("short")
    t = [0.0]
    rl = auth.RateLimiter(attempts=3, window_s=60, clock=lambda: t[0])
    for _ in range(3):
        assert rl.blocked("k") == 0
        rl.fail("k")
    assert rl.blocked("k") == pytest.approx(60)
    t[0] = 61
    assert rl.blocked("k") == 0


def _records():  # type: ignore[no-untyped-def]
    from edgepose.history.store import ClientRecord, RepRecord, SessionRecord

    now = dt.datetime(2026, 11, 3, 10, tzinfo=dt.UTC)
    client = ClientRecord("C-1", now, 1950, "f", None)
    evil = "<b>bold</b> & <font color=red>x</font>"
    s = SessionRecord(1, "m1", "s1", "unit<x>", "C-1", "chair-stand-30s", "completed", now, now, 30.0, 9, 80.0, now,
                      {"program": "chair-stand-30s", "rom": {evil: {"mean": 80.0}}, "clinical": {"test": "chair-stand-30s", "stands": 9},
                       "cue_counts": {evil: 1}})
    s2 = SessionRecord(2, "m2", "s2", "u2", "C-1", "=HYPERLINK(\"x\")", "completed", now, now, 30.0, 2, None, now, {})
    reps = {1: [RepRecord(1, 2.0, 2.0, 80.0, {evil: {"range": 80.0}}, ["<i>f</i>"])]}
    return client, [s, s2], reps, evil


def test_pdf_escapes_reportlab_markup() -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not installed (Debian poppler-utils)")
    client, sessions, reps, evil = _records()
    pdf = reports.client_pdf(client, sessions, reps, "2026-11-01", "", {}, "anna")
    assert pdf.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "unit<x>" in text and "<b>bold</b>" in text and "<i>f</i>" in text  # shown literally
    flat = " ".join(text.split())
    assert "below 10 stands is below average for women 75-79" in flat and "Below average" in flat  # age 76
    assert "2026-11-01 to today" in text


def test_csv_has_a_row_per_session_and_no_formulas() -> None:
    client, sessions, _, evil = _records()
    body = reports.client_csv(client, sessions, {})
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 2
    assert rows[0]["clinical_value"] == "9.0" and rows[0]["verdict"] == "Below average"
    assert rows[1]["program"].startswith("'=")  # a spreadsheet will not run it


def test_config_file(tmp_path: Path) -> None:
    p = tmp_path / "dash.toml"
    p.write_text('[dashboard]\nport = 9000\nallowed_hosts = ["clinic.local"]\n[mqtt]\nhost = "broker.local"\n')
    s = settings.load(str(p), {"bind": "0.0.0.0", "port": None}, None)
    assert (s.port, s.bind, s.mqtt.host) == (9000, "0.0.0.0", "broker.local")
    assert s.hosts() == ["clinic.local"]
    assert "127.0.0.1" in settings.DashboardSettings().hosts()
    p.write_text('[dashboard]\nprot = 9000\n')
    with pytest.raises(settings.DashboardConfigError, match="dashboard.prot: unknown key"):
        settings.load(str(p), {}, None)
    p.write_text('[dashboard]\ntls_cert = "/nonexistent.pem"\ntls_key = "/nonexistent.key"\n')
    with pytest.raises(settings.DashboardConfigError, match="does not exist"):
        settings.load(str(p), {}, None)
    p.write_text('[camera]\nfps = 3\n')
    with pytest.raises(settings.DashboardConfigError, match="unknown section"):
        settings.load(str(p), {}, None)

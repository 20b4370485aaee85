"""Programs as data: every built-in loads; bad files are refused with file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgepose.programs import BUILTIN_DIR, ProgramError, list_programs, load_program, parse_program

YOGA = {"tree", "warrior-2", "chair", "mountain", "triangle", "downward-dog", "goddess"}
PHYSIO = {"squat", "sit-to-stand", "lunge", "shoulder-abduction", "bicep-curl", "heel-raise", "front-raise",
          "floor-press", "jump-rope"}
CLINICAL = {"chair-stand-30s", "single-leg-stance", "timed-up-and-go"}


def test_every_builtin_program_loads_with_its_kind() -> None:
    infos = {i.name: i for i in list_programs()}
    assert YOGA | PHYSIO | CLINICAL <= set(infos)
    for n in YOGA:
        assert infos[n].kind == "pose"
        assert load_program(n).checks
    for n in PHYSIO:
        assert infos[n].kind == "reps" and load_program(n).reps is not None
    for n in CLINICAL:
        assert infos[n].kind == "clinical" and load_program(n).clinical.test == n
    for f in BUILTIN_DIR.glob("*.toml"):
        p = load_program(f)  # by path too
        assert p.name == f.stem and p.title and p.description


def test_every_yoga_check_has_a_plain_cue() -> None:
    for n in YOGA:
        for c in load_program(n).checks:
            assert c.cue_low or c.cue_high, f"{n}: {c.measure} has no cue"


def _bad(tmp_path: Path, text: str, name: str = "bad-one") -> str:
    f = tmp_path / f"{name}.toml"
    f.write_text(text)
    with pytest.raises(ProgramError) as e:
        load_program(f)
    assert str(f) in str(e.value) and "fix:" in str(e.value)
    return str(e.value)


GOOD = '''title = "t"
kind = "pose"

[[check]]
measure = "left_knee"
range = [160, 180]
'''


def test_good_minimal_program(tmp_path: Path) -> None:
    f = tmp_path / "ok.toml"
    f.write_text(GOOD)
    p = load_program(f)
    assert p.checks[0].lo == 160 and p.checks[0].margin == 10


def test_unknown_joint_is_refused_with_its_line(tmp_path: Path) -> None:
    msg = _bad(tmp_path, GOOD.replace('"left_knee"', '"left_kneee"'))
    assert ":5:" in msg and "left_kneee" in msg and "left_knee" in msg  # the fix lists the real names


def test_impossible_tolerance_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("range = [160, 180]", "target = 170\ntolerance = -5")
    msg = _bad(tmp_path, text)
    assert ":7:" in msg and "tolerance" in msg
    assert "range" in _bad(tmp_path, GOOD.replace("[160, 180]", "[180, 160]"))
    assert "impossible" in _bad(tmp_path, GOOD.replace("[160, 180]", "[160, 270]"))
    assert "margin" in _bad(tmp_path, GOOD + "margin = 0\n")


def test_malformed_toml_is_refused_with_its_line(tmp_path: Path) -> None:
    msg = _bad(tmp_path, GOOD.replace('"left_knee"', 'left_knee'))
    assert "malformed TOML" in msg and ":5:" in msg
    msg = _bad(tmp_path, GOOD.replace('range = [160, 180]', 'range = [160, 180'))
    assert "malformed TOML" in msg and ":6:" in msg  # unclosed at the end: the last line


def test_unknown_keys_and_kinds_are_refused(tmp_path: Path) -> None:
    assert "colour" in _bad(tmp_path, GOOD + 'colour = "red"\n')
    assert "kind" in _bad(tmp_path, GOOD.replace('"pose"', '"dance"'))
    assert "reps" in _bad(tmp_path, 'kind = "reps"\n')
    msg = _bad(tmp_path, 'kind = "reps"\n[reps]\nsignal = "knees"\ndirection = "down"\n')
    assert ":3:" in msg and "knees" in msg
    assert "direction" in _bad(tmp_path, 'kind = "reps"\n[reps]\nsignal = "knee"\ndirection = "sideways"\n')


def test_bad_file_names(tmp_path: Path) -> None:
    f = tmp_path / "Bad_Name.toml"
    f.write_text(GOOD)
    with pytest.raises(ProgramError, match="lower-case"):
        load_program(f)
    with pytest.raises(ProgramError, match="no program named"):
        load_program("no-such-program")
    with pytest.raises(ProgramError, match="does not exist"):
        load_program(tmp_path / "missing.toml")


def test_user_programs_dir_is_searched_and_shadows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEPOSE_PROGRAMS", str(tmp_path))
    (tmp_path / "my-pose.toml").write_text(GOOD)
    (tmp_path / "squat.toml").write_text(GOOD.replace('"t"', '"my squat"'))
    (tmp_path / "broken.toml").write_text("kind = ")
    names = {i.name: i for i in list_programs()}
    assert "my-pose" in names and names["squat"].title == "my squat" and "broken" not in names
    assert load_program("my-pose").path == tmp_path / "my-pose.toml"


def test_parse_from_text_names_the_path() -> None:
    with pytest.raises(ProgramError, match="x/y/z.toml"):
        parse_program('kind = "pose"\n', Path("x/y/z.toml"))


def test_rest_range_is_checked(tmp_path: Path) -> None:
    reps = 'kind = "reps"\n[reps]\nsignal = "wrist_height"\ndirection = "up"\n'
    f = tmp_path / "ok-rest.toml"
    f.write_text(reps + "rest_range = [-1.3, 0.5]\n")
    assert load_program(f).reps.rest_range == (-1.3, 0.5)
    assert "empty" in _bad(tmp_path, reps + "rest_range = [0.5, -1.3]\n")
    assert "[low, high]" in _bad(tmp_path, reps + "rest_range = 0.5\n")
    assert "detrend" in _bad(tmp_path, reps + "rest_range = [0, 1]\ndetrend_s = 1.0\n")
    assert load_program("shoulder-abduction").reps.rest_range == (-1.3, 0.6)

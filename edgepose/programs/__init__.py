"""Exercise and pose programs as data: TOML files whose stem is the program name.

Built-in programs live next to this module; a user's own (for example saved by ``edgepose teach``)
live in ``$EDGEPOSE_PROGRAMS`` or ``~/.config/edgepose/programs``. A user program with the name of
a built-in one takes its place. The file format is documented in ``docs/formats.md`` (## Programs).

Loading is strict: an unknown key or measure, an impossible range or tolerance, or malformed
TOML is refused with a :class:`ProgramError` that names the file, the line and the fix.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from edgepose.errors import ProgramError
from edgepose.evaluate.angles import ANGLE_MEASURES, MEASURES, RATIO_MEASURES, SIDED, UNSIDED, canonical

log = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).resolve().parent
KINDS = ("pose", "reps", "clinical", "flow")
TESTS = ("chair-stand-30s", "single-leg-stance", "timed-up-and-go")
NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class ProgramInfo:
    """One line of ``edgepose programs``."""

    name: str
    kind: str
    title: str
    description: str


@dataclass(frozen=True)
class Check:
    """A measure that should lie in ``[lo, hi]``; ``margin`` is the "near" zone beyond it.

    A check's score is ``2 ** -((e / margin) ** 2)`` where ``e`` is how far the value lies
    outside the range (1 inside, 0.5 at one margin, 0.06 at two).
    """

    measure: str
    lo: float
    hi: float
    margin: float
    weight: float = 1.0
    cue_low: str | None = None
    cue_high: str | None = None
    phase: str = "all"  # form checks: "all" frames of a rep, or only its "far" end
    view: str = "any"  # form checks: judged only in this view ("front", "side", "any")
    line: int = 0


@dataclass(frozen=True)
class RepSpec:
    """How a rep program counts (see docs/scoring.md)."""

    signal: str  # a two-sided base ("knee", "wrist_height") or a one-sided measure ("hip_height")
    direction: str  # "down": a rep takes the signal down and back; "up": up and back
    combine: str = "visible"
    min_amplitude: float = 0.2  # absolute floor of a rep's excursion, in signal units
    hysteresis: float = 0.35  # turning points need a reversal of this share of the recent range
    smooth_s: float = 0.1
    window_s: float = 10.0  # the recent range is taken over this window
    rom: tuple[str, ...] = ()  # angles whose per-rep min/max go into the summary
    rom_target: tuple[float, float] | None = None  # the first rom angle should reach these ends
    min_rep_s: float = 0.3
    max_rep_s: float = 15.0
    cue_incomplete: str | None = None
    cue_fast: str | None = None
    fallback: str | None = None  # counts while the signal is unseen (e.g. legs out of frame)
    far_ratio: float | None = None  # a full rep takes the signal to this multiple of its rest value
    far_target: float | None = None  # ... or to this value (signal units)
    detrend_s: float = 0.0  # remove the signal's slower part (time constant, s) before counting
    rest_range: tuple[float, float] | None = None  # where a rep can start from (signal units)


@dataclass(frozen=True)
class ClinicalSpec:
    test: str
    duration_s: float = 30.0
    max_hold_s: float = 30.0
    distance_m: float = 3.0


@dataclass(frozen=True)
class Program:
    name: str
    title: str
    kind: str
    description: str
    path: Path
    sides: str = "either"  # pose: "either" (the mirror image also fits) or "as-written"
    view: str = "any"
    checks: tuple[Check, ...] = ()
    reps: RepSpec | None = None
    form: tuple[Check, ...] = ()
    clinical: ClinicalSpec | None = None
    hold_target_s: float = 30.0
    steps: tuple[tuple[str, float], ...] = ()  # flow: (pose program, hold seconds) in order
    transition_s: float = 5.0  # flow: the pause between two steps
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def info(self) -> ProgramInfo:
        return ProgramInfo(self.name, self.kind, self.title, self.description)


# ---------------------------------------------------------------- search path
def user_dir() -> Path:
    """Where a user's own programs live (``$EDGEPOSE_PROGRAMS`` or ``~/.config/edgepose/programs``)."""
    env = os.environ.get("EDGEPOSE_PROGRAMS")
    return Path(env).expanduser() if env else Path.home() / ".config" / "edgepose" / "programs"


def search_dirs() -> list[Path]:
    return [user_dir(), BUILTIN_DIR]


def program_paths() -> dict[str, Path]:
    """Name -> file of every program found; a user program shadows a built-in one."""
    out: dict[str, Path] = {}
    for d in reversed(search_dirs()):
        if d.is_dir():
            for f in sorted(d.glob("*.toml")):
                out[f.stem] = f
    return dict(sorted(out.items()))


def list_programs() -> list[ProgramInfo]:
    """Every program that loads, sorted by name; broken user files are logged and skipped."""
    infos = []
    for path in program_paths().values():
        try:
            infos.append(load_program(path).info)
        except ProgramError as e:
            log.warning("skipping %s", e)
    return infos


def load_program(name_or_path: str | os.PathLike) -> Program:
    """A program by name (a TOML stem on the search path) or by the path of a ``.toml`` file."""
    s = str(name_or_path)
    if s.endswith(".toml") or os.sep in s:
        path = Path(s)
        if not path.is_file():
            raise ProgramError(f"program file {path} does not exist; give an existing .toml or a program name")
        return parse_program(path.read_text(encoding="utf-8"), path)
    paths = program_paths()
    if s not in paths:
        import difflib

        close = difflib.get_close_matches(s.strip().lower(), list(paths), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        known = ", ".join(paths) or "(none)"
        raise ProgramError(f"no program named {s!r}; {hint}known programs: {known} (see `edgepose programs`)")
    return parse_program(paths[s].read_text(encoding="utf-8"), paths[s])


# ---------------------------------------------------------------- parsing
class _Src:
    """Line numbers for error messages (tomllib gives none for values)."""

    def __init__(self, text: str, path: Path) -> None:
        self.lines = text.splitlines()
        self.path = path

    def table_line(self, table: str, index: int) -> int:
        n = -1
        pat = re.compile(r"^\s*\[\[\s*" + re.escape(table) + r"\s*\]\]")
        for i, ln in enumerate(self.lines, 1):
            if pat.match(ln):
                n += 1
                if n == index:
                    return i
        return 0

    def header_line(self, table: str) -> int:
        pat = re.compile(r"^\s*\[\s*" + re.escape(table) + r"\s*\]")
        for i, ln in enumerate(self.lines, 1):
            if pat.match(ln):
                return i
        return 0

    def key_line(self, key: str, start: int = 0) -> int:
        pat = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
        for i in range(max(0, start - 1), len(self.lines)):
            if pat.match(self.lines[i]):
                return i + 1
            if i >= start and start and self.lines[i].lstrip().startswith("[") and i + 1 != start:
                break
        return start

    def error(self, line: int, msg: str, fix: str) -> ProgramError:
        where = f"{self.path}:{line}" if line else str(self.path)
        return ProgramError(f"{where}: {msg}; fix: {fix}")


_TOP_KEYS = {"title", "kind", "description", "sides", "view", "hold_target_s", "check", "reps", "form", "clinical",
             "step", "transition_s"}
_CHECK_KEYS = {"measure", "range", "target", "tolerance", "margin", "weight", "cue_low", "cue_high", "phase", "view"}
_REP_KEYS = {"signal", "direction", "combine", "min_amplitude", "hysteresis", "smooth_s", "window_s", "rom",
             "rom_target", "min_rep_s", "max_rep_s", "cue_incomplete", "cue_fast", "fallback", "far_ratio", "far_target", "detrend_s",
             "rest_range"}
_CLIN_KEYS = {"test", "duration_s", "max_hold_s", "distance_m"}


def _num(src: _Src, line: int, key: str, v, lo: float, hi: float, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise src.error(line, f"{key} = {v!r} is not a number", f"write a number {what}")
    if not lo <= float(v) <= hi:
        raise src.error(line, f"{key} = {v} is impossible", f"use a value {what}")
    return float(v)


def _str(src: _Src, line: int, key: str, v, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(v, str) or not v.strip():
        raise src.error(line, f"{key} must be a non-empty string, got {v!r}", f'write {key} = "..."')
    if choices and v not in choices:
        raise src.error(line, f"{key} = {v!r} is not one of {', '.join(choices)}", f"use one of {', '.join(choices)}")
    return v


def _unknown(src: _Src, line: int, table: str, d: dict, allowed: set[str]) -> None:
    for k in d:
        if k not in allowed:
            kl = src.key_line(k, line) if line else src.key_line(k)
            raise src.error(kl, f"unknown key {k!r} in {table}", f"remove it or use one of {', '.join(sorted(allowed))}")


def _limits(measure: str) -> tuple[float, float, float, str]:
    """(lowest, highest, largest sensible margin, unit text) of a measure's values."""
    if measure in ANGLE_MEASURES:
        return 0.0, 180.0, 90.0, "degrees in 0..180"
    return -10.0, 10.0, 5.0, "torso lengths in -10..10"


def _check(src: _Src, d: dict, table: str, index: int) -> Check:
    line = src.table_line(table, index)
    if not isinstance(d, dict):
        raise src.error(line, f"[[{table}]] entry {index + 1} is not a table", f"write it as [[{table}]] with keys below")
    _unknown(src, line, f"[[{table}]]", d, _CHECK_KEYS)
    if "measure" not in d:
        raise src.error(line, f"[[{table}]] entry {index + 1} has no measure", 'add measure = "left_knee" (see docs/formats.md)')
    ml = src.key_line("measure", line)
    m = canonical(_str(src, ml, "measure", d["measure"]))
    if m not in MEASURES:
        raise src.error(ml, f"unknown measure {d['measure']!r}",
                        f"use one of {', '.join(sorted(MEASURES))}")
    lo_lim, hi_lim, max_margin, unit = _limits(m)
    if "range" in d and "target" in d:
        raise src.error(ml, "both range and target given", "keep one: range = [lo, hi] or target = x with tolerance = t")
    if "range" in d:
        rl = src.key_line("range", line)
        r = d["range"]
        if not isinstance(r, list) or len(r) != 2:
            raise src.error(rl, f"range = {r!r} is not [lo, hi]", "write range = [lo, hi]")
        lo = _num(src, rl, "range", r[0], lo_lim, hi_lim, unit)
        hi = _num(src, rl, "range", r[1], lo_lim, hi_lim, unit)
        if lo > hi:
            raise src.error(rl, f"range = [{r[0]}, {r[1]}] is empty (lo > hi)", "put the lower end first")
        tol = None
    elif "target" in d:
        tl = src.key_line("target", line)
        t = _num(src, tl, "target", d["target"], lo_lim, hi_lim, unit)
        if "tolerance" not in d:
            raise src.error(tl, "target without tolerance", "add tolerance = <how far off still counts as on target>")
        tol = _num(src, src.key_line("tolerance", line), "tolerance", d["tolerance"], 1e-9, max_margin,
                   f"above 0 and at most {max_margin:g}")
        lo, hi = max(lo_lim, t - tol), min(hi_lim, t + tol)
    else:
        raise src.error(ml, f"measure {m} has neither range nor target", "add range = [lo, hi] or target = x with tolerance = t")
    margin_default = tol if tol is not None else (10.0 if m in ANGLE_MEASURES else 0.2)
    margin = d.get("margin", margin_default)
    margin = _num(src, src.key_line("margin", line), "margin", margin, 1e-9, max_margin, f"above 0 and at most {max_margin:g}")
    weight = _num(src, src.key_line("weight", line), "weight", d.get("weight", 1.0), 1e-9, 100.0, "above 0 and at most 100")
    cues = {}
    for k in ("cue_low", "cue_high"):
        if k in d:
            cues[k] = _str(src, src.key_line(k, line), k, d[k])
    phase = _str(src, line, "phase", d.get("phase", "all"), ("all", "far"))
    view = _str(src, line, "view", d.get("view", "any"), ("any", "front", "side"))
    return Check(m, lo, hi, margin, weight, cues.get("cue_low"), cues.get("cue_high"), phase, view, line)


def _reps(src: _Src, d: dict) -> RepSpec:
    line = src.header_line("reps")
    if not isinstance(d, dict):
        raise src.error(line, "reps is not a table", "write a [reps] table")
    _unknown(src, line, "[reps]", d, _REP_KEYS)
    kl = lambda k: src.key_line(k, line)  # noqa: E731
    if "signal" not in d:
        raise src.error(line, "[reps] has no signal", 'add signal = "knee" (a two-sided base) or a measure name')
    sig = _str(src, kl("signal"), "signal", d["signal"])
    if sig not in SIDED and sig not in UNSIDED and canonical(sig) not in MEASURES:
        raise src.error(kl("signal"), f"unknown signal {sig!r}",
                        f"use a two-sided base ({', '.join(SIDED)}) or a measure ({', '.join(UNSIDED)}, left_knee, ...)")
    fb = d.get("fallback")
    if fb is not None:
        fb = _str(src, kl("fallback"), "fallback", fb)
        if fb not in SIDED and fb not in UNSIDED and canonical(fb) not in MEASURES:
            raise src.error(kl("fallback"), f"unknown fallback signal {fb!r}", f"use a measure such as {', '.join(UNSIDED)}")
    direction = _str(src, kl("direction"), "direction", d.get("direction", ""), ("down", "up"))
    combine = _str(src, kl("combine"), "combine", d.get("combine", "visible"), ("visible", "max", "min"))
    is_angle = sig in ("knee", "hip", "elbow", "shoulder", "ankle", "thigh", "shin", "arm") or canonical(sig) in ANGLE_MEASURES
    amp_hi = 180.0 if is_angle else 10.0
    rom = d.get("rom", [])
    if not isinstance(rom, list) or not all(isinstance(x, str) for x in rom):
        raise src.error(kl("rom"), f"rom = {rom!r} is not a list of names", 'write rom = ["knee", "hip"]')
    for x in rom:
        if x not in SIDED and canonical(x) not in ANGLE_MEASURES | RATIO_MEASURES:
            raise src.error(kl("rom"), f"unknown rom measure {x!r}", f"use two-sided bases ({', '.join(SIDED)}) or measure names")
    rt = d.get("rom_target")
    if rt is not None:
        if not isinstance(rt, list) or len(rt) != 2 or not rom:
            raise src.error(kl("rom_target"), f"rom_target = {rt!r} needs [from, to] and a rom list", "write rom_target = [170, 90] after rom = [...]")
        rt = (_num(src, kl("rom_target"), "rom_target", rt[0], -10, 180, "in the rom measure's units"),
              _num(src, kl("rom_target"), "rom_target", rt[1], -10, 180, "in the rom measure's units"))
    min_rep = _num(src, kl("min_rep_s"), "min_rep_s", d.get("min_rep_s", 0.3), 0.05, 60, "in seconds, 0.05..60")
    max_rep = _num(src, kl("max_rep_s"), "max_rep_s", d.get("max_rep_s", 15.0), 0.1, 600, "in seconds, 0.1..600")
    if min_rep >= max_rep:
        raise src.error(kl("min_rep_s"), f"min_rep_s {min_rep} is not below max_rep_s {max_rep}", "make min_rep_s < max_rep_s")
    rr = d.get("rest_range")
    if rr is not None:
        if not isinstance(rr, list) or len(rr) != 2:
            raise src.error(kl("rest_range"), f"rest_range = {rr!r} is not [low, high]",
                            "write rest_range = [-1.3, 0.5] (signal units)")
        rr = (_num(src, kl("rest_range"), "rest_range", rr[0], -180.0, 180.0, "in signal units"),
              _num(src, kl("rest_range"), "rest_range", rr[1], -180.0, 180.0, "in signal units"))
        if rr[0] >= rr[1]:
            raise src.error(kl("rest_range"), f"rest_range {list(rr)} is empty", "write the lower end first")
        if d.get("detrend_s", 0.0):
            raise src.error(kl("rest_range"), "rest_range cannot apply to a detrended signal (detrend_s)",
                            "remove rest_range or detrend_s")
    return RepSpec(
        signal=sig, direction=direction, combine=combine, rest_range=rr,
        min_amplitude=_num(src, kl("min_amplitude"), "min_amplitude", d.get("min_amplitude", 0.2), 1e-6, amp_hi,
                           f"above 0 and at most {amp_hi:g}"),
        hysteresis=_num(src, kl("hysteresis"), "hysteresis", d.get("hysteresis", 0.35), 0.05, 0.9, "between 0.05 and 0.9"),
        smooth_s=_num(src, kl("smooth_s"), "smooth_s", d.get("smooth_s", 0.1), 0.0, 2.0, "in seconds, 0..2"),
        window_s=_num(src, kl("window_s"), "window_s", d.get("window_s", 10.0), 1.0, 120.0, "in seconds, 1..120"),
        rom=tuple(rom), rom_target=rt, min_rep_s=min_rep, max_rep_s=max_rep,
        cue_incomplete=_str(src, kl("cue_incomplete"), "cue_incomplete", d["cue_incomplete"]) if "cue_incomplete" in d else None,
        cue_fast=_str(src, kl("cue_fast"), "cue_fast", d["cue_fast"]) if "cue_fast" in d else None,
        fallback=fb,
        detrend_s=_num(src, kl("detrend_s"), "detrend_s", d.get("detrend_s", 0.0), 0.0, 60.0, "in seconds, 0..60"),
        far_target=(_num(src, kl("far_target"), "far_target", d["far_target"], -180.0, 180.0, "in signal units")
                    if "far_target" in d else None),
        far_ratio=(_num(src, kl("far_ratio"), "far_ratio", d["far_ratio"], 0.01, 100.0, "a positive ratio, 0.01..100")
                   if "far_ratio" in d else None),
    )


def _clinical(src: _Src, d: dict) -> ClinicalSpec:
    line = src.header_line("clinical")
    if not isinstance(d, dict):
        raise src.error(line, "clinical is not a table", "write a [clinical] table")
    _unknown(src, line, "[clinical]", d, _CLIN_KEYS)
    test = _str(src, src.key_line("test", line), "test", d.get("test", ""), TESTS)
    kl = lambda k: src.key_line(k, line)  # noqa: E731
    return ClinicalSpec(
        test=test,
        duration_s=_num(src, kl("duration_s"), "duration_s", d.get("duration_s", 30.0), 1, 3600, "in seconds, 1..3600"),
        max_hold_s=_num(src, kl("max_hold_s"), "max_hold_s", d.get("max_hold_s", 30.0), 1, 3600, "in seconds, 1..3600"),
        distance_m=_num(src, kl("distance_m"), "distance_m", d.get("distance_m", 3.0), 0.5, 100, "in metres, 0.5..100"),
    )


def parse_program(text: str, path: Path) -> Program:
    """A :class:`Program` from TOML text; ``path`` names the file in errors and gives the name."""
    path = Path(path)
    src = _Src(text, path)
    if not NAME_RE.match(path.stem):
        raise src.error(0, f"program name {path.stem!r} (the file stem) is not lower-case words joined by hyphens",
                        "rename the file, e.g. warrior-2.toml")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        line = int(m.group(1)) if m else (len(src.lines) if "end of document" in str(e) else 0)
        raise src.error(line, f"malformed TOML ({e})", "correct the TOML syntax at that line") from None
    top_line = lambda k: src.key_line(k)  # noqa: E731
    for k in data:
        if k not in _TOP_KEYS:
            raise src.error(src.key_line(k) or src.header_line(k), f"unknown key {k!r}",
                            f"remove it or use one of {', '.join(sorted(_TOP_KEYS))}")
    kind = _str(src, top_line("kind"), "kind", data.get("kind", ""), KINDS)
    title = _str(src, top_line("title"), "title", data.get("title", path.stem))
    desc = _str(src, top_line("description"), "description", data.get("description", title))
    sides = _str(src, top_line("sides"), "sides", data.get("sides", "either"), ("either", "as-written"))
    view = _str(src, top_line("view"), "view", data.get("view", "any"), ("any", "front", "side", "lying"))
    hold = _num(src, top_line("hold_target_s"), "hold_target_s", data.get("hold_target_s", 30.0), 1, 3600, "in seconds, 1..3600")
    raw_checks = data.get("check", [])
    raw_form = data.get("form", [])
    for key, raw in (("check", raw_checks), ("form", raw_form)):
        if not isinstance(raw, list):
            raise src.error(src.header_line(key) or top_line(key), f"{key} must be an array of tables", f"write each as [[{key}]]")
    checks = tuple(_check(src, d, "check", i) for i, d in enumerate(raw_checks))
    form = tuple(_check(src, d, "form", i) for i, d in enumerate(raw_form))
    reps = _reps(src, data["reps"]) if "reps" in data else None
    clinical = _clinical(src, data["clinical"]) if "clinical" in data else None
    if kind == "pose" and not checks:
        raise src.error(0, "a pose program has no [[check]]", "add at least one [[check]] with a measure and a range")
    if kind == "reps" and reps is None:
        raise src.error(0, "a reps program has no [reps] table", "add [reps] with signal and direction")
    if kind == "clinical":
        if clinical is None:
            raise src.error(0, "a clinical program has no [clinical] table", f"add [clinical] with test = one of {', '.join(TESTS)}")
        if clinical.test in ("chair-stand-30s", "timed-up-and-go") and reps is None:
            raise src.error(src.header_line("clinical"), f"test {clinical.test} needs a [reps] table (the sit/stand signal)",
                            'add [reps] with signal = "hip_height" and direction = "up"')
        if clinical.test == "single-leg-stance" and not checks:
            raise src.error(src.header_line("clinical"), "single-leg-stance needs [[check]] entries for the stance",
                            "add checks (e.g. left_foot_lift) that define standing on one leg")
    steps = _steps(src, data.get("step", []), kind)
    trans = _num(src, top_line("transition_s"), "transition_s", data.get("transition_s", 5.0), 0, 120, "in seconds, 0..120")
    return Program(name=path.stem, title=title, kind=kind, description=desc, path=path, sides=sides, view=view,
                   checks=checks, reps=reps, form=form, clinical=clinical, hold_target_s=hold, steps=steps,
                   transition_s=trans)


def _steps(src: _Src, raw: object, kind: str) -> tuple[tuple[str, float], ...]:
    """A flow's ``[[step]]`` tables: ``pose`` (a target-pose program) and ``hold_s``."""
    if kind != "flow":
        if raw:
            raise src.error(src.table_line("step", 0), "[[step]] belongs to flow programs", 'set kind = "flow" or remove it')
        return ()
    if not isinstance(raw, list) or not raw:
        raise src.error(0, "a flow program has no [[step]]", 'add [[step]] tables with pose = "tree" and hold_s = 20')
    known = program_paths()
    out = []
    for i, d in enumerate(raw):
        line = src.table_line("step", i)
        if not isinstance(d, dict):
            raise src.error(line, f"[[step]] entry {i + 1} is not a table", "write it as [[step]] with pose and hold_s")
        _unknown(src, line, "[[step]]", d, {"pose", "hold_s"})
        pose = _str(src, src.key_line("pose", line), "pose", d.get("pose", ""))
        if pose not in known:
            raise src.error(src.key_line("pose", line), f"unknown pose program {pose!r}",
                            f"use a target-pose program: {', '.join(sorted(known))}")
        hold = _num(src, src.key_line("hold_s", line), "hold_s", d.get("hold_s", 20.0), 1, 3600, "in seconds, 1..3600")
        out.append((pose, hold))
    return tuple(out)

"""Plain words for what units report (never a raw enum name on a page)."""

from __future__ import annotations

from typing import Any

LIVE_STATES = {
    "idle": "Waiting to start",
    "countdown": "Getting ready",
    "active": "In a session",
    "summary": "Showing the results",
    "fault": "Needs attention (a fault)",
    # per-frame feedback states, should a unit send them
    "waiting": "Nobody in view",
    "tracking": "Following the person",
    "holding": "Holding the pose",
    "rep_rest": "Between reps",
    "rep_down": "Going down",
    "rep_up": "Coming up",
    "done": "Finished",
}

SESSION_STATUS = {
    "completed": "Completed",
    "stopped": "Stopped early",
    "interrupted": "Interrupted (the unit restarted)",
}

FAULTS = {
    "incomplete": "not the full range",
    "fast": "too fast",
}

EVENT_LEVELS = {"info": "Note", "warning": "Warning", "error": "Problem"}


def live_state(value: Any) -> str:
    """The words for a live/feedback state; an unknown value is not echoed."""
    return LIVE_STATES.get(value, "Unknown state") if isinstance(value, str) else "—"


def session_status(value: Any) -> str:
    return SESSION_STATUS.get(value, "Unknown") if isinstance(value, str) else "—"


def measure(name: Any) -> str:
    """``left_knee`` -> ``left knee``; ``knee_ankle_ratio`` -> ``knee ankle ratio``."""
    return str(name).replace("_", " ").strip() if name is not None else "—"


def fault(name: Any) -> str:
    """``trunk_lean:high`` -> ``trunk lean too high``; ``incomplete`` -> ``not the full range``."""
    s = str(name)
    if s in FAULTS:
        return FAULTS[s]
    base, _, side = s.partition(":")
    suffix = {"high": " too high", "low": " too low"}.get(side, f" ({side})" if side else "")
    return measure(base) + suffix


def program(name: Any, titles: dict[str, str] | None = None) -> str:
    """A program's title when it is a known program, else its name with spaces."""
    if not isinstance(name, str):
        return "—"
    if titles and name in titles:
        return titles[name]
    return name.replace("-", " ").replace("_", " ")


def seconds(v: Any, digits: int = 1) -> str:
    if v is None or isinstance(v, bool) or not isinstance(v, int | float):
        return "—"
    v = float(v)
    if v >= 90:
        m, s = divmod(int(round(v)), 60)
        return f"{m} min {s:02d} s"
    return f"{v:.{digits}f} s"


def ago(delta_s: float | None) -> str:
    """``42 s ago``, ``5 min ago``, ``3 h ago``, ``2 days ago``."""
    if delta_s is None:
        return "never"
    d = max(0.0, delta_s)
    if d < 60:
        return f"{int(d)} s ago"
    if d < 3600:
        return f"{int(d // 60)} min ago"
    if d < 86400 * 2:
        return f"{int(d // 3600)} h ago"
    return f"{int(d // 86400)} days ago"

"""The appliance state machine: idle → countdown → active → summary → idle (and fault).

A pure class: no threads, no sleeps, no hardware. Events come from the button (``press``,
``long_press``), the clock (``tick``), the pipeline (``source_ended``, ``fault``) and MQTT
(``command``); each returns what happened and calls the ``on_state_change`` /
``on_program_change`` callbacks. Time is injected (``now`` arguments or a ``clock`` callable), so
tests drive it event by event.

============  ==============================  ====================================
state         press                           other events
============  ==============================  ====================================
idle          start countdown (or active      long press: next program;
              when ``countdown_s == 0``)      cmd start/select
countdown     cancel → idle                   tick past deadline → active
active        stop → summary                  source_ended → summary
summary       dismiss → idle                  tick past ``summary_s`` → idle
fault         acknowledge → idle              ``recovered`` → idle
============  ==============================  ====================================

``fault(reason)`` moves any state to ``fault``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)


class State(StrEnum):
    IDLE = "idle"
    COUNTDOWN = "countdown"
    ACTIVE = "active"
    SUMMARY = "summary"
    FAULT = "fault"


@dataclass(frozen=True)
class StateChange:
    """One transition, as handed to ``on_state_change`` callbacks."""

    previous: State
    state: State
    program: str
    reason: str  # "press", "countdown_done", "source_ended", "command:start", "fault: ...", ...
    at: float  # clock time of the transition
    session: int  # session number (increments when a session becomes active)


@dataclass(frozen=True)
class CommandResult:
    """Answer to an MQTT-style command (published on ``cmd/result``)."""

    ok: bool
    action: str
    state: State
    program: str
    reason: str = ""


class Controller:
    """Drives the appliance through its states.

    Parameters
    ----------
    programs:
        The program names a long press cycles through, in order (at least one).
    default:
        The program selected at start ("" or ``None``: the first).
    countdown_s:
        Seconds from the start press to the active session (0: start at once).
    summary_s:
        Seconds the summary stays before the device is ready again (0: until a press).
    clock:
        Monotonic clock used when an event is given no ``now``.
    """

    def __init__(
        self,
        programs: Sequence[str],
        default: str | None = None,
        countdown_s: float = 3.0,
        summary_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not programs:
            raise ValueError("the controller needs at least one program; install or configure one")
        if len(set(programs)) != len(programs):
            raise ValueError(f"program list has duplicates: {list(programs)}")
        if default and default not in programs:
            raise ValueError(f"default program {default!r} is not one of {', '.join(programs)}")
        if countdown_s < 0 or summary_s < 0:
            raise ValueError("countdown_s and summary_s must be >= 0")
        self.programs: tuple[str, ...] = tuple(programs)
        self.program: str = default or self.programs[0]
        self.countdown_s = float(countdown_s)
        self.summary_s = float(summary_s)
        self._clock = clock
        self.state = State.IDLE
        self.session = 0
        self.fault_reason = ""
        self._deadline: float | None = None  # countdown end or summary end
        self._active_since: float | None = None
        self._last_active_s = 0.0
        self._state_cbs: list[Callable[[StateChange], None]] = []
        self._program_cbs: list[Callable[[str], None]] = []

    # ----------------------------------------------------------------- callbacks

    def on_state_change(self, cb: Callable[[StateChange], None]) -> Callable[[StateChange], None]:
        """Register ``cb(change)``; usable as a decorator."""
        self._state_cbs.append(cb)
        return cb

    def on_program_change(self, cb: Callable[[str], None]) -> Callable[[str], None]:
        """Register ``cb(program_name)``; usable as a decorator."""
        self._program_cbs.append(cb)
        return cb

    # ----------------------------------------------------------------- queries

    def countdown_remaining(self, now: float | None = None) -> float:
        """Seconds left in the countdown (0 outside it)."""
        if self.state is not State.COUNTDOWN or self._deadline is None:
            return 0.0
        return max(0.0, self._deadline - self._now(now))

    def active_seconds(self, now: float | None = None) -> float:
        """Length of the current session (or of the last one, in summary)."""
        if self.state is State.ACTIVE and self._active_since is not None:
            return max(0.0, self._now(now) - self._active_since)
        return self._last_active_s

    # ----------------------------------------------------------------- events

    def press(self, now: float | None = None) -> StateChange | None:
        """A short press of the button: start, cancel, stop, dismiss or acknowledge."""
        t = self._now(now)
        s = self.state
        if s is State.IDLE:
            return self._start(t, "press")
        if s is State.COUNTDOWN:
            return self._go(State.IDLE, t, "press: cancelled")
        if s is State.ACTIVE:
            return self._stop(t, "press")
        if s is State.SUMMARY:
            return self._go(State.IDLE, t, "press: dismissed")
        # FAULT: the user has seen it; try again from idle.
        return self._go(State.IDLE, t, "press: fault acknowledged")

    def long_press(self, now: float | None = None) -> str | None:
        """Hold: the next program, in idle or summary only. Returns the new program or ``None``."""
        if self.state not in (State.IDLE, State.SUMMARY):
            log.info("long press ignored in state %s", self.state.value)
            return None
        i = self.programs.index(self.program)
        self._select(self.programs[(i + 1) % len(self.programs)])
        if self.state is State.SUMMARY:
            self._go(State.IDLE, self._now(now), "long_press")
        return self.program

    def tick(self, now: float | None = None) -> StateChange | None:
        """Advance timers: countdown → active, summary → idle."""
        t = self._now(now)
        if self._deadline is None or t < self._deadline:
            return None
        if self.state is State.COUNTDOWN:
            return self._activate(self._deadline, "countdown_done")
        if self.state is State.SUMMARY:
            return self._go(State.IDLE, t, "summary_done")
        return None

    def source_ended(self, now: float | None = None) -> StateChange | None:
        """The frame source ended (a file): an active session goes to summary."""
        t = self._now(now)
        if self.state is State.ACTIVE:
            return self._stop(t, "source_ended")
        if self.state is State.COUNTDOWN:
            return self._go(State.IDLE, t, "source_ended")
        return None

    def fault(self, reason: str, now: float | None = None) -> StateChange | None:
        """Something the device cannot work without failed (camera gone, model unloadable, ...)."""
        t = self._now(now)
        if self.state is State.ACTIVE:
            self._end_session(t)
        self.fault_reason = reason
        if self.state is State.FAULT:
            return None
        return self._go(State.FAULT, t, f"fault: {reason}")

    def recovered(self, now: float | None = None) -> StateChange | None:
        """The fault went away (camera back): ready again."""
        if self.state is not State.FAULT:
            return None
        self.fault_reason = ""
        return self._go(State.IDLE, self._now(now), "recovered")

    def command(self, action: str, program: str | None = None, now: float | None = None) -> CommandResult:
        """An MQTT command: ``start`` (optionally with a program), ``stop`` or ``select``.

        Never raises on bad input: the result says why a command was refused.
        """
        t = self._now(now)

        def refuse(reason: str) -> CommandResult:
            return CommandResult(False, str(action), self.state, self.program, reason)

        if program is not None and program not in self.programs:
            return refuse(f"unknown program {program!r}; programs: {', '.join(self.programs)}")
        if action == "select":
            if program is None:
                return refuse("select needs a program")
            if self.state not in (State.IDLE, State.SUMMARY):
                return refuse(f"cannot change program while {self.state.value}; stop first")
            self._select(program)
            if self.state is State.SUMMARY:
                self._go(State.IDLE, t, "command:select")
            return CommandResult(True, action, self.state, self.program)
        if action == "start":
            if self.state is State.SUMMARY:
                self._go(State.IDLE, t, "command:start")
            if self.state is not State.IDLE:
                return refuse(f"cannot start while {self.state.value}")
            if program is not None:
                self._select(program)
            self._start(t, "command:start")
            return CommandResult(True, action, self.state, self.program)
        if action == "stop":
            if self.state is State.ACTIVE:
                self._stop(t, "command:stop")
            elif self.state is State.COUNTDOWN:
                self._go(State.IDLE, t, "command:stop")
            else:
                return refuse(f"nothing to stop while {self.state.value}")
            return CommandResult(True, action, self.state, self.program)
        return refuse(f"unknown action {action!r}; use start, stop or select")

    # ----------------------------------------------------------------- internals

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else float(now)

    def _select(self, program: str) -> None:
        if program == self.program:
            return
        self.program = program
        for cb in list(self._program_cbs):
            cb(program)

    def _start(self, t: float, reason: str) -> StateChange:
        if self.countdown_s <= 0:
            return self._activate(t, reason)
        return self._go(State.COUNTDOWN, t, reason, deadline=t + self.countdown_s)

    def _activate(self, t: float, reason: str) -> StateChange:
        self.session += 1
        self._active_since = t
        return self._go(State.ACTIVE, t, reason)

    def _end_session(self, t: float) -> None:
        if self._active_since is not None:
            self._last_active_s = max(0.0, t - self._active_since)
        self._active_since = None

    def _stop(self, t: float, reason: str) -> StateChange:
        self._end_session(t)
        return self._go(State.SUMMARY, t, reason, deadline=t + self.summary_s if self.summary_s > 0 else None)

    def _go(self, new: State, t: float, reason: str, deadline: float | None = None) -> StateChange:
        change = StateChange(self.state, new, self.program, reason, t, self.session)
        self.state = new
        self._deadline = deadline
        log.info("state %s -> %s (%s)", change.previous.value, new.value, reason)
        for cb in list(self._state_cbs):
            cb(change)
        return change

"""The appliance state machine, driven event by event with injected time (no sleeps)."""

from __future__ import annotations

import pytest

from edgepose.appliance.controller import Controller, State, StateChange


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def rig():
    clock = Clock()
    c = Controller(["squat", "tree", "lunge"], default="tree", countdown_s=3, summary_s=10, clock=clock)
    changes: list[StateChange] = []
    programs: list[str] = []
    c.on_state_change(changes.append)
    c.on_program_change(programs.append)
    return c, clock, changes, programs


def test_full_cycle_idle_countdown_active_summary_idle(rig):
    c, clock, changes, _ = rig
    assert c.state is State.IDLE and c.program == "tree"
    c.press()
    assert c.state is State.COUNTDOWN
    clock.t += 1.0
    assert c.countdown_remaining() == pytest.approx(2.0)
    assert c.tick() is None and c.state is State.COUNTDOWN
    clock.t += 2.5
    ch = c.tick()
    assert ch is not None and ch.state is State.ACTIVE and ch.reason == "countdown_done"
    assert ch.at == pytest.approx(103.0), "session starts at the deadline, not at the late tick"
    assert c.session == 1
    clock.t += 20
    assert c.active_seconds() == pytest.approx(20.5)
    c.press()
    assert c.state is State.SUMMARY
    assert c.active_seconds() == pytest.approx(20.5), "summary keeps the session length"
    clock.t += 9.9
    assert c.tick() is None
    clock.t += 0.2
    assert c.tick().state is State.IDLE
    assert [(x.previous, x.state) for x in changes] == [
        (State.IDLE, State.COUNTDOWN), (State.COUNTDOWN, State.ACTIVE),
        (State.ACTIVE, State.SUMMARY), (State.SUMMARY, State.IDLE)]
    assert all(x.program == "tree" for x in changes)


def test_press_during_countdown_cancels(rig):
    c, clock, changes, _ = rig
    c.press()
    clock.t += 1
    c.press()
    assert c.state is State.IDLE and c.session == 0
    clock.t += 5
    assert c.tick() is None and c.state is State.IDLE


def test_callbacks_see_the_new_state_and_deadline(rig):
    c, clock, _, _ = rig
    seen = []
    c.on_state_change(lambda ch: seen.append((c.state, c.countdown_remaining())))
    c.press()
    assert seen == [(State.COUNTDOWN, 3.0)]


def test_zero_countdown_starts_at_once_and_zero_summary_waits_for_press():
    c = Controller(["a"], countdown_s=0, summary_s=0, clock=lambda: 0.0)
    c.press(now=1.0)
    assert c.state is State.ACTIVE and c.session == 1
    c.press(now=2.0)
    assert c.state is State.SUMMARY
    assert c.tick(now=10_000.0) is None and c.state is State.SUMMARY
    c.press(now=10_001.0)
    assert c.state is State.IDLE


def test_long_press_cycles_programs_in_idle_only(rig):
    c, clock, _, programs = rig
    assert c.long_press() == "lunge"
    assert c.long_press() == "squat"
    assert c.long_press() == "tree"
    assert programs == ["lunge", "squat", "tree"]
    c.press()
    assert c.long_press() is None and c.program == "tree", "no program change during countdown"
    clock.t += 3
    c.tick()
    assert c.long_press() is None and c.state is State.ACTIVE


def test_long_press_in_summary_selects_next_and_returns_to_idle(rig):
    c, clock, _, _ = rig
    c.command("start")
    clock.t += 3
    c.tick()
    c.press()
    assert c.state is State.SUMMARY
    assert c.long_press() == "lunge"
    assert c.state is State.IDLE


def test_source_end_finishes_the_session(rig):
    c, clock, changes, _ = rig
    assert c.source_ended() is None
    c.press()
    clock.t += 3
    c.tick()
    ch = c.source_ended()
    assert ch.state is State.SUMMARY and ch.reason == "source_ended"


def test_fault_from_any_state_and_recovery(rig):
    c, clock, _, _ = rig
    c.press()
    clock.t += 3
    c.tick()
    ch = c.fault("camera disappeared")
    assert ch.state is State.FAULT and ch.previous is State.ACTIVE
    assert c.fault_reason == "camera disappeared"
    assert c.fault("again") is None, "a second fault is not a new transition"
    assert c.command("start").ok is False
    assert c.recovered().state is State.IDLE and c.fault_reason == ""
    c.fault("model")
    assert c.press().reason == "press: fault acknowledged"
    assert c.state is State.IDLE


def test_commands(rig):
    c, clock, changes, programs = rig
    r = c.command("select", "squat")
    assert r.ok and c.program == "squat" and programs == ["squat"]
    r = c.command("start", "lunge")
    assert r.ok and r.state is State.COUNTDOWN and r.program == "lunge"
    assert changes[-1].reason == "command:start"
    r = c.command("select", "tree")
    assert not r.ok and "stop first" in r.reason and c.program == "lunge"
    r = c.command("start")
    assert not r.ok and "countdown" in r.reason
    clock.t += 3
    c.tick()
    r = c.command("stop")
    assert r.ok and r.state is State.SUMMARY
    r = c.command("stop")
    assert not r.ok and "nothing to stop" in r.reason
    r = c.command("start")
    assert r.ok and r.state is State.COUNTDOWN, "start from summary skips the wait"
    r = c.command("stop")
    assert r.ok and r.state is State.IDLE


@pytest.mark.parametrize(
    "action, program, why",
    [("dance", None, "unknown action"), ("start", "pilates", "unknown program"),
     ("select", None, "needs a program"), ("", None, "unknown action")],
)
def test_bad_commands_are_refused_with_a_reason(rig, action, program, why):
    c, _, changes, _ = rig
    r = c.command(action, program)
    assert not r.ok and why in r.reason
    assert c.state is State.IDLE and changes == []


def test_bad_construction():
    with pytest.raises(ValueError, match="at least one program"):
        Controller([])
    with pytest.raises(ValueError, match="not one of"):
        Controller(["a"], default="b")
    with pytest.raises(ValueError, match="duplicates"):
        Controller(["a", "a"])

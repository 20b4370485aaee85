"""LEDs and button on gpiozero's own MockFactory: drive the button pin, read the LED pins."""

from __future__ import annotations

import threading
import time

import pytest

from edgepose.appliance.controller import Controller, State
from edgepose.config import loads
from edgepose.feedback.button import StartButton
from edgepose.feedback.leds import FAULT_SEQUENCE, LedPattern, StatusLeds
from tests.conftest import wait_for

CFG = loads("[gpio.leds]\nready = 5\nactive = 6\ngood = 13\nfix = 19\nfault = 26\n[gpio]\nbutton = 17\n")
PINS = CFG.gpio.leds.as_dict()


def lit(factory) -> set[str]:
    return {name for name, pin in PINS.items() if factory.pin(pin).state}


@pytest.mark.parametrize(
    "pattern, expect",
    [
        (LedPattern.OFF, set()),
        (LedPattern.READY, {"ready"}),
        (LedPattern.ACTIVE, {"active"}),
        (LedPattern.GOOD, {"active", "good"}),
        (LedPattern.NEAR, {"active", "good", "fix"}),
        (LedPattern.FIX, {"active", "fix"}),
    ],
)
def test_steady_patterns_light_the_right_pins(factory, pattern, expect):
    with StatusLeds.from_config(CFG.gpio) as leds:
        leds.show(pattern)
        assert lit(factory) == expect


def test_form_status_maps_to_patterns(factory):
    with StatusLeds.from_config(CFG.gpio) as leds:
        leds.form("on")
        assert lit(factory) == {"active", "good"}
        leds.form("near")
        assert lit(factory) == {"active", "good", "fix"}
        leds.form("off")
        assert lit(factory) == {"active", "fix"}
        leds.form("unseen")
        assert lit(factory) == {"active"}
        with pytest.raises(ValueError, match="unknown form status"):
            leds.form("meh")


def test_fault_pattern_double_flashes_and_nothing_else_is_lit(factory):
    with StatusLeds.from_config(CFG.gpio) as leds:
        leds.show("good")
        fault = factory.pin(PINS["fault"])
        fault.clear_states()
        leds.show("fault")
        assert lit(factory) <= {"fault"}
        # one full cycle of the pattern: on, off, on, off
        assert wait_for(lambda: len(fault.states) >= 5, timeout=3.0)
        values = [s.state for s in fault.states[1:5]]
        assert values == [True, False, True, False]
        durations = [s.timestamp for s in fault.states[2:5]]
        for got, (_, want) in zip(durations, FAULT_SEQUENCE[:3], strict=True):
            assert got == pytest.approx(want, abs=0.08)
        assert not {"ready", "active", "good", "fix"} & lit(factory)
        leds.show("ready")
        assert lit(factory) == {"ready"}
        n = len(fault.states)
        time.sleep(0.3)
        assert len(fault.states) == n, "fault blinking stopped when the pattern changed"


def test_countdown_blinks_active(factory):
    with StatusLeds.from_config(CFG.gpio) as leds:
        active = factory.pin(PINS["active"])
        active.clear_states()
        leds.show("countdown")
        assert wait_for(lambda: len(active.states) >= 4)
        assert factory.pin(PINS["ready"]).state


def test_same_pattern_twice_does_not_restart(factory):
    with StatusLeds.from_config(CFG.gpio) as leds:
        leds.show("good")
        good = factory.pin(PINS["good"])
        n = len(good.states)
        for _ in range(50):
            leds.show("good")
        assert len(good.states) == n


def test_close_turns_off_and_is_idempotent(factory):
    leds = StatusLeds.from_config(CFG.gpio)
    leds.show("fault")
    leds.close()
    leds.close()
    assert lit(factory) == set()


class Events:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.got = threading.Event()

    def press(self) -> None:
        self.log.append("press")
        self.got.set()

    def long(self) -> None:
        self.log.append("long")
        self.got.set()


def test_short_press_is_reported_on_release(factory):
    ev = Events()
    with StartButton(17, ev.press, ev.long, long_press_s=0.3, bounce_time=None) as b:
        pin = factory.pin(17)
        assert b.button.pull_up
        pin.drive_low()
        pin.drive_high()
        assert ev.got.wait(1.0)
        assert ev.log == ["press"]


def test_hold_is_a_long_press_and_not_also_a_press(factory):
    ev = Events()
    with StartButton(17, ev.press, ev.long, long_press_s=0.1, bounce_time=None):
        pin = factory.pin(17)
        pin.drive_low()
        assert ev.got.wait(2.0), "hold was not reported"
        assert ev.log == ["long"], "the hold is reported while still held"
        pin.drive_high()
        time.sleep(0.05)
        assert ev.log == ["long"]


def test_a_failing_callback_does_not_break_the_button(factory):
    ev = Events()

    def boom() -> None:
        raise RuntimeError("bug")

    with StartButton(17, boom, ev.long, long_press_s=5, bounce_time=None):
        pin = factory.pin(17)
        pin.drive_low()
        pin.drive_high()
        pin.drive_low()
        pin.drive_high()


def test_button_and_leds_drive_the_controller(factory):
    """The appliance wiring in miniature: button → controller → LEDs."""
    clock = [0.0]
    c = Controller(["squat", "tree"], countdown_s=3, summary_s=5, clock=lambda: clock[0])
    leds = StatusLeds.from_config(CFG.gpio)
    patterns = {State.IDLE: "ready", State.COUNTDOWN: "countdown", State.ACTIVE: "active",
                State.SUMMARY: "summary", State.FAULT: "fault"}
    c.on_state_change(lambda ch: leds.show(patterns[ch.state]))
    leds.show("ready")
    ev = Events()
    btn = StartButton.from_config(CFG.gpio, lambda: (c.press(), ev.press()), lambda: (c.long_press(), ev.long()))
    try:
        pin = factory.pin(CFG.gpio.button)
        pin.drive_low()
        pin.drive_high()
        assert ev.got.wait(1.0)
        assert c.state is State.COUNTDOWN and leds.pattern is LedPattern.COUNTDOWN
        clock[0] = 3.0
        c.tick()
        assert c.state is State.ACTIVE and lit(factory) == {"active"}
        leds.form("on")
        assert lit(factory) == {"active", "good"}
        c.fault("camera disappeared")
        assert leds.pattern is LedPattern.FAULT
    finally:
        btn.close()
        leds.close()


def test_open_leds_uses_the_pin_factory_and_falls_back_without_gpio(factory, caplog):
    from gpiozero.pins.mock import MockFactory as MF

    from edgepose.feedback import NullButton, NullLeds, open_button, open_leds

    leds = open_leds(CFG.gpio, pin_factory=factory)
    assert isinstance(leds, StatusLeds)
    leds.show("ready")
    assert lit(factory) == {"ready"}
    leds.close()
    # a pin factory whose pins refuse output (the pins do not exist on this board)
    class NoPins(MF):
        def pin(self, spec, **kw):
            from gpiozero import PinInvalidPin

            raise PinInvalidPin(f"no pin {spec} on this board")

    with caplog.at_level("WARNING"):
        assert isinstance(open_leds(CFG.gpio, pin_factory=NoPins()), NullLeds)
        assert isinstance(open_button(CFG.gpio, lambda: None, lambda: None, pin_factory=NoPins()), NullButton)
    assert any("status LEDs unavailable" in r.message and "gpio.enabled = false" in r.message
               for r in caplog.records)
    off = loads("[gpio]\nenabled = false")
    assert isinstance(open_leds(off.gpio, pin_factory=factory), NullLeds)

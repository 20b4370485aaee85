"""The appliance end to end: a button press on gpiozero's MockFactory starts a real session on a
real exercise video; its summary reaches a real Mosquitto broker; a broken source shows the fault
pattern instead of crashing."""

from __future__ import annotations

import threading
import time

from edgepose.appliance.app import Appliance
from edgepose.appliance.controller import State
from edgepose.config import loads
from tests.conftest import need_data
from tests.conftest import wait_for as _wait_for
from tests.mqtt_broker import Subscriber, broker_fixture  # noqa: F401  (fixture)

BASE = """
[device]
id = "test-unit"
state_dir = "{state}"
cache_dir = "{state}/cache"
[program]
countdown_s = 0
summary_s = 0
cycle = ["squat", "tree"]
[gpio]
button = 17
long_press_s = 0.5
[gpio.leds]
ready = 5
active = 6
good = 13
fix = 19
fault = 26
[audio]
enabled = false
"""


def wait_for(pred, timeout=60.0) -> bool:
    return _wait_for(pred, timeout, 0.02)


def press(factory, pin=17):
    factory.pin(pin).drive_low()
    time.sleep(0.05)
    factory.pin(pin).drive_high()


def start(app: Appliance) -> threading.Thread:
    t = threading.Thread(target=app.run, name="test-appliance", daemon=True)
    t.start()
    assert wait_for(lambda: app.pinger is not None and app.controller.state is State.IDLE, 5)
    return t


def test_button_starts_a_session_whose_summary_reaches_the_broker(tmp_path, factory, broker):
    video = need_data("exercise", "squat_side_gym.mp4")
    cfg = loads(BASE.format(state=tmp_path) + f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n')
    sub = Subscriber(broker.port, ["edgepose/test-unit/#"])
    app = Appliance(cfg, pin_factory=factory, source=str(video))
    states: list[State] = []
    app.controller.on_state_change(lambda ch: states.append(ch.state))
    t = start(app)
    try:
        assert factory.pin(5).state  # ready LED on while idle
        press(factory)
        assert wait_for(lambda: State.ACTIVE in states, 5)
        assert factory.pin(6).state  # active LED
        # The file ends by itself: the session closes with a summary.
        assert wait_for(lambda: State.SUMMARY in states, 120)
        assert app.last_summary is not None and app.last_summary["program"] == "squat"
        assert isinstance(app.last_summary["reps"], int)
        assert sub.wait_for(lambda: sub.json("session/summary"), 15)
        got = sub.json("session/summary")
        assert len(got) == 1
        assert got[0]["program"] == "squat" and got[0]["reps"] == app.last_summary["reps"]
        assert got[0]["device_id"] == "test-unit" and got[0]["status"] == "completed"
    finally:
        app.shutdown()
        t.join(15)
        sub.close()
    assert not t.is_alive()


def test_broken_source_shows_fault_not_crash(tmp_path, factory):
    cfg = loads(BASE.format(state=tmp_path))
    app = Appliance(cfg, pin_factory=factory, source=str(tmp_path / "no-such-camera.mp4"))
    t = start(app)
    try:
        press(factory)
        assert wait_for(lambda: app.controller.state is State.FAULT, 10)
        assert "no such" in app.controller.fault_reason
        # The fault pattern blinks the fault LED (double flash): it must light within a cycle.
        assert wait_for(lambda: factory.pin(26).state, 3)
        press(factory)  # acknowledge
        assert wait_for(lambda: app.controller.state is State.IDLE, 5)
    finally:
        app.shutdown()
        t.join(15)
    assert not t.is_alive()


def test_long_press_selects_the_next_program(tmp_path, factory):
    app = Appliance(loads(BASE.format(state=tmp_path)), pin_factory=factory, source="unused.mp4")
    t = start(app)
    try:
        assert app.controller.program == "squat"
        factory.pin(17).drive_low()
        time.sleep(0.8)
        factory.pin(17).drive_high()
        assert wait_for(lambda: app.controller.program == "tree", 3)
        assert app.controller.state is State.IDLE
    finally:
        app.shutdown()
        t.join(15)


def test_a_failed_start_releases_the_leds_and_close_is_idempotent(tmp_path, factory, monkeypatch):
    """If opening the button fails after the LEDs are lit, the LEDs are released again."""
    import edgepose.feedback as fb

    cfg = loads(BASE.format(state=tmp_path))

    def broken_button(*a, **kw):
        raise TypeError("button driver broke")

    monkeypatch.setattr(fb, "open_button", broken_button)
    try:
        Appliance(cfg, pin_factory=factory)
    except TypeError as e:
        assert "button driver broke" in str(e)
    else:  # pragma: no cover
        raise AssertionError("the start should have failed")
    # every LED pin is free again: a new board can claim them
    from gpiozero import LED

    for pin in (5, 6, 13, 19, 26):
        LED(pin, pin_factory=factory).close()
    monkeypatch.undo()
    with Appliance(cfg, pin_factory=factory) as app:
        app.close()
    app.close()  # twice: harmless
    assert app._closed

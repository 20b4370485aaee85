"""The appliance: config → button, LEDs, display, voice, MQTT → one session per button press.

:class:`Appliance` wires the pure :class:`edgepose.appliance.controller.Controller` to the hardware seams
and runs each active session through :func:`edgepose.live.runner.run_session` on a worker thread. It
reports to systemd (READY, STATUS, and WATCHDOG only while every stage checks in) and turns any
fault — camera gone, model refused — into the fault LED pattern and an MQTT event instead of a
crash loop.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import replace
from typing import Any

from edgepose.appliance.controller import Controller, State, StateChange
from edgepose.appliance.watchdog import Heartbeat, SystemdNotifier, WatchdogPinger
from edgepose.config import Config, device_dirs
from edgepose.inference.engine import EngineConfig
from edgepose.live.pipeline import Result
from edgepose.live.runner import RunOptions, run_session

log = logging.getLogger(__name__)

def installed_programs(cfg: Config) -> list[str]:
    if cfg.program.cycle:
        return list(cfg.program.cycle)
    from edgepose.programs import list_programs

    return [p.name for p in list_programs()]


class Appliance:
    """One device. ``run()`` blocks until SIGTERM/SIGINT or :meth:`shutdown`."""

    def __init__(self, cfg: Config, pin_factory: Any = None, notifier: SystemdNotifier | None = None,
                 source: str | None = None):
        from edgepose.appliance.device_feedback import open_device_feedback
        from edgepose.feedback import open_button

        self.cfg = cfg
        self.source = source or str(cfg.camera.source)
        self.state_dir = device_dirs(cfg).state
        programs = installed_programs(cfg)
        self.controller = Controller(programs, cfg.program.default or None, cfg.program.countdown_s,
                                     cfg.program.summary_s)
        self.heartbeat = Heartbeat()
        self.notifier = notifier or SystemdNotifier()
        self.pinger = WatchdogPinger(self.heartbeat, self.notifier)
        self.feedback: Any = None
        self.button: Any = None
        self.telemetry: Any = None
        self._closed = False
        try:  # a failed start releases what it opened (LEDs, display, button, outbox)
            self.feedback = open_device_feedback(cfg, pin_factory).attach(self.controller)
            self.button = open_button(cfg.gpio, lambda: self._event(self.controller.press),
                                      lambda: self._event(self.controller.long_press), pin_factory)
            if cfg.mqtt is not None and cfg.mqtt.enabled:
                from edgepose.telemetry.publisher import Telemetry

                self.telemetry = Telemetry(cfg.mqtt, self.state_dir)
        except BaseException:
            self.close()
            raise
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._session_stop: threading.Event | None = None
        self._session_thread: threading.Thread | None = None
        self.last_summary: dict | None = None
        self.next_client: str | None = None  # chosen by staff (cmd select/start ... client) for the next session
        self.controller.on_state_change(self._on_state)

    # ------------------------------------------------------------------ events
    def _event(self, fn: Any, *args: Any) -> Any:
        with self._lock:
            return fn(*args)

    def _on_command(self, cmd: Any) -> str | None:
        with self._lock:
            # select/start name the client of the next session (or none); set before the
            # controller runs, since a start begins the session inside that call.
            before = self.next_client
            if cmd.action in ("select", "start"):
                self.next_client = getattr(cmd, "client", None)
            res = self.controller.command(cmd.action, cmd.program)
            if not res.ok:
                self.next_client = before
        return None if res.ok else res.reason

    def _on_state(self, ch: StateChange) -> None:
        log.info("state %s → %s (%s)", ch.previous, ch.state, ch.reason)
        self.notifier.status(f"{ch.state}: {ch.program}")
        if self.telemetry is not None:
            self.telemetry.publish_live({"state": str(ch.state), "program": ch.program, "session": ch.session})
        if ch.state is State.ACTIVE:
            self._start_session(ch.program)
        elif ch.previous is State.ACTIVE:
            self._stop_session()
        if ch.state is State.FAULT and self.telemetry is not None:
            self.telemetry.publish_event({"kind": "fault", "level": "error", "message": self.controller.fault_reason})

    # ------------------------------------------------------------------ sessions
    def _feedback_sink(self, res: Result) -> None:
        """LEDs, voice and screen for one evaluated frame (DeviceFeedback decides what shows)."""
        from edgepose.live.render import joint_status

        fb = res.feedback
        with self._lock:
            self.feedback.frame(res.frame.image, res.poses, joint_status(fb), (fb.cue or "") if fb else "",
                                fb.reps if fb else None, fb.score if fb else None)

    def _start_session(self, program: str) -> None:
        stop = threading.Event()
        opts = RunOptions(
            source=self.source, program=program, engine=EngineConfig.from_config(self.cfg),
            state_dir=self.state_dir,
            width=self.cfg.camera.width, height=self.cfg.camera.height,
            extra_sinks=[self._feedback_sink], heartbeat=self.heartbeat.beat,
            telemetry=self.telemetry, client=self.next_client,
        )
        self.next_client = None  # one session per selection
        for stage in ("capture", "infer", "evaluate"):
            self.heartbeat.register(stage, 10.0)

        def work() -> None:
            try:
                out = run_session(opts, stop)
                self.last_summary = out.summary
                self._event(self.controller.source_ended)
            except Exception as e:  # noqa: BLE001 - any failure becomes the fault state
                log.error("session failed: %s", e)
                self._event(self.controller.fault, str(e))
            finally:
                for stage in ("capture", "infer", "evaluate"):
                    self.heartbeat.unregister(stage)

        self._session_stop = stop
        self._session_thread = threading.Thread(target=work, name="edgepose-session", daemon=True)
        self._session_thread.start()

    def _stop_session(self) -> None:
        if self._session_stop is not None:
            self._session_stop.set()

    # ------------------------------------------------------------------ main loop
    def _key(self, action: str) -> None:
        """A key of the live window: space = a press, n = a long press (next program), q/Esc/close = stop."""
        if action == "toggle":
            self._event(self.controller.press)
        elif action == "next":
            self._event(self.controller.long_press)
        elif action == "quit":
            self.shutdown()

    def shutdown(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Release the button, the LEDs/display/voice and telemetry; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for part in (self.button, self.feedback, self.telemetry):
            _close_quietly(part)

    def __enter__(self) -> Appliance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.close()

    def run(self) -> int:
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        if threading.current_thread() is threading.main_thread():
            for s in old:
                signal.signal(s, lambda *_: self.shutdown())
        try:
            if self.telemetry is not None:
                self.telemetry.on_command(self._on_command)
                self.telemetry.start()
                self.heartbeat.register("telemetry", 30.0)
            self.heartbeat.register("controller", 10.0)
            self.pinger.start()
            self.notifier.ready(f"ready: {self.controller.program}")
            pump = getattr(self.feedback.display, "pump", None)  # the live window (keys = the button)
            while not self._stop.is_set():
                if pump is not None:
                    for action in pump():
                        self._key(action)
                self._event(self.controller.tick)
                self.heartbeat.beat("controller")
                # The MQTT thread checks in by going round its loop; a hung network thread
                # therefore stops the systemd watchdog pings (a broker that is merely down does
                # not: the thread keeps looping through its reconnect back-off).
                if self.telemetry is not None and (
                        time.monotonic() - self.telemetry.last_loop < 5.0 or not self.telemetry.connected):
                    self.heartbeat.beat("telemetry")
                time.sleep(0.03 if pump is not None else 0.1)
            return 0
        finally:
            self.notifier.stopping("stopping")
            self._stop_session()
            if self._session_thread is not None:
                self._session_thread.join(10.0)
            self.pinger.stop()
            self.close()
            if threading.current_thread() is threading.main_thread():
                for s, h in old.items():
                    signal.signal(s, h)


def _close_quietly(part: Any) -> None:
    if part is None:
        return
    try:
        part.close()
    except Exception:  # noqa: BLE001 - closing one part must not keep the others open
        log.debug("closing %s failed", type(part).__name__, exc_info=True)


def with_source(cfg: Config, source: str | None) -> Config:
    if source is None:
        return cfg
    return replace(cfg, camera=replace(cfg.camera, source=source))

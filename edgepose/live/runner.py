"""``edgepose run``: one session on a camera or a video, from frames to feedback and metrics.

This module assembles the parts (source, engine, program session, sinks, telemetry) and runs
them through :class:`edgepose.live.pipeline.Pipeline`. The appliance (:mod:`edgepose.appliance.app`) reuses the
same assembly for each button-started session.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgepose.capture.sources import open_source
from edgepose.evaluate.feedback import Feedback, Phase
from edgepose.inference.engine import EngineConfig, make_engine
from edgepose.live.outputs import GuardedOutput, OutputFailure, write_summary_file
from edgepose.live.pipeline import Pipeline, PipelineStats, Result
from edgepose.live.sinks import PosesWriter, VideoRecorder

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    source: str
    program: str | None = None
    engine: EngineConfig = field(default_factory=EngineConfig)
    display: bool = False
    record: Path | None = None
    poses: Path | None = None
    summary: Path | None = None
    mqtt: Any = None            # MqttSettings, or None for no telemetry
    state_dir: Path | None = None
    progress: Callable[[str], None] | None = None
    width: int | None = None
    height: int | None = None
    display_config: Any = None  # edgepose.config.DisplayConfig; default: an HDMI/DSI screen
    extra_sinks: list[Callable[[Result], None]] = field(default_factory=list)
    heartbeat: Callable[[str], None] | None = None
    telemetry: Any = None       # an already started Telemetry to use (the appliance's), else None
    session_id: str | None = None
    client: str | None = None   # pseudonymous client code, stamped into the summary


@dataclass
class RunOutcome:
    stats: PipelineStats
    summary: dict | None
    session_id: str
    published: bool = False
    output_failures: list[OutputFailure] = field(default_factory=list)


class _LivePublisher:
    """Publishes ``session/live`` about once a second (QoS 0) and checkpoints the journal.

    The payload (``docs/schemas/session.live.schema.json``): ``state`` is the controller state
    (a running session is ``active``), ``phase`` where the person is in the program
    (:class:`edgepose.evaluate.feedback.Phase`), ``program`` the program or ``"poses"``.
    """

    def __init__(self, telemetry: Any, session_id: str, program: str | None, every_s: float = 1.0):
        self.t, self.session_id, self.program, self.every_s = telemetry, session_id, program or "poses", every_s
        self._last = 0.0

    def __call__(self, res: Result) -> None:
        now = time.monotonic()
        if now - self._last < self.every_s:
            return
        self._last = now
        fb = res.feedback
        live = {"session_id": self.session_id, "program": self.program, "state": "active",
                "phase": str(fb.phase if fb is not None else Phase.TRACKING),
                "reps": fb.reps if fb is not None else 0,
                "score": round(float(fb.score or 0.0), 1) if fb is not None else 0.0,
                "people": len(res.poses), "t": round(res.frame.t_media, 2)}
        self.t.publish_live(live)
        self.t.session_checkpoint(self.session_id, live)


class _Progress:
    def __init__(self, total: int, out: Callable[[str], None]):
        self.total, self.out = total, out
        self.t0 = time.monotonic()
        self.n = 0
        self._last = 0.0

    def __call__(self, res: Result) -> None:
        self.n += 1
        now = time.monotonic()
        if now - self._last < 1.0 and self.n != self.total:
            return
        self._last = now
        fps = self.n / max(1e-6, now - self.t0)
        if self.total:
            eta = (self.total - self.n) / max(fps, 1e-6)
            self.out(f"\r{self.n}/{self.total} frames  {fps:5.1f} fps  ETA {eta:4.0f} s  people {len(res.poses)}")
        else:
            self.out(f"\r{self.n} frames  {fps:5.1f} fps  people {len(res.poses)}")


def run_session(opts: RunOptions, stop_event: threading.Event | None = None) -> RunOutcome:
    """Run one session to the end of the source (files) or until stopped (live/SIGINT/SIGTERM).

    Everything it opens (source, engine, sinks, its own telemetry) is released when it returns
    or raises, also when the start fails half-way (a camera is never left open).
    """
    with contextlib.ExitStack() as stack:
        return _run(opts, stop_event, stack)


def _closing(stack: contextlib.ExitStack, close: Callable[[], None], what: str) -> None:
    """Register ``close`` to run when the session ends; a failing close is logged, not raised."""

    def safe() -> None:
        try:
            close()
        except Exception:  # noqa: BLE001
            log.warning("closing %s failed", what, exc_info=True)

    stack.callback(safe)


def _run(opts: RunOptions, stop_event: threading.Event | None, stack: contextlib.ExitStack) -> RunOutcome:
    session = None
    if opts.program:
        from edgepose.evaluate.flow import open_session, program_family
        from edgepose.live.coach import SessionSwitch

        # the keys of the live window switch programs within the same family (docs/device.md)
        session = SessionSwitch(opts.program, open_session, program_family(opts.program))
    source = open_source(opts.source, opts.width, opts.height)
    _closing(stack, source.close, "the source")
    if opts.display and hasattr(source, "realtime"):
        source.realtime = True  # a clip on the screen plays at its own speed, as a person watches it
    engine = make_engine(opts.engine)
    _closing(stack, engine.close, "the engine")
    session_id = opts.session_id or uuid.uuid4().hex
    sinks: list[Callable[[Result], None]] = []
    telemetry = None
    own_telemetry = False
    # A recording, poses or summary file is an output: when it fails (full disk, folder gone) it
    # stops with one message naming the path and errno, and the session and its summary go on.
    failures: list[OutputFailure] = []

    def report(f: OutputFailure) -> None:
        if telemetry is not None:
            telemetry.publish_event({"kind": "output_failed", "level": "warning", "session_id": session_id,
                                     "output": f.output, "path": str(f.path), "message": f.line()})

    def output(make: Callable[[], Any], name: str, path: Path) -> None:
        sink = make()  # cannot even be opened: refused before the session starts
        g = GuardedOutput(sink, name, path, sink.close, failures, report)
        _closing(stack, g.close, f"the {name}")
        sinks.append(g)

    if opts.poses:
        output(lambda: PosesWriter(opts.poses, opts.source), "poses file", opts.poses)
    window = None
    if opts.record or opts.display:
        from edgepose.live.coach import CoachView
        from edgepose.live.render import hud_of

        view = CoachView(session, opts.program)  # the guidance, drawn once per frame for every output
        _closing(stack, view.close, "the guidance")

        if opts.record:
            output(lambda: VideoRecorder(opts.record, getattr(source, "fps", 30.0) or 30.0,
                                         view.render), "recording", opts.record)
        if opts.display:
            from edgepose.config import DisplayConfig
            from edgepose.live.window import open_screen

            disp = open_screen(opts.display_config or DisplayConfig(kind="auto"), strict=True)
            _closing(stack, disp.close, "the display")
            if getattr(disp, "name", "") == "window" and hasattr(disp, "pump"):
                window = disp  # drawn on this (main) thread by _run_with_window
            sinks.append(lambda r: disp.show(view.render(r), hud_of(r.feedback, view.title(), r.frame.t_media)))
    own_telemetry = opts.telemetry is None and opts.mqtt is not None
    if own_telemetry:
        from edgepose.telemetry.publisher import Telemetry

        telemetry = Telemetry(opts.mqtt, opts.state_dir)
        _closing(stack, telemetry.close, "telemetry")
        telemetry.start()
    else:
        telemetry = opts.telemetry
    if telemetry is not None:
        telemetry.session_started(session_id, opts.program or "poses", client=opts.client)
        if hasattr(source, "on_event"):
            levels = {"camera_lost": "error", "camera_back": "info"}
            source.on_event = lambda kind, detail: telemetry.publish_event(
                {"kind": kind, "level": levels.get(kind, "info"), "session_id": session_id,
                 "message": f"{detail.get('source')}: {kind.replace('_', ' ')}", **detail})
        sinks.append(_LivePublisher(telemetry, session_id, opts.program))
    sinks.extend(opts.extra_sinks)
    if opts.progress:
        sinks.append(_Progress(getattr(source, "frame_count", 0) or 0, opts.progress))

    def infer(frame: Any) -> list:
        return engine.process(frame.image, frame.t_media)

    def evaluate(res: Result) -> Feedback | None:
        if session is None:
            return None
        h, w = res.frame.image.shape[:2]
        return session.update(res.poses, res.frame.t_media, (w, h))

    pipe = Pipeline(source, infer, evaluate, sinks, heartbeat=opts.heartbeat)
    restore = _install_signal_handlers(pipe.stop)
    if stop_event is not None:
        watcher = threading.Thread(target=lambda: (stop_event.wait(), pipe.stop()), daemon=True,
                                   name="edgepose-stop-watch")
        watcher.start()
    try:
        stats = pipe.run() if window is None else _run_with_window(pipe, window, session)
    finally:
        restore()
    summary = None
    if session is not None:
        summary = session.summary()
    elif opts.summary or telemetry is not None:
        # No program: a pose-only session ("poses"), still reported with its length.
        summary = {"program": "poses", "frames": stats.frames_out,
                   "duration_s": round(stats.frames_out / max(1e-6, getattr(source, "fps", 30.0) or 30.0), 2)}
    if summary is not None:
        summary.setdefault("session_id", session_id)
        if opts.client is not None:
            summary["client"] = opts.client
        summary.setdefault("source", opts.source)
        summary["pipeline"] = stats.as_dict()
        if getattr(source, "gaps", None):
            summary["camera_gaps_s"] = [round(g[1], 2) for g in source.gaps]
        if opts.summary:
            failed = write_summary_file(opts.summary, summary)
            if failed is not None:
                failures.append(failed)
                report(failed)
    published = False
    if telemetry is not None and summary is not None:
        telemetry.publish_summary(summary)
        published = telemetry.flush(5.0 if own_telemetry else 0.5)
    return RunOutcome(stats, summary, session_id, published, failures)


def _run_with_window(pipe: Pipeline, window: Any, session: Any) -> PipelineStats:
    """Run the pipeline while the live window is pumped on this thread (keys: docs/device.md)."""
    from edgepose.live.window import run_loop

    def on_action(action: str) -> None:
        if action == "quit":
            log.warning("window closed: ending the session")
            pipe.stop()
        elif session is not None:
            session.act(action)

    pipe.start()
    try:
        run_loop(window, lambda: pipe.running and not pipe.stopping, on_action)
    finally:
        pipe.stop()
        t0 = time.monotonic()
        try:
            stats = pipe.join(5.0)
            log.info("pipeline stopped %.2f s after the window loop", time.monotonic() - t0)
        finally:
            try:
                pipe.source.close()
            except Exception:  # noqa: BLE001
                log.debug("closing the source raised", exc_info=True)
    return stats


def _install_signal_handlers(stop: Callable[[], None]) -> Callable[[], None]:
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        log.warning("signal %d: stopping", signum)
        stop()

    for s in old:
        signal.signal(s, handler)

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)

    return restore

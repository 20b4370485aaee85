"""capture → infer → evaluate on three named threads, with latency and drop statistics.

Live sources hand frames over through a one-slot mailbox where the newest frame wins (drops are
counted), so feedback is never more than a frame behind. File sources use a bounded queue with
back-pressure: analysis wants every frame. Every frame carries its capture time, so per-stage
latency and glass-to-feedback latency are measured, not guessed.

A stage that raises stops the whole pipeline; :meth:`Pipeline.run` then re-raises that error
(as :class:`PipelineError`, naming the stage) after every thread has been joined.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgepose.capture.frame import Frame
from edgepose.errors import PipelineError
from edgepose.evaluate.feedback import Feedback
from edgepose.pose import Pose

log = logging.getLogger(__name__)

_END = object()  # end-of-stream marker passed down the stages


class Mailbox:
    """A one-slot, latest-wins hand-over between two threads."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._item: Any = None
        self._full = False
        self.dropped = 0

    def put(self, item: Any) -> None:
        with self._cv:
            if self._full and self._item is not _END:
                self.dropped += 1
            if not (self._full and self._item is _END):
                self._item, self._full = item, True
            self._cv.notify()

    def get(self, timeout: float | None = None) -> Any:
        with self._cv:
            if not self._cv.wait_for(lambda: self._full, timeout):
                raise queue.Empty
            item, self._item, self._full = self._item, None, False
            return item


class _Lossless:
    """A bounded FIFO; ``put`` waits while full (back-pressure), unless the pipeline is stopping."""

    def __init__(self, maxsize: int, stopping: threading.Event):
        self._q: queue.Queue = queue.Queue(maxsize)
        self._stopping = stopping
        self.dropped = 0

    def put(self, item: Any) -> None:
        waited_stopping = 0
        while True:
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._stopping.is_set():
                    # Stopping: frames are dropped at once; the end marker waits a little for a
                    # live consumer, then gives up (a dead consumer never takes it, and every
                    # stage also leaves on its own once the pipeline is stopping and idle).
                    waited_stopping += 1
                    if item is not _END or waited_stopping > 20:
                        return

    def get(self, timeout: float | None = None) -> Any:
        return self._q.get(timeout=timeout)

    def clear(self) -> None:
        """Drop whatever is queued (a stopped consumer), counting nothing as processed."""
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                return


@dataclass
class Result:
    """What the evaluate stage and the sinks see for one frame."""

    frame: Frame
    poses: list[Pose]
    t_infer_start_ns: int
    t_infer_end_ns: int
    feedback: Feedback | None = None  # the program's verdict (None without a program)


class LatencySeries:
    """Recent latency samples in milliseconds, with percentiles."""

    def __init__(self, maxlen: int = 20000):
        self._ms: deque[float] = deque(maxlen=maxlen)

    def add_ns(self, ns: int) -> None:
        self._ms.append(ns / 1e6)

    def summary(self) -> dict[str, float]:
        if not self._ms:
            return {"n": 0}
        a = np.fromiter(self._ms, float)
        return {"n": int(a.size), "p50": round(float(np.percentile(a, 50)), 2),
                "p95": round(float(np.percentile(a, 95)), 2), "p99": round(float(np.percentile(a, 99)), 2),
                "mean": round(float(a.mean()), 2)}


@dataclass
class PipelineStats:
    frames_in: int = 0
    frames_out: int = 0
    dropped: int = 0
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    capture: LatencySeries = field(default_factory=LatencySeries)   # capture → infer start (queueing)
    infer: LatencySeries = field(default_factory=LatencySeries)
    evaluate: LatencySeries = field(default_factory=LatencySeries)
    glass_to_feedback: LatencySeries = field(default_factory=LatencySeries)

    def fps(self) -> float:
        dt = (self.ended or time.monotonic()) - self.started
        return self.frames_out / dt if dt > 0 else 0.0

    def as_dict(self) -> dict:
        return {"frames_in": self.frames_in, "frames_out": self.frames_out, "dropped": self.dropped,
                "fps": round(self.fps(), 2), "queue_ms": self.capture.summary(),
                "infer_ms": self.infer.summary(), "evaluate_ms": self.evaluate.summary(),
                "glass_to_feedback_ms": self.glass_to_feedback.summary()}

    def line(self) -> str:
        g = self.glass_to_feedback.summary()
        i = self.infer.summary()
        return (f"{self.frames_out} frames, {self.fps():.1f} fps, {self.dropped} dropped, infer p50 "
                f"{i.get('p50', 0)} ms, glass-to-feedback p50/p95/p99 {g.get('p50', 0)}/{g.get('p95', 0)}/"
                f"{g.get('p99', 0)} ms")


class Pipeline:
    """Runs a source through ``infer`` and ``evaluate`` and hands each result to the sinks.

    Parameters
    ----------
    source:
        A :class:`edgepose.capture.sources.Source`.
    infer:
        ``infer(frame) -> list[Pose]`` (runs on the infer thread; e.g. ``PoseEngine.process``).
    evaluate:
        ``evaluate(result) -> feedback`` (runs on the evaluate thread), or None.
    sinks:
        Called in order with each :class:`Result` after evaluation, on the evaluate thread.
    heartbeat:
        ``heartbeat(stage)`` is called whenever a stage makes progress (systemd watchdog).
    """

    def __init__(self, source: Any, infer: Callable[[Frame], list[Pose]],
                 evaluate: Callable[[Result], Any] | None = None,
                 sinks: list[Callable[[Result], None]] | None = None,
                 heartbeat: Callable[[str], None] | None = None, queue_size: int = 4):
        self.source = source
        self._infer = infer
        self._evaluate = evaluate
        self.sinks = list(sinks or [])
        self._beat = heartbeat or (lambda stage: None)
        self.stats = PipelineStats()
        self._stop = threading.Event()
        live = bool(getattr(source, "live", False))
        self._to_infer: Mailbox | _Lossless = Mailbox() if live else _Lossless(queue_size, self._stop)
        self._to_eval = _Lossless(queue_size, self._stop)
        self._error: PipelineError | None = None
        self._threads: list[threading.Thread] = []
        self.last: Result | None = None

    # ------------------------------------------------------------------ control
    def stop(self) -> None:
        """Ask every stage to finish; safe from a signal handler or another thread."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        """Whether a stage thread is still at work (after :meth:`start`)."""
        return any(t.is_alive() for t in self._threads)

    def _fail(self, stage: str, e: BaseException) -> None:
        if self._error is None:
            self._error = PipelineError(stage, e)
            self._error.__cause__ = e
            log.error("%s", self._error)
        self._stop.set()

    # ------------------------------------------------------------------ stages
    def _capture(self) -> None:
        try:
            for frame in self.source.frames():
                if self._stop.is_set():
                    break
                self.stats.frames_in += 1
                self._to_infer.put(frame)
                self._beat("capture")
        except BaseException as e:  # noqa: BLE001 - any failure stops the pipeline, named
            self._fail("capture", e)
        finally:
            self._to_infer.put(_END)

    def _stage_loop(self, stage: str, inbox: Mailbox | _Lossless, work: Callable[[Any], None],
                    after: Callable[[], None] | None = None) -> None:
        """Take items from ``inbox`` and ``work`` on them until the end marker, a stop while idle,
        or an error (which stops the whole pipeline, named); then ``after`` (passes the end on)."""
        try:
            while True:
                try:
                    item = inbox.get(timeout=0.5)
                except queue.Empty:
                    self._beat(stage)
                    if self._stop.is_set():
                        break
                    continue
                if item is _END:
                    break
                if self._stop.is_set():
                    # stopped: frames still queued are dropped, so a stop takes one frame, not a
                    # queue; emptied, so the stage before can hand over its end marker at once
                    clear = getattr(inbox, "clear", None)
                    if clear is not None:
                        clear()
                    break
                work(item)
                self._beat(stage)
        except BaseException as e:  # noqa: BLE001 - any failure stops the pipeline, named
            self._fail(stage, e)
        finally:
            if after is not None:
                after()

    def _infer_one(self, frame: Frame) -> None:
        t0 = time.monotonic_ns()
        poses = self._infer(frame)
        t1 = time.monotonic_ns()
        self.stats.capture.add_ns(t0 - frame.t_ns)
        self.stats.infer.add_ns(t1 - t0)
        self._to_eval.put(Result(frame, poses, t0, t1))

    def _evaluate_one(self, res: Result) -> None:
        t0 = time.monotonic_ns()
        if self._evaluate is not None:
            res.feedback = self._evaluate(res)
        for sink in self.sinks:
            sink(res)
        t1 = time.monotonic_ns()
        self.stats.evaluate.add_ns(t1 - t0)
        self.stats.glass_to_feedback.add_ns(t1 - res.frame.t_ns)
        self.stats.frames_out += 1
        self.last = res

    # ------------------------------------------------------------------ run
    def start(self) -> None:
        self.stats = PipelineStats()
        self._threads = [
            threading.Thread(target=self._capture, name="edgepose-capture", daemon=True),
            threading.Thread(target=self._stage_loop, name="edgepose-infer", daemon=True,
                             args=("infer", self._to_infer, self._infer_one, lambda: self._to_eval.put(_END))),
            threading.Thread(target=self._stage_loop, name="edgepose-evaluate", daemon=True,
                             args=("evaluate", self._to_eval, self._evaluate_one)),
        ]
        for t in self._threads:
            t.start()

    def join(self, timeout: float | None = None) -> PipelineStats:
        """Wait for the stages; raise :class:`PipelineError` if one failed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            while t.is_alive():
                t.join(0.2)
                if deadline is not None and time.monotonic() > deadline:
                    break
        if self._stop.is_set():
            # The capture thread may sit in a blocking read; closing the source releases it.
            try:
                self.source.close()
            except Exception:  # noqa: BLE001
                log.debug("closing the source raised", exc_info=True)
            for t in self._threads:
                t.join(2.0)
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("threads still running after stop: %s", ", ".join(alive))
        self.stats.ended = time.monotonic()
        self.stats.dropped = self._to_infer.dropped
        if self._error is not None:
            raise self._error
        return self.stats

    def run(self) -> PipelineStats:
        self.start()
        try:
            return self.join()
        finally:
            try:
                self.source.close()
            except Exception:  # noqa: BLE001
                log.debug("closing the source raised", exc_info=True)

"""systemd notify and a stage watchdog, without a dependency.

``Type=notify`` services tell systemd they are up (``READY=1``), what they are doing
(``STATUS=...``), that they are alive (``WATCHDOG=1``, at least every ``WatchdogSec``) and that
they are going down (``STOPPING=1``), by sending datagrams to the AF_UNIX socket named in
``$NOTIFY_SOCKET``.

A process whose main thread still runs while the capture thread is stuck in a driver call is not
alive in any useful sense. So the watchdog ping is not sent from a timer alone: every stage
(capture, infer, evaluate, telemetry) checks in with a :class:`Heartbeat`, and
:class:`WatchdogPinger` sends ``WATCHDOG=1`` only while every registered stage has checked in
within its allowed silence. A hung stage stops the pings, and systemd restarts the service.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends ``sd_notify`` messages; does nothing when not started by systemd.

    Parameters
    ----------
    socket_path:
        Defaults to ``$NOTIFY_SOCKET``. A leading ``@`` means the Linux abstract namespace.
    """

    def __init__(self, socket_path: str | None = None) -> None:
        path = socket_path if socket_path is not None else os.environ.get("NOTIFY_SOCKET", "")
        self.address: str | bytes | None = None
        if path:
            self.address = b"\0" + path[1:].encode() if path.startswith("@") else path
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram. Returns whether it was sent."""
        if self.address is None:
            return False
        msg = "\n".join(fields).encode()
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.sendto(msg, self.address)
                return True
            except OSError as e:
                if not self._warned:
                    log.warning("cannot notify systemd at %r: %s", self.address, e)
                    self._warned = True
                return False

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text.replace(chr(10), ' ')}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def watchdog_interval(environ: dict[str, str] | None = None) -> float | None:
    """How often to ping: half of ``$WATCHDOG_USEC`` (``None`` when the watchdog is off).

    ``$WATCHDOG_PID``, when set, must be this process.
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 1e6 / 2


@dataclass
class _Stage:
    max_silence_s: float
    last: float


class Heartbeat:
    """Where stages check in.

    Each stage is registered with the silence it is allowed (a capture thread waiting for a
    30 fps camera: a second or two; telemetry waiting on the network: longer). Registration counts
    as the first check-in, so a stage has its allowance to start up.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._stages: dict[str, _Stage] = {}
        self._lock = threading.Lock()

    def register(self, stage: str, max_silence_s: float) -> None:
        if max_silence_s <= 0:
            raise ValueError(f"stage {stage!r}: max_silence_s must be > 0, got {max_silence_s}")
        with self._lock:
            self._stages[stage] = _Stage(float(max_silence_s), self._clock())

    def unregister(self, stage: str) -> None:
        """A stage that has ended on purpose (a file source ran out) stops being watched."""
        with self._lock:
            self._stages.pop(stage, None)

    def beat(self, stage: str, now: float | None = None) -> None:
        """Check in. Unknown stages are an error: a typo must not silently disable the watch."""
        t = self._clock() if now is None else now
        with self._lock:
            try:
                self._stages[stage].last = t
            except KeyError:
                raise KeyError(f"stage {stage!r} is not registered; registered: {', '.join(self._stages)}") from None

    @property
    def stages(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._stages)

    def stale(self, now: float | None = None) -> dict[str, float]:
        """Stages silent longer than allowed → seconds of silence."""
        t = self._clock() if now is None else now
        with self._lock:
            return {n: t - s.last for n, s in self._stages.items() if t - s.last > s.max_silence_s}

    def healthy(self, now: float | None = None) -> bool:
        return not self.stale(now)


class WatchdogPinger:
    """Sends ``WATCHDOG=1`` every ``interval`` seconds while the heartbeat is healthy.

    :meth:`step` is one decision (for tests and for a caller's own loop); :meth:`start` runs it on
    a named daemon thread. When a stage goes silent the pinger stops pinging and says which stage
    in ``STATUS=``, once.
    """

    def __init__(self, heartbeat: Heartbeat, notifier: SystemdNotifier, interval: float | None = None) -> None:
        self.heartbeat = heartbeat
        self.notifier = notifier
        self.interval = interval if interval is not None else (watchdog_interval() or 10.0)
        self.pings = 0
        self._stalled: tuple[str, ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self, now: float | None = None) -> bool:
        """Ping if every stage is fresh. Returns whether a ping was sent."""
        stale = self.heartbeat.stale(now)
        if stale:
            names = tuple(sorted(stale))
            if names != self._stalled:
                desc = ", ".join(f"{n} silent {s:.1f}s" for n, s in sorted(stale.items()))
                log.error("watchdog: not pinging systemd: %s", desc)
                self.notifier.status(f"stalled: {desc}")
                self._stalled = names
            return False
        if self._stalled:
            log.warning("watchdog: all stages alive again")
            self.notifier.status("running")
            self._stalled = ()
        sent = self.notifier.watchdog()
        self.pings += int(sent)
        return sent

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.step()

    def start(self) -> WatchdogPinger:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="edgepose-watchdog", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> WatchdogPinger:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

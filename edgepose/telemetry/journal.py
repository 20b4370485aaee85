"""Session journal: a session open on disk is a session that has not been reported yet.

``open_session`` writes one small JSON file per session in ``<state_dir>/sessions/`` (with the
pseudonymous client code the session was started for, if any);
``checkpoint`` updates it with the reps so far; ``close_session`` removes it once the summary is
safe in the outbox. Files still present at the next start belong to a process that was killed:
:meth:`SessionJournal.recover_interrupted` turns them into summaries with
``"status": "interrupted"`` and the client code the session was started with.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from edgepose.telemetry.client_code import is_client_code

log = logging.getLogger(__name__)

_SAFE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")  # used with fullmatch


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _writer_running(record: dict[str, Any]) -> bool:
    """True when the process that wrote ``record`` still runs (same boot, pid alive, not us)."""
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return False
    boot = record.get("boot_id")
    if boot is not None and boot != _boot_id():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class SessionJournal:
    """Open-session records under ``<state_dir>/sessions``."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(state_dir) / "sessions"
        self.dir.mkdir(parents=True, exist_ok=True)

    def _path(self, session_id: str) -> Path:
        if not isinstance(session_id, str) or not _SAFE.fullmatch(session_id):
            raise ValueError(f"session_id {session_id!r} must be 1-128 of A-Z a-z 0-9 _ . : -")
        return self.dir / f"{session_id}.json"

    def _write(self, path: Path, record: dict[str, Any]) -> None:
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(record, f, separators=(",", ":"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:  # e.g. the disk is full: leave no half-written record behind
            try:
                tmp.unlink()
            except OSError:
                pass
            raise
        try:  # make the rename itself durable
            fd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:  # pragma: no cover - some filesystems refuse fsync on a directory
            pass

    def open_session(self, session_id: str, program: str, started_at: float | None = None,
                     client: str | None = None) -> None:
        """Record that a session started (before any of it can be lost), for ``client`` if given.

        ``client`` must be a pseudonymous client code (ValueError otherwise): a session recovered
        after a power cut is reported for the client it was started with.
        """
        if client is not None and not is_client_code(client):
            raise ValueError(f"client {str(client)[:40]!r} is not a pseudonymous client code")
        record = {"session_id": session_id, "program": program,
                  "started_at": time.time() if started_at is None else float(started_at),
                  "client": client,
                  "checkpoint": {}, "checkpoint_at": None, "pid": os.getpid(), "boot_id": _boot_id()}
        self._write(self._path(session_id), record)

    def checkpoint(self, session_id: str, partial_summary: dict[str, Any]) -> None:
        """Store the summary so far, so an interrupted session still reports its reps."""
        path = self._path(session_id)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KeyError(f"session {session_id!r} is not open; call open_session first") from None
        record["checkpoint"] = dict(partial_summary)
        record["checkpoint_at"] = time.time()
        self._write(path, record)

    def close_session(self, session_id: str, summary: dict[str, Any] | None = None) -> None:
        """Forget the session; call once its summary is durably stored (e.g. in the outbox)."""
        try:
            self._path(session_id).unlink()
        except FileNotFoundError:
            pass

    def open_sessions(self) -> list[str]:
        """Ids of sessions currently recorded as open."""
        return sorted(p.stem for p in self.dir.glob("*.json"))

    def running_sessions(self) -> list[str]:
        """Ids of open sessions whose writing process still runs (not interrupted)."""
        out = []
        for path in sorted(self.dir.glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and _writer_running(record):
                out.append(path.stem)
        return out

    def recover_interrupted(self, skip_running: bool = False) -> list[dict[str, Any]]:
        """Summaries for sessions left open by a previous process (``status: interrupted``).

        With ``skip_running``, a session whose writing process still runs (e.g. the appliance,
        seen from ``edgepose outbox flush``) is left alone.

        The records stay until :meth:`close_session` is called for each, so a crash between
        recovering and storing them loses nothing. Unreadable records are moved aside to
        ``<name>.corrupt`` and logged.
        """
        out: list[dict[str, Any]] = []
        for path in sorted(self.dir.glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(record, dict) or "session_id" not in record:
                    raise ValueError("not a session record")
                if skip_running and _writer_running(record):
                    continue
            except (OSError, ValueError) as e:
                target = path.with_name(path.name + ".corrupt")
                os.replace(path, target)
                log.error("session journal record %s unreadable (%s); preserved as %s", path, e, target)
                continue
            cp = record.get("checkpoint") or {}
            summary: dict[str, Any] = dict(cp)
            summary.update({
                "session_id": record["session_id"],
                "program": record.get("program", cp.get("program", "unknown")),
                "started_at": record.get("started_at"),
                "ended_at": record.get("checkpoint_at") or record.get("started_at"),
                "status": "interrupted",
            })
            summary.setdefault("reps", 0)
            # The code the session was started with (a record of an older version has none: then
            # a checkpoint's, if it is a code).
            client = record["client"] if "client" in record else summary.get("client")
            summary.pop("client", None)
            if is_client_code(client):
                summary["client"] = client
            elif client is not None:
                log.error("session journal record %s: client %r is not a client code; reported without one",
                          path, str(client)[:40])
            out.append(summary)
            log.warning("session %s was interrupted (process stopped before it ended); reporting it",
                        record["session_id"])
        return out

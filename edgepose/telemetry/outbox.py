"""Durable outbox: every QoS 1 message is written to SQLite before it is sent.

A message leaves the outbox only when the broker acknowledged it (PUBACK). After a broker outage
or a power cut, whatever is still here is sent again; each payload carries its ``msg_id`` so the
receiver can drop duplicates.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILENAME = "outbox.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt_at REAL
);
"""


@dataclass(frozen=True)
class OutboxMessage:
    """One stored message, as read back from the outbox."""

    msg_id: str
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created_at: float
    attempts: int
    last_attempt_at: float | None

    def age(self, now: float | None = None) -> float:
        """Seconds since the message was stored."""
        return (time.time() if now is None else now) - self.created_at


@dataclass(frozen=True)
class CorruptionReport:
    """What happened when the outbox file could not be opened."""

    path: Path
    preserved_as: Path
    error: str
    at: float


class Outbox:
    """A durable, thread-safe message store in ``<state_dir>/outbox.db``.

    Parameters
    ----------
    state_dir
        Folder that holds ``outbox.db`` (see :func:`edgepose.telemetry.state.state_dir`).

    Attributes
    ----------
    corruption
        Set when the file found at open was corrupt: it was moved aside (never deleted) and a
        fresh outbox was started. The publisher reports it as an event.
    """

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.path = Path(state_dir) / FILENAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.corruption: CorruptionReport | None = None
        self._lock = threading.Lock()
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as e:
            self.corruption = self._move_aside(str(e))
            self._db = self._open()

    # --- opening -------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            rows = db.execute("PRAGMA integrity_check").fetchall()
            if rows != [("ok",)]:
                raise sqlite3.DatabaseError("integrity_check: " + "; ".join(str(r[0]) for r in rows[:5]))
            db.executescript(_SCHEMA)
            db.execute("SELECT seq, msg_id, topic, payload, qos, retain, created_at, attempts, "
                       "last_attempt_at FROM messages LIMIT 1").fetchall()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _move_aside(self, error: str) -> CorruptionReport:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
            n += 1
        os.replace(self.path, target)
        for suffix in ("-wal", "-shm"):  # keep the journal files with the copy they belong to
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.replace(side, target.with_name(target.name + suffix))
        log.error(
            "outbox %s is corrupt (%s); preserved it as %s and started a fresh outbox. Messages in "
            "the old file were not sent; inspect it with sqlite3 before deleting it.",
            self.path, error, target,
        )
        return CorruptionReport(self.path, target, error, time.time())

    # --- API ------------------------------------------------------------------------------
    def put(self, topic: str, payload: dict[str, Any], qos: int = 1, retain: bool = False,
            msg_id: str | None = None) -> str:
        """Store a message durably and return its id (a UUID, also written into the payload).

        If ``msg_id`` is given and already stored, nothing is added (idempotent put).
        """
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, got {qos!r}")
        if not isinstance(payload, dict):
            raise TypeError(f"payload must be a dict, got {type(payload).__name__}")
        mid = msg_id or str(payload.get("msg_id") or uuid.uuid4())
        body = dict(payload)
        body["msg_id"] = mid
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO messages (msg_id, topic, payload, qos, retain, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (mid, topic, text, qos, int(retain), time.time()),
            )
        return mid

    def pending(self) -> list[OutboxMessage]:
        """All messages not yet acknowledged, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT msg_id, topic, payload, qos, retain, created_at, attempts, last_attempt_at "
                "FROM messages ORDER BY seq"
            ).fetchall()
        return [OutboxMessage(r[0], r[1], r[2].encode("utf-8"), r[3], bool(r[4]), r[5], r[6], r[7])
                for r in rows]

    def count(self) -> int:
        """Number of pending messages."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

    def mark_attempt(self, msg_id: str) -> None:
        """Record that the message was handed to the network once more."""
        with self._lock:
            self._db.execute(
                "UPDATE messages SET attempts = attempts + 1, last_attempt_at = ? WHERE msg_id = ?",
                (time.time(), msg_id),
            )

    def mark_acked(self, msg_id: str) -> bool:
        """Remove an acknowledged message. Returns False when it was not (or no longer) stored."""
        with self._lock:
            cur = self._db.execute("DELETE FROM messages WHERE msg_id = ?", (msg_id,))
        return cur.rowcount > 0

    def close(self) -> None:
        """Close the database; idempotent."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None  # type: ignore[assignment]

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

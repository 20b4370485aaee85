"""Durable outbox: every QoS 1 message is written to SQLite before it is sent.

A message leaves the outbox only when the broker acknowledged it (PUBACK). After a broker outage
or a power cut, whatever is still here is sent again; each payload carries its ``msg_id`` so the
receiver can drop duplicates.

Faults, and what the outbox does in each:

* **The file is corrupt** (SQLite says "malformed" / "not a database", or ``integrity_check``
  fails): it is moved aside, never deleted, and a fresh outbox is started; :attr:`Outbox.corruption`
  says so and the publisher sends an ``outbox_corrupt`` event.
* **The disk is full, or the file cannot be written for another reason** (SQLITE_FULL, I/O
  error, read-only): that is not corruption and the file is never moved. What it holds is still
  read (read-only) and sent; new messages are held in memory and written to the file as soon as
  it takes writes again (retried every ``retry_s``); acknowledgements that could not be written
  are remembered so a message is not offered twice. :attr:`Outbox.unavailable` says why.
* **A message cannot be delivered** (a topic no broker accepts, larger than the broker takes, or
  refused by the broker for good): :meth:`Outbox.quarantine` moves it to a table of its own with
  the reason; it no longer blocks or counts as pending, and ``edgepose outbox status`` lists it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILENAME = "outbox.db"
_CORRUPT_CODES = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB (primary result codes)
_COLS = "msg_id, topic, payload, qos, retain, created_at, attempts, last_attempt_at"

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
CREATE TABLE IF NOT EXISTS quarantine (
    msg_id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt_at REAL,
    reason TEXT NOT NULL,
    quarantined_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class OutboxMessage:
    """One stored message, as read back from the outbox (``reason`` is set when quarantined)."""

    msg_id: str
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created_at: float
    attempts: int
    last_attempt_at: float | None
    reason: str | None = None

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


class _IntegrityFailed(sqlite3.DatabaseError):
    pass


def is_corruption(e: BaseException) -> bool:
    """True when an SQLite error means the file's content is damaged (not: full, I/O, locked)."""
    if isinstance(e, _IntegrityFailed):
        return True
    code = getattr(e, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) in _CORRUPT_CODES
    text = str(e).lower()
    return "malformed" in text or "not a database" in text


def _row(r: tuple[Any, ...], reason: str | None = None) -> OutboxMessage:
    return OutboxMessage(r[0], r[1], r[2].encode("utf-8"), r[3], bool(r[4]), r[5], r[6], r[7], reason)


class Outbox:
    """A durable, thread-safe message store in ``<state_dir>/outbox.db``.

    Parameters
    ----------
    state_dir
        Folder that holds ``outbox.db`` (see :func:`edgepose.telemetry.state.state_dir`).
    retry_s
        While the file cannot be written, how often (seconds) to try again.

    Attributes
    ----------
    corruption
        Set when the file found at open was corrupt: it was moved aside (never deleted) and a
        fresh outbox was started. The publisher reports it as an event.
    unavailable
        Why the file cannot be written right now (e.g. the disk is full), else None.
    """

    def __init__(self, state_dir: str | os.PathLike[str], retry_s: float = 5.0) -> None:
        self.path = Path(state_dir) / FILENAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.corruption: CorruptionReport | None = None
        self.unavailable: str | None = None
        self.retry_s = retry_s
        self._retry_at = 0.0
        self._lock = threading.RLock()
        self._mem = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._mem.executescript(_SCHEMA)
        self._snapshot: dict[str, OutboxMessage] = {}  # read from a file that cannot be written
        self._forget: set[str] = set()  # acknowledged, still to be deleted from the file
        self._held_quarantine: dict[str, tuple[str, float]] = {}  # quarantined, still to be moved in the file
        self._db: sqlite3.Connection | None = None
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as e:
            if is_corruption(e):
                self.corruption = self._move_aside(str(e))
                try:
                    self._db = self._open()
                except sqlite3.DatabaseError as e2:
                    self._unwritable(e2)
            else:
                self._unwritable(e)
                self._snapshot = self._read_only_snapshot()

    # --- opening -------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            rows = db.execute("PRAGMA integrity_check").fetchall()
            if rows != [("ok",)]:
                raise _IntegrityFailed("integrity_check: " + "; ".join(str(r[0]) for r in rows[:5]))
            db.executescript(_SCHEMA)
            db.execute(f"SELECT seq, {_COLS} FROM messages LIMIT 1").fetchall()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _read_only_snapshot(self) -> dict[str, OutboxMessage]:
        """What the unwritable file holds, read without writing anything (not even -shm/-wal)."""
        if not self.path.exists():
            return {}
        for query in ("?mode=ro", "?immutable=1"):
            try:
                db = sqlite3.connect(self.path.as_uri() + query, uri=True, check_same_thread=False)
                try:
                    rows = db.execute(f"SELECT {_COLS} FROM messages ORDER BY seq").fetchall()
                    try:
                        held = {r[0] for r in db.execute("SELECT msg_id FROM quarantine")}
                    except sqlite3.OperationalError:  # an outbox from before quarantine existed
                        held = set()
                finally:
                    db.close()
            except sqlite3.DatabaseError as e:
                log.debug("read-only open of %s%s failed: %s", self.path, query, e)
                continue
            return {r[0]: _row(r) for r in rows if r[0] not in held}
        log.error("outbox %s cannot be read either; its messages wait until it can be opened", self.path)
        return {}

    def _unwritable(self, e: BaseException) -> None:
        if self.unavailable is None:
            name = getattr(e, "sqlite_errorname", None)
            try:
                free = shutil.disk_usage(self.path.parent).free
            except OSError:
                free = -1
            full = f"; the disk is full ({free} bytes free)" if 0 <= free < (256 << 10) else ""
            self.unavailable = (f"{self.path} cannot be written: {e}" + (f" ({name})" if name else "") + full
                                + "; the file is kept, new messages are held in memory until it takes writes again")
            log.error("outbox %s (free space on %s?)", self.unavailable, self.path.parent)
        self._retry_at = time.monotonic() + self.retry_s

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

    def _recover(self, force: bool = False) -> None:
        """Move what is held in memory to the file once it takes writes again (lock held)."""
        if self._db is not None and self.unavailable is None:
            return
        if not force and time.monotonic() < self._retry_at:
            return
        try:
            if self._db is None:
                self._db = self._open()
            db = self._db
            held = self._mem.execute(f"SELECT {_COLS} FROM messages ORDER BY seq").fetchall()
            held_q = self._mem.execute(f"SELECT {_COLS}, reason, quarantined_at FROM quarantine").fetchall()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(f"INSERT OR IGNORE INTO messages ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", held)
                db.executemany(f"INSERT OR IGNORE INTO quarantine ({_COLS}, reason, quarantined_at) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", held_q)
                for mid, (reason, at) in self._held_quarantine.items():
                    self._move_to_quarantine(db, mid, reason, at)
                db.executemany("DELETE FROM messages WHERE msg_id = ?", [(m,) for m in self._forget])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as e:
            self._retry_at = time.monotonic() + self.retry_s
            log.debug("outbox %s still cannot be written: %s", self.path, e)
            return
        self._mem.execute("DELETE FROM messages")
        self._mem.execute("DELETE FROM quarantine")
        n = len(held)
        self._forget.clear()
        self._held_quarantine.clear()
        self._snapshot.clear()
        self.unavailable = None
        log.warning("outbox %s takes writes again; stored the %d message(s) held in memory", self.path, n)

    @staticmethod
    def _move_to_quarantine(db: sqlite3.Connection, msg_id: str, reason: str, at: float) -> bool:
        cur = db.execute(f"INSERT OR IGNORE INTO quarantine ({_COLS}, reason, quarantined_at) "
                         f"SELECT {_COLS}, ?, ? FROM messages WHERE msg_id = ?", (reason, at, msg_id))
        db.execute("DELETE FROM messages WHERE msg_id = ?", (msg_id,))
        return cur.rowcount > 0

    # --- API ------------------------------------------------------------------------------
    def put(self, topic: str, payload: dict[str, Any], qos: int = 1, retain: bool = False,
            msg_id: str | None = None) -> str:
        """Store a message durably and return its id (a UUID, also written into the payload).

        If ``msg_id`` is given and already stored, nothing is added (idempotent put). When the
        file cannot be written (disk full), the message is held in memory and written later.
        """
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, got {qos!r}")
        if not isinstance(payload, dict):
            raise TypeError(f"payload must be a dict, got {type(payload).__name__}")
        mid = msg_id or str(payload.get("msg_id") or uuid.uuid4())
        body = dict(payload)
        body["msg_id"] = mid
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        row = (mid, topic, text, qos, int(retain), time.time())
        sql = "INSERT OR IGNORE INTO messages (msg_id, topic, payload, qos, retain, created_at) VALUES (?, ?, ?, ?, ?, ?)"
        with self._lock:
            self._recover()
            if self._db is not None and self.unavailable is None:
                try:
                    self._db.execute(sql, row)
                    return mid
                except sqlite3.DatabaseError as e:
                    self._unwritable(e)
            if mid not in self._snapshot and not self._in_file(mid):
                self._mem.execute(sql, row)
        return mid

    def _in_file(self, msg_id: str) -> bool:
        if self._db is None:
            return False
        try:
            return self._db.execute("SELECT 1 FROM messages WHERE msg_id = ?", (msg_id,)).fetchone() is not None
        except sqlite3.DatabaseError:
            return False

    def pending(self) -> list[OutboxMessage]:
        """All messages not yet acknowledged (and not quarantined), oldest first."""
        with self._lock:
            self._recover()
            if self._db is not None:
                try:
                    stored = [_row(r) for r in self._db.execute(f"SELECT {_COLS} FROM messages ORDER BY seq")]
                except sqlite3.DatabaseError as e:
                    log.error("outbox %s cannot be read: %s", self.path, e)
                    stored = []
            else:
                stored = list(self._snapshot.values())
            held = [_row(r) for r in self._mem.execute(f"SELECT {_COLS} FROM messages ORDER BY seq")]
            hidden = self._forget | set(self._held_quarantine)
        out: list[OutboxMessage] = []
        seen: set[str] = set()
        for m in stored + held:
            if m.msg_id not in hidden and m.msg_id not in seen:
                seen.add(m.msg_id)
                out.append(m)
        return out

    def get(self, msg_id: str) -> OutboxMessage | None:
        """The pending message ``msg_id``, or None."""
        for m in self.pending():
            if m.msg_id == msg_id:
                return m
        return None

    def count(self) -> int:
        """Number of pending messages (quarantined ones not included)."""
        with self._lock:
            self._recover()
            if self._db is not None and self.unavailable is None:
                try:
                    return int(self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
                except sqlite3.DatabaseError:
                    pass
        return len(self.pending())

    def mark_attempt(self, msg_id: str) -> None:
        """Record that the message was handed to the network once more (best effort)."""
        sql = "UPDATE messages SET attempts = attempts + 1, last_attempt_at = ? WHERE msg_id = ?"
        with self._lock:
            self._mem.execute(sql, (time.time(), msg_id))
            if self._db is not None and self.unavailable is None:
                try:
                    self._db.execute(sql, (time.time(), msg_id))
                except sqlite3.DatabaseError as e:
                    self._unwritable(e)

    def mark_acked(self, msg_id: str) -> bool:
        """Remove an acknowledged message. Returns False when it was not (or no longer) stored."""
        with self._lock:
            removed = self._mem.execute("DELETE FROM messages WHERE msg_id = ?", (msg_id,)).rowcount > 0
            if self._db is not None and self.unavailable is None:
                try:
                    removed = self._db.execute("DELETE FROM messages WHERE msg_id = ?", (msg_id,)).rowcount > 0 or removed
                    return removed
                except sqlite3.DatabaseError as e:
                    self._unwritable(e)
            if msg_id in self._snapshot or self._in_file(msg_id):
                if msg_id not in self._forget:
                    self._forget.add(msg_id)
                    removed = True
            return removed

    def quarantine(self, msg_id: str, reason: str) -> bool:
        """Set an undeliverable message aside with ``reason``; the others keep flowing."""
        at = time.time()
        with self._lock:
            moved = self._move_to_quarantine(self._mem, msg_id, reason, at)
            if self._db is not None and self.unavailable is None:
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                    try:
                        moved = self._move_to_quarantine(self._db, msg_id, reason, at) or moved
                        self._db.execute("COMMIT")
                    except BaseException:
                        self._db.execute("ROLLBACK")
                        raise
                except sqlite3.DatabaseError as e:
                    self._unwritable(e)
                    self._held_quarantine[msg_id] = (reason, at)
                    moved = True
            elif msg_id in self._snapshot or self._in_file(msg_id):
                self._held_quarantine[msg_id] = (reason, at)
                moved = True
        if moved:
            log.error("outbox: message %s quarantined (%s); the others are still sent", msg_id, reason)
        return moved

    def quarantined(self) -> list[OutboxMessage]:
        """Messages set aside as undeliverable, with their reason."""
        sql = f"SELECT {_COLS}, reason FROM quarantine ORDER BY quarantined_at"
        with self._lock:
            rows: list[OutboxMessage] = []
            if self._db is not None:
                try:
                    rows = [_row(r, r[8]) for r in self._db.execute(sql)]
                except sqlite3.DatabaseError:
                    rows = []
            rows += [_row(r, r[8]) for r in self._mem.execute(sql)]
            snap = [m for m in self._snapshot.values() if m.msg_id in self._held_quarantine]
            rows += [dataclasses.replace(m, reason=self._held_quarantine[m.msg_id][0]) for m in snap]
        return rows

    def requeue_quarantined(self) -> int:
        """Put quarantined messages back in the queue (after fixing their cause); returns how many."""
        n = 0
        with self._lock:
            for db in ([self._db] if self._db is not None and self.unavailable is None else []) + [self._mem]:
                db.execute("BEGIN IMMEDIATE")
                try:
                    n += db.execute(f"INSERT OR IGNORE INTO messages ({_COLS}) SELECT {_COLS} FROM quarantine").rowcount
                    db.execute("DELETE FROM quarantine")
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
        return n

    def close(self) -> None:
        """Close the database; idempotent. Messages held in memory are written if the file takes
        them now; otherwise they are named in the log (they were not stored durably)."""
        with self._lock:
            if self._mem is None:
                return
            self._recover(force=True)
            lost = [r[0] for r in self._mem.execute("SELECT msg_id FROM messages")]
            if lost:
                log.error("outbox %s still cannot be written; %d message(s) held in memory were not stored: %s",
                          self.path, len(lost), ", ".join(lost))
            if self._db is not None:
                self._db.close()
                self._db = None
            self._mem.close()
            self._mem = None  # type: ignore[assignment]

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The transport-free core of ``edgepose ingest``: validate -> commit -> (then the transport acks).

A transport (MQTT 5 via paho in :mod:`edgepose.history.mqtt_ingest`; any other that can hold back
an acknowledgement) collects :class:`Incoming` messages and calls :meth:`IngestCore.process` with a
batch. When it returns, every message of the batch is settled and may be acknowledged, in order:

- valid ones are committed (one transaction per batch; duplicates by ``msg_id`` are absorbed);
- valid summaries and events of a forgotten client (a tombstone, :mod:`edgepose.history.tombstones`)
  are discarded in that transaction: counted (here and on the tombstone), logged once per
  tombstone, kept nowhere (not in the rejected-messages file either), and acknowledged, so the
  unit stops resending them;
- refused ones (oversized, not JSON, schema-invalid, unknown topic) are counted, logged once per
  unit and kind, kept in the rejected-messages file, and never reach the database.

When it raises :class:`~edgepose.history.errors.StoreUnavailable` (disk full, database locked or
gone) nothing of the batch was committed and nothing may be acknowledged: retry the same batch
later, or drop it and let the broker redeliver.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgepose.history.errors import StoreError, StoreUnavailable
from edgepose.history.validate import Accepted, PayloadValidator, Rejection

log = logging.getLogger(__name__)


@dataclass
class Incoming:
    """One received message; ``token`` is whatever the transport needs to acknowledge it."""

    topic: str
    payload: bytes
    token: Any = None


@dataclass
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    forgotten: int = 0  # discarded: their client was forgotten
    statuses: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # by reason
    batches: int = 0
    store_failures: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"received": self.received, "stored": self.stored, "duplicates": self.duplicates,
                "forgotten": self.forgotten, "statuses": self.statuses, "rejected": dict(self.rejected), "batches": self.batches,
                "store_failures": self.store_failures}


class RejectedLog:
    """Refused messages as JSON lines (so nothing that was acknowledged is gone); size-capped."""

    def __init__(self, path: Path | None, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._full_logged = False

    def write(self, topic: str, raw: bytes, reason: str, detail: str) -> None:
        if self.path is None:
            return
        keep = raw[:256 * 1024]
        try:
            text: dict[str, Any] = {"payload": keep.decode("utf-8")}
        except UnicodeDecodeError:
            text = {"payload_b64": base64.b64encode(keep).decode("ascii")}
        line = json.dumps({"received_at": dt.datetime.now(dt.UTC).isoformat(), "topic": topic[:300],
                           "reason": reason, "detail": detail, "bytes": len(raw), **text}) + "\n"
        try:
            size = self.path.stat().st_size if self.path.exists() else 0
            if size + len(line) > self.max_bytes:
                if not self._full_logged:
                    log.warning("rejected-messages file %s reached %d bytes; further refused messages are "
                                "only counted", self.path, self.max_bytes)
                    self._full_logged = True
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)
        except OSError as e:
            log.warning("cannot keep a refused message in %s: %s", self.path, e)


class IngestCore:
    """Validation and storage of message batches; knows nothing about MQTT."""

    def __init__(self, store: Any, validator: PayloadValidator, rejected: RejectedLog | None = None) -> None:
        self.store = store
        self.validator = validator
        self.rejected = rejected or RejectedLog(None)
        self.stats = IngestStats()
        self._logged: set[tuple[str, str]] = set()
        self._logged_tombstones: set[str] = set()
        self._known_units: set[str] = set(store.device_ids())

    def process(self, batch: Sequence[Incoming]) -> None:
        """Settle every message of ``batch`` (see the module doc). Raises StoreUnavailable."""
        accepted: list[tuple[Incoming, Accepted]] = []
        refused: list[tuple[Incoming, Rejection]] = []
        for m in batch:
            r = self.validator.check(m.topic, m.payload)
            if isinstance(r, Accepted):
                accepted.append((m, r))
            elif m.payload == b"" and r.kind == "status":
                continue  # a retained status being cleared: nothing to store
            else:
                refused.append((m, r))
        if accepted:
            self._commit(accepted)
        for m, r in refused:
            self._refuse(m, r)
        self.stats.received += len(batch)
        self.stats.batches += 1

    def _commit(self, accepted: list[tuple[Incoming, Accepted]]) -> None:
        items = [(a.kind, a.payload) for _, a in accepted]
        try:
            res = self.store.add_batch(items)
        except StoreUnavailable:
            self.stats.store_failures += 1
            raise
        except StoreError as e:
            # Something in the batch the database refuses for good: find it, store the rest.
            log.warning("%s; storing the batch of %d one by one", e, len(items))
            for m, a in accepted:
                try:
                    one = self.store.add_batch([(a.kind, a.payload)])
                except StoreUnavailable:
                    self.stats.store_failures += 1
                    raise
                except StoreError as e1:
                    self._refuse(m, Rejection("database", a.kind, a.device_id, str(e1)))
                    continue
                self._count([(a.kind, a.payload)], one)
            return
        self._count(items, res)

    def _count(self, items: list[tuple[str, dict[str, Any]]], res: Any) -> None:
        for (kind, p), ok, tomb in zip(items, res.stored, res.forgotten, strict=True):
            if tomb is not None:
                self.stats.forgotten += 1
                self._log_forgotten(kind, p, tomb)
            elif kind == "status":
                self.stats.statuses += 1
            elif ok:
                self.stats.stored += 1
            else:
                self.stats.duplicates += 1
        for d in res.new_units:
            if d not in self._known_units:
                self._known_units.add(d)
                log.info("new unit %r: first message received, added to units", d)

    def _log_forgotten(self, kind: str, p: dict[str, Any], tomb: str) -> None:
        if tomb in self._logged_tombstones:
            return
        self._logged_tombstones.add(tomb)
        # The code is not logged: the point of forgetting is that it is gone.
        log.warning("discarded a %s (msg_id %s) from unit %r for a forgotten client (tombstone %s); "
                    "acknowledged, not stored; further ones for that client are only counted "
                    "(edgepose clients list)", kind, str(p.get("msg_id"))[:64], p.get("device_id"), tomb)

    def _refuse(self, m: Incoming, r: Rejection) -> None:
        self.stats.rejected[r.reason] += 1
        self.rejected.write(m.topic, m.payload, r.reason, r.detail)
        key = (r.device_id, r.kind)
        if key not in self._logged:
            self._logged.add(key)
            log.warning("refused %s from unit %r on %s: %s: %s (logged once per unit and kind; "
                        "counted, kept in %s)", r.kind, r.device_id, m.topic[:200], r.reason, r.detail,
                        self.rejected.path or "no file")


def log_stats_every(core: IngestCore, every_s: float, last: list[float]) -> None:
    """Log the counters at INFO every ``every_s`` seconds (``last`` holds the last time)."""
    now = time.monotonic()
    if now - last[0] >= every_s:
        last[0] = now
        log.info("ingest: %s", json.dumps(core.stats.as_dict()))

"""Table definitions of the staff-side database (SQLAlchemy 2 Core; migrations in ``migrations/``).

Every timestamp is a timezone-aware UTC :class:`datetime.datetime` (``timestamptz`` on PostgreSQL;
ISO text on SQLite, read back as UTC). JSON columns are ``JSONB`` on PostgreSQL and ``JSON`` elsewhere.

Changing a table here needs a new revision in ``migrations/versions/`` (the test
``tests/test_history_store.py::test_migrations_match_schema`` compares the two).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import JSON

# Constraint names fixed, so migrations can refer to them on every backend.
metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
})


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (naive values are refused)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: use a timezone-aware UTC time")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


JsonType = JSON().with_variant(JSONB(), "postgresql")

DEVICE_ID_LEN = 64
CLIENT_CODE_LEN = 32

units = Table(
    "units", metadata,
    Column("device_id", String(DEVICE_ID_LEN), primary_key=True),
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
    Column("online", Boolean(), nullable=False, default=False),
    Column("firmware", String(64)),
    Column("model", String(128)),
    Column("status", JsonType, comment="last status payload as received"),
    Column("status_ts", Float(), comment="ts of that status (older retained copies do not overwrite it)"),
    Column("next_client", String(CLIENT_CODE_LEN), ForeignKey("clients.code", ondelete="SET NULL")),
    Column("next_program", String(64)),
)

clients = Table(
    "clients", metadata,
    Column("code", String(CLIENT_CODE_LEN), primary_key=True, comment="pseudonymous code, e.g. C-104"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("birth_year", Integer(), comment="only for clinical norms"),
    Column("sex", String(1), comment="'f' | 'm' | NULL; only for clinical norms"),
    Column("note", Text()),
)

sessions = Table(
    "sessions", metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("msg_id", String(64), nullable=False, unique=True),
    Column("session_id", String(128), nullable=False),
    Column("device_id", String(DEVICE_ID_LEN), ForeignKey("units.device_id"), nullable=False),
    Column("client", String(CLIENT_CODE_LEN), ForeignKey("clients.code", ondelete="CASCADE")),
    Column("program", String(64), nullable=False),
    Column("status", String(16), nullable=False, comment="completed | stopped | interrupted"),
    Column("started_at", UtcDateTime()),
    Column("ended_at", UtcDateTime()),
    Column("duration_s", Float()),
    Column("reps", Integer(), nullable=False),
    Column("score", Float()),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("payload", JsonType, nullable=False, comment="the summary as received"),
)
Index("ix_sessions_device_started", sessions.c.device_id, sessions.c.started_at)
Index("ix_sessions_client_started", sessions.c.client, sessions.c.started_at)
Index("ix_sessions_received_at", sessions.c.received_at)

reps = Table(
    "reps", metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("session_pk", Integer(), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("idx", Integer(), nullable=False, comment="1-based rep number within the session"),
    Column("ended_s", Float(), comment="seconds from session start at which the rep ended"),
    Column("duration_s", Float()),
    Column("score", Float()),
    Column("rom", JsonType, comment="range of motion: {measure: {min, max, range}} or {primary: deg}"),
    Column("faults", JsonType, comment="list of form-fault names"),
)
Index("ix_reps_session_pk", reps.c.session_pk)

events = Table(
    "events", metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("msg_id", String(64), nullable=False, unique=True),
    Column("device_id", String(DEVICE_ID_LEN), ForeignKey("units.device_id"), nullable=False),
    Column("client", String(CLIENT_CODE_LEN), ForeignKey("clients.code", ondelete="CASCADE")),
    Column("kind", String(64), nullable=False),
    Column("level", String(16), nullable=False),
    Column("at", UtcDateTime(), nullable=False, comment="the event's own ts"),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("payload", JsonType, nullable=False),
)
Index("ix_events_device_at", events.c.device_id, events.c.at)
Index("ix_events_client", events.c.client)

users = Table(
    "users", metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False, comment="'admin' | 'staff'"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("disabled", Boolean(), nullable=False, default=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("user_id", Integer(), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime()),
)

login_sessions = Table(
    "login_sessions", metadata,
    Column("id", String(128), primary_key=True, comment="hash of the cookie value"),
    Column("user_id", Integer(), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("csrf_token", String(128), nullable=False),
)

# A forgotten client leaves a tombstone: a keyed one-way hash of its code (HMAC-SHA256 with the
# database's own random key in ``history_meta``) and when, never the code itself. The ingest
# discards (and counts here) messages that arrive later for that code: an outbox resend, a unit
# that was offline (edgepose/history/tombstones.py).
forgotten_clients = Table(
    "forgotten_clients", metadata,
    Column("code_hash", String(64), primary_key=True, comment="hex HMAC-SHA256 of the code; never the code"),
    Column("forgotten_at", UtcDateTime(), nullable=False),
    Column("late_messages", Integer(), nullable=False, default=0,
           comment="messages for this client that arrived after it was forgotten (discarded)"),
    Column("last_late_at", UtcDateTime(), comment="when the last of those arrived"),
)

history_meta = Table(
    "history_meta", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text(), nullable=False, comment="e.g. the random key of the client tombstones"),
)

ROLES = ("admin", "staff")

# The newest revision in migrations/versions/ (tests check they agree): a database at this
# revision is opened without loading Alembic.
SCHEMA_REVISION = "0002"

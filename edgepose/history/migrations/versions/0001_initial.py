"""Initial staff-side schema: units, clients, sessions, reps, events, users, api_tokens, login_sessions.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("code", sa.String(32), nullable=False, comment="pseudonymous code, e.g. C-104"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("birth_year", sa.Integer(), comment="only for clinical norms"),
        sa.Column("sex", sa.String(1), comment="'f' | 'm' | NULL; only for clinical norms"),
        sa.Column("note", sa.Text()),
        sa.PrimaryKeyConstraint("code", name="pk_clients"),
    )
    op.create_table(
        "units",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("firmware", sa.String(64)),
        sa.Column("model", sa.String(128)),
        sa.Column("status", JSON, comment="last status payload as received"),
        sa.Column("status_ts", sa.Float(), comment="ts of that status (older retained copies do not overwrite it)"),
        sa.Column("next_client", sa.String(32)),
        sa.Column("next_program", sa.String(64)),
        sa.PrimaryKeyConstraint("device_id", name="pk_units"),
        sa.ForeignKeyConstraint(["next_client"], ["clients.code"], name="fk_units_next_client_clients",
                                ondelete="SET NULL"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("msg_id", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("client", sa.String(32)),
        sa.Column("program", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, comment="completed | stopped | interrupted"),
        sa.Column("started_at", TS),
        sa.Column("ended_at", TS),
        sa.Column("duration_s", sa.Float()),
        sa.Column("reps", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float()),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("payload", JSON, nullable=False, comment="the summary as received"),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("msg_id", name="uq_sessions_msg_id"),
        sa.ForeignKeyConstraint(["device_id"], ["units.device_id"], name="fk_sessions_device_id_units"),
        sa.ForeignKeyConstraint(["client"], ["clients.code"], name="fk_sessions_client_clients",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_sessions_device_started", "sessions", ["device_id", "started_at"])
    op.create_index("ix_sessions_client_started", "sessions", ["client", "started_at"])
    op.create_index("ix_sessions_received_at", "sessions", ["received_at"])
    op.create_table(
        "reps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_pk", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False, comment="1-based rep number within the session"),
        sa.Column("ended_s", sa.Float(), comment="seconds from session start at which the rep ended"),
        sa.Column("duration_s", sa.Float()),
        sa.Column("score", sa.Float()),
        sa.Column("rom", JSON, comment="range of motion: {measure: {min, max, range}} or {primary: deg}"),
        sa.Column("faults", JSON, comment="list of form-fault names"),
        sa.PrimaryKeyConstraint("id", name="pk_reps"),
        sa.ForeignKeyConstraint(["session_pk"], ["sessions.id"], name="fk_reps_session_pk_sessions",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_reps_session_pk", "reps", ["session_pk"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("msg_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("client", sa.String(32)),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("at", TS, nullable=False, comment="the event's own ts"),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("msg_id", name="uq_events_msg_id"),
        sa.ForeignKeyConstraint(["device_id"], ["units.device_id"], name="fk_events_device_id_units"),
        sa.ForeignKeyConstraint(["client"], ["clients.code"], name="fk_events_client_clients",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_events_device_at", "events", ["device_id", "at"])
    op.create_index("ix_events_client", "events", ["client"])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False, comment="'admin' | 'staff'"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_api_tokens_user_id_users", ondelete="CASCADE"),
    )
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.String(128), nullable=False, comment="hash of the cookie value"),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("csrf_token", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_sessions"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_login_sessions_user_id_users",
                                ondelete="CASCADE"),
    )


def downgrade() -> None:
    for name in ("login_sessions", "api_tokens", "users", "events", "reps", "sessions", "units", "clients"):
        op.drop_table(name)

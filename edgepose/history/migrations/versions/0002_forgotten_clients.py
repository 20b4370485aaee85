"""Tombstones of forgotten clients (a keyed hash of the code and when, never the code) and the
database's own random key for that hash.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Adds two tables and one row; existing tables and rows are not touched.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "forgotten_clients",
        sa.Column("code_hash", sa.String(64), nullable=False, comment="hex HMAC-SHA256 of the code; never the code"),
        sa.Column("forgotten_at", TS, nullable=False),
        sa.Column("late_messages", sa.Integer(), nullable=False,
                  comment="messages for this client that arrived after it was forgotten (discarded)"),
        sa.Column("last_late_at", TS, comment="when the last of those arrived"),
        sa.PrimaryKeyConstraint("code_hash", name="pk_forgotten_clients"),
    )
    meta = op.create_table(
        "history_meta",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False, comment="e.g. the random key of the client tombstones"),
        sa.PrimaryKeyConstraint("name", name="pk_history_meta"),
    )
    # 256 random bits, made once per database: the same code forgotten in two databases gives two
    # unrelated hashes. (edgepose.history.tombstones also makes it should the row ever be missing.)
    op.bulk_insert(meta, [{"name": "client_tombstone_key", "value": secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table("history_meta")
    op.drop_table("forgotten_clients")

"""Alembic environment: run on the connection handed over by :func:`edgepose.history.db.migrate`."""

from __future__ import annotations

from alembic import context

from edgepose.history.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the programmatic path is supported
    raise RuntimeError("run migrations through edgepose.history.db.migrate(), not the alembic CLI")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()

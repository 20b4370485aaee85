"""Session history that lasts: the staff-side database, its ingest and its queries (issue 14).

- Schema: :mod:`edgepose.history.schema` — SQLAlchemy 2 Core ``Table`` definitions of ALL
  staff-side tables: ``units``, ``clients``, ``sessions``, ``reps``, ``events``, ``users``,
  ``api_tokens``, ``login_sessions``, ``forgotten_clients`` (tombstones: a keyed hash of a forgotten
  code, never the code; :mod:`edgepose.history.tombstones`) and ``history_meta`` (their key). Timestamps are aware UTC; JSON is JSONB on PostgreSQL.
- Migrations: ``edgepose/history/migrations/versions/`` (Alembic), applied in place by
  :func:`edgepose.history.store.open_store` on every open (:func:`edgepose.history.db.migrate`).
- Store API: :class:`edgepose.history.store.Store` (``open_store(url)``): ``add_summary``,
  ``add_event``, ``upsert_status``, ``add_batch``, ``sessions``, ``count_sessions``, ``session``,
  ``reps``, ``events``, ``units``, ``unit``, ``clients``, ``client``, ``add_client``, ``set_next``,
  ``forget_client`` (deletes and leaves a tombstone), ``tombstone``, ``tombstones``, ``tombstone_totals``. ``Store.engine`` is the SQLAlchemy engine for queries of your own (open
  writer transactions with ``store.engine.execution_options(write=True).begin()``).
- URLs: ``sqlite:///PATH`` (WAL; default ``history.sqlite`` in the state folder) or
  ``postgresql://USER@HOST:PORT/DB`` (psycopg 3), see :mod:`edgepose.history.db`.

Nothing here is imported by ``edgepose --help``: SQLAlchemy loads only when a store is opened. Its
packages are the ``staff`` extra (``pip install 'edgepose[staff]'``); a device has none of them.
"""

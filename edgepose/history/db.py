"""Database URLs, engines and in-place migrations (Alembic, run programmatically on open)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgepose.history.errors import StoreError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_DB_NAME = "history.sqlite"
_PG_LOCK_KEY = 0x6564_6765_706F  # "edgepo": one advisory lock id for migrations


def default_url() -> str:
    """SQLite file ``history.sqlite`` in the state folder (``$EDGEPOSE_STATE`` etc.)."""
    from edgepose.telemetry.state import state_dir

    return f"sqlite:///{state_dir() / DEFAULT_DB_NAME}"


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3; a bare path means a SQLite file."""
    if not isinstance(url, str) or not url.strip():
        raise StoreError("database URL is empty; use sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
    url = url.strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if url.startswith(("sqlite://", "postgresql+psycopg://")):
        return url
    raise StoreError(f"database URL {safe_url(url)!r}: only sqlite:/// and postgresql:// are supported")


def safe_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


def sqlite_path(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def make_engine(url: str, **kw: Any) -> Engine:
    """An engine for ``url``: SQLite with WAL, foreign keys and a busy timeout; PostgreSQL via psycopg 3."""
    from sqlalchemy import create_engine, event

    url = normalize_url(url)
    path = sqlite_path(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"database folder {path.parent} cannot be created: {e}") from e
        engine = create_engine(url, connect_args={"timeout": 30}, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _rec: Any) -> None:
            # pysqlite's own transaction handling is off: SQLAlchemy's BEGIN below takes over.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before it returns, so a message acknowledged after its
            # commit survives a power cut too (NORMAL would survive only a process crash).
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers (execution option ``write=True``) take the write lock up front, so two
            # writers queue on busy_timeout instead of failing on a read-to-write upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

        return engine
    kw.setdefault("pool_pre_ping", True)
    return create_engine(url, **kw)


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    path = sqlite_path(str(engine.url))
    if path is None:
        yield
        return
    lock = path.with_name(path.name + ".migrate-lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def migrate(engine: Engine) -> str:
    """Create or upgrade the schema in place to the newest revision; return that revision."""
    from edgepose.history.schema import SCHEMA_REVISION

    where = safe_url(str(engine.url))
    if _current_revision(engine) == SCHEMA_REVISION:
        return SCHEMA_REVISION  # the common case, without loading Alembic
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines say nothing to an operator
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    try:
        with _migration_lock(engine), engine.execution_options(write=True).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
            current = MigrationContext.configure(conn).get_current_revision()
            if current == head:
                return head or ""
            log.info("database %s: migrating %s -> %s", where, current or "empty", head)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except StoreError:
        raise
    except Exception as e:
        raise StoreError(f"database {where} cannot be opened or migrated: {_reason(e)}; "
                         "check the URL, that the server runs and the file or folder is writable") from e
    return head or ""


def _current_revision(engine: Engine) -> str | None:
    """The stored Alembic revision, or None (no table yet, or the database cannot be read)."""
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except Exception:
        return None


def _reason(e: BaseException) -> str:
    orig = getattr(e, "orig", None)
    text = str(orig if orig is not None else e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]

"""One module per ``edgepose`` sub-command; each exposes ``register(subparsers)``.

The command functions are thin: parse arguments, call library functions, print, return an exit
code. Tests call the library functions directly.
"""

from __future__ import annotations

# Top-level modules of the ``staff`` extra (pyproject.toml): the staff commands (ingest, history,
# clients, users, dashboard) import them when they run; a device has none of them.
STAFF_MODULES = frozenset({"sqlalchemy", "alembic", "psycopg", "jsonschema", "jsonschema_rs", "pika", "starlette",
                           "uvicorn", "jinja2", "multipart", "python_multipart", "argon2", "reportlab"})
STAFF_INSTALL = "pip install 'edgepose[staff]'"


def staff_extra_missing(exc: BaseException) -> str | None:
    """The staff-side module ``exc`` says is not installed, else None."""
    while exc is not None:
        if isinstance(exc, ModuleNotFoundError) and exc.name and exc.name.split(".")[0] in STAFF_MODULES:
            return exc.name.split(".")[0]
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return None

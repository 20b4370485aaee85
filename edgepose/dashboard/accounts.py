"""Staff accounts, API tokens and login sessions in the history database's own tables."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgepose.dashboard import auth

if TYPE_CHECKING:
    from edgepose.history.store import Store

ROLES = ("admin", "staff")


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    created_at: dt.datetime
    disabled: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Login:
    """A logged-in browser: who, until when, and the CSRF token of its forms."""

    user: User
    csrf_token: str
    expires_at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _user(r: object) -> User:
    m = r._mapping  # type: ignore[attr-defined]
    return User(id=m["id"], name=m["name"], role=m["role"], created_at=m["created_at"], disabled=bool(m["disabled"]))


def check_name(name: str) -> None:
    if not isinstance(name, str) or not auth.NAME_RE.match(name):
        raise ValueError(f"user name {str(name)[:70]!r} is not allowed: {auth.NAME_HELP}")


def add_user(store: Store, name: str, password: str, role: str = "staff") -> User:
    from sqlalchemy.exc import IntegrityError

    from edgepose.history.schema import users

    check_name(name)
    if role not in ROLES:
        raise ValueError(f"role {role!r} must be one of {', '.join(ROLES)}")
    row = {"name": name, "password_hash": auth.hash_password(password), "role": role,
           "created_at": _now(), "disabled": False}
    try:
        with store.engine.execution_options(write=True).begin() as conn:
            pk = conn.execute(users.insert().values(**row).returning(users.c.id)).scalar_one()
    except IntegrityError:
        raise ValueError(f"user {name!r} already exists; remove it first or pick another name") from None
    return User(id=pk, name=name, role=role, created_at=row["created_at"], disabled=False)


def list_users(store: Store) -> list[User]:
    from sqlalchemy import select

    from edgepose.history.schema import users

    with store.engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(users).order_by(users.c.name))]


def get_user(store: Store, name: str) -> User | None:
    from sqlalchemy import select

    from edgepose.history.schema import users

    with store.engine.connect() as conn:
        r = conn.execute(select(users).where(users.c.name == name)).first()
    return _user(r) if r is not None else None


def remove_user(store: Store, name: str) -> bool:
    """Delete the user with its tokens and login sessions; False if there was none."""
    from sqlalchemy import delete, select

    from edgepose.history.schema import api_tokens, login_sessions, users

    with store.engine.execution_options(write=True).begin() as conn:
        uid = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
        if uid is None:
            return False
        conn.execute(delete(api_tokens).where(api_tokens.c.user_id == uid))
        conn.execute(delete(login_sessions).where(login_sessions.c.user_id == uid))
        conn.execute(delete(users).where(users.c.id == uid))
    return True


def count_admins(store: Store) -> int:
    from sqlalchemy import func, select

    from edgepose.history.schema import users

    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(users)
                                .where(users.c.role == "admin", users.c.disabled.is_(False))).scalar_one())


def new_token(store: Store, name: str) -> str:
    """A new API token for ``name`` (only its hash is stored); ValueError for an unknown user."""
    from edgepose.history.schema import api_tokens

    u = get_user(store, name)
    if u is None:
        raise ValueError(f"no user {name!r}; add it first (edgepose users add {name} --password-stdin)")
    token = auth.new_api_token()
    with store.engine.execution_options(write=True).begin() as conn:
        conn.execute(api_tokens.insert().values(user_id=u.id, token_hash=auth.digest(token), created_at=_now()))
    return token


def user_for_token(store: Store, token: str) -> User | None:
    from sqlalchemy import select, update

    from edgepose.history.schema import api_tokens, users

    if not token or len(token) > 256:
        return None
    h = auth.digest(token)
    with store.engine.connect() as conn:
        r = conn.execute(select(users, api_tokens.c.id.label("token_id"), api_tokens.c.last_used_at)
                         .join(api_tokens, api_tokens.c.user_id == users.c.id)
                         .where(api_tokens.c.token_hash == h)).first()
    if r is None or r._mapping["disabled"]:
        return None
    now = _now()
    last = r._mapping["last_used_at"]
    if last is None or (now - last).total_seconds() > 60:  # at most one write a minute per token
        with store.engine.execution_options(write=True).begin() as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.id == r._mapping["token_id"]).values(last_used_at=now))
    return _user(r)


def check_login(store: Store, name: str, password: str) -> User | None:
    """The user when name and password match an enabled account (same cost either way)."""
    from sqlalchemy import select, update

    from edgepose.history.schema import users

    with store.engine.connect() as conn:
        r = conn.execute(select(users).where(users.c.name == name)).first() if auth.NAME_RE.match(name or "") else None
    stored = r._mapping["password_hash"] if r is not None else None
    ok = auth.verify_password(stored, password)
    if not ok or r is None or r._mapping["disabled"]:
        return None
    if auth.needs_rehash(stored):
        with store.engine.execution_options(write=True).begin() as conn:
            conn.execute(update(users).where(users.c.id == r._mapping["id"])
                         .values(password_hash=auth.hash_password(password)))
    return _user(r)


def start_login(store: Store, user: User, hours: float) -> tuple[str, Login]:
    """A new login session: returns (cookie value, Login). Expired sessions are swept here."""
    from sqlalchemy import delete

    from edgepose.history.schema import login_sessions

    cookie, csrf = auth.new_secret(), auth.new_secret()
    now = _now()
    exp = now + dt.timedelta(hours=hours)
    with store.engine.execution_options(write=True).begin() as conn:
        conn.execute(delete(login_sessions).where(login_sessions.c.expires_at < now))
        conn.execute(login_sessions.insert().values(id=auth.digest(cookie), user_id=user.id, created_at=now,
                                                    expires_at=exp, csrf_token=csrf))
    return cookie, Login(user=user, csrf_token=csrf, expires_at=exp)


def login_for_cookie(store: Store, cookie: str) -> Login | None:
    from sqlalchemy import select

    from edgepose.history.schema import login_sessions, users

    if not cookie or len(cookie) > 256:
        return None
    with store.engine.connect() as conn:
        r = conn.execute(select(users, login_sessions.c.csrf_token, login_sessions.c.expires_at)
                         .join(login_sessions, login_sessions.c.user_id == users.c.id)
                         .where(login_sessions.c.id == auth.digest(cookie))).first()
    if r is None or r._mapping["disabled"] or r._mapping["expires_at"] <= _now():
        return None
    return Login(user=_user(r), csrf_token=r._mapping["csrf_token"], expires_at=r._mapping["expires_at"])


def end_login(store: Store, cookie: str) -> None:
    from sqlalchemy import delete

    from edgepose.history.schema import login_sessions

    with store.engine.execution_options(write=True).begin() as conn:
        conn.execute(delete(login_sessions).where(login_sessions.c.id == auth.digest(cookie)))

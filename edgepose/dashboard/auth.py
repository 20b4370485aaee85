"""Passwords (argon2id), API tokens, login-session secrets and the login rate limit.

Nothing secret is stored in the clear: passwords as argon2id hashes, API tokens and session
cookies as SHA-256 hashes (they are 256-bit random values, so a fast hash is enough; the argon2
cost only protects low-entropy passwords).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from typing import Any

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
NAME_HELP = "1-64 of A-Z a-z 0-9 _ . @ - starting with a letter or digit"
MIN_PASSWORD = 10
TOKEN_PREFIX = "ept_"

_hasher: Any = None
_lock = threading.Lock()


def _ph() -> Any:
    global _hasher
    with _lock:
        if _hasher is None:
            from argon2 import PasswordHasher

            _hasher = PasswordHasher()  # argon2id, the library's (RFC 9106 low-memory) defaults
        return _hasher


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password too short: at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise ValueError("password longer than 1024 characters")


def hash_password(password: str) -> str:
    check_password_rules(password)
    return str(_ph().hash(password))


_DUMMY: list[str] = []


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; an unknown user (None) costs the same time and fails."""
    from argon2.exceptions import InvalidHashError, VerificationError

    if stored_hash is None:
        if not _DUMMY:
            _DUMMY.append(str(_ph().hash(secrets.token_urlsafe(16))))
        stored_hash, password = _DUMMY[0], password + "\0"
    try:
        return bool(_ph().verify(stored_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return bool(_ph().check_needs_rehash(stored_hash))


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """SHA-256 hex of a random secret (cookie value or API token): what the database keeps."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


class RateLimiter:
    """Failed logins per key (client address, user name) in a sliding window.

    ``blocked(key)`` returns the seconds to wait (0 when allowed); ``fail(key)`` records a failure;
    ``reset(key)`` forgets a key after a good login. Bounded: at most ``max_keys`` keys are kept.
    """

    def __init__(self, attempts: int = 5, window_s: float = 300.0, max_keys: int = 10000,
                 clock: Any = time.monotonic) -> None:
        self.attempts, self.window_s, self.max_keys, self.clock = attempts, window_s, max_keys, clock
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float] | None:
        q = self._fails.get(key)
        if q is None:
            return None
        while q and now - q[0] > self.window_s:
            q.popleft()
        if not q:
            del self._fails[key]
            return None
        return q

    def blocked(self, key: str) -> float:
        with self._lock:
            now = self.clock()
            q = self._trim(key, now)
            if q is None or len(q) < self.attempts:
                return 0.0
            return max(1.0, self.window_s - (now - q[0]))

    def fail(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            q = self._trim(key, now)
            if q is None:
                if len(self._fails) >= self.max_keys:
                    # drop the stalest keys rather than grow without bound
                    for k in sorted(self._fails, key=lambda k: self._fails[k][-1])[: self.max_keys // 10]:
                        del self._fails[k]
                q = self._fails[key] = deque()
            q.append(now)

    def reset(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)

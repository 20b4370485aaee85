"""Where the device keeps state that must survive a restart (outbox, session journal)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

SYSTEM_STATE = Path("/var/lib/edgepose")


def state_dir() -> Path:
    """Return the state directory, creating it on demand.

    Order: ``$EDGEPOSE_STATE``; ``$STATE_DIRECTORY`` (set by systemd's ``StateDirectory=``; the
    first entry when it lists several); ``/var/lib/edgepose`` when running as root and it can be
    written; otherwise ``$XDG_STATE_HOME/edgepose`` (default ``~/.local/state/edgepose``).
    """
    env = os.environ.get("EDGEPOSE_STATE")
    if env:
        return _ensure(Path(env).expanduser(), "EDGEPOSE_STATE")
    sd = os.environ.get("STATE_DIRECTORY")
    if sd:
        return _ensure(Path(sd.split(":")[0]), "STATE_DIRECTORY")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        try:
            SYSTEM_STATE.mkdir(parents=True, exist_ok=True)
            if os.access(SYSTEM_STATE, os.W_OK):
                return SYSTEM_STATE
        except OSError as e:
            log.warning("cannot use %s (%s); falling back to the per-user state folder", SYSTEM_STATE, e)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return _ensure(base / "edgepose", "the per-user state folder")


def _ensure(path: Path, what: str) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"state directory {path} (from {what}) cannot be created: {e}; "
                      "point EDGEPOSE_STATE at a writable folder") from e
    return path

"""Where the device keeps state that must survive a restart (outbox, session journal).

The order of the defaults is :func:`edgepose.config.default_state_dir`; a command that has a
config resolves the folder with :func:`edgepose.config.device_dirs` (which honours
``[device] state_dir``). :func:`state_dir` is for code that has no config at hand.
"""

from __future__ import annotations

from pathlib import Path

from edgepose.config import DEFAULT_STATE_DIR, default_state_dir

SYSTEM_STATE = DEFAULT_STATE_DIR


def state_dir() -> Path:
    """Return the default state directory (:func:`edgepose.config.default_state_dir`), creating it."""
    path = default_state_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"state directory {path} cannot be created: {e}; "
                      "point EDGEPOSE_STATE at a writable folder") from e
    return path

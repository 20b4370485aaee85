"""Outputs of a session (recording, poses file, summary file) that may fail without losing it.

A recording or a summary file is an output, not the session: when the disk fills or the folder
goes away, the output stops with one message naming the path and the errno, and the session,
its summary and its telemetry go on.
"""

from __future__ import annotations

import errno as errno_mod
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgepose.errors import EdgeposeError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputFailure:
    """One output that stopped: what it was, its path and why."""

    output: str
    path: Path
    message: str

    def line(self) -> str:
        return f"{self.output} {self.path}: {self.message}"


def describe_os_error(e: BaseException) -> str:
    """``No space left on device (errno 28 ENOSPC)`` for an OSError, else the message."""
    if isinstance(e, OSError) and e.errno is not None:
        name = errno_mod.errorcode.get(e.errno, "?")
        text = e.strerror or os.strerror(e.errno)
        extra = str(e.args[1]) if len(e.args) > 1 and e.args[1] != text else ""
        return f"{text} (errno {e.errno} {name})" + (f": {extra}" if extra else "")
    return str(e) or type(e).__name__


class GuardedOutput:
    """Wraps a file-writing sink: on its first error the output is closed and switched off, the
    failure is recorded (and ``on_failure`` told), and later frames skip it."""

    def __init__(self, sink: Callable[[Any], None], output: str, path: Path,
                 close: Callable[[], None] | None, failures: list[OutputFailure],
                 on_failure: Callable[[OutputFailure], None] | None = None) -> None:
        self.sink, self.output, self.path, self._close = sink, output, path, close
        self.failures, self.on_failure = failures, on_failure
        self.failed: OutputFailure | None = None

    def __call__(self, res: Any) -> None:
        if self.failed is not None:
            return
        try:
            self.sink(res)
        except Exception as e:  # noqa: BLE001 - an output never ends the session
            self._fail(e)

    def _fail(self, e: BaseException) -> None:
        f = OutputFailure(self.output, self.path, describe_os_error(e) + "; the session goes on without it")
        self.failed = f
        self.failures.append(f)
        if isinstance(e, OSError | EdgeposeError):  # said on purpose: the message is enough
            log.error("%s", f.line())
        else:
            log.error("%s", f.line(), exc_info=e)
        self.close()
        if self.on_failure is not None:
            try:
                self.on_failure(f)
            except Exception:  # noqa: BLE001
                log.warning("reporting the failed output failed", exc_info=True)

    def close(self) -> None:
        if self._close is None:
            return
        close, self._close = self._close, None
        try:
            close()
        except Exception as e:  # noqa: BLE001 - e.g. the last flush hits the full disk
            if self.failed is None:
                f = OutputFailure(self.output, self.path, describe_os_error(e) + " (on closing)")
                self.failed = f
                self.failures.append(f)
                log.error("%s", f.line())
                if self.on_failure is not None:
                    self.on_failure(f)


def write_summary_file(path: Path, summary: dict[str, Any]) -> OutputFailure | None:
    """Write ``summary`` as JSON via ``<path>.part`` and a rename; None when it worked.

    On failure (full disk, missing permission) nothing is left behind: no ``.part`` file and no
    half-written summary.
    """
    tmp = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(summary, indent=1)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return None
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        f = OutputFailure("summary file", path, describe_os_error(e) + "; not written")
        log.error("%s", f.line())
        return f

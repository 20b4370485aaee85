"""Telemetry's exceptions. Each also inherits the builtin a caller already catches."""

from __future__ import annotations

try:  # the project's shared root, when present
    from edgepose.errors import EdgeposeError as _Base
except ImportError:  # pragma: no cover - only while the shared module is being written
    _Base = Exception  # type: ignore[misc,assignment]


class TelemetryError(_Base):  # type: ignore[valid-type,misc]
    """Base of every error the telemetry package raises on purpose."""


class SettingsError(TelemetryError, ValueError):
    """An ``[mqtt]`` setting has a wrong value; the message names the key and the fix."""


class CommandError(TelemetryError, ValueError):
    """A ``cmd`` payload was refused; the message says why."""


class PayloadError(TelemetryError, ValueError):
    """A payload handed to the publisher lacks a field or carries one it must not."""

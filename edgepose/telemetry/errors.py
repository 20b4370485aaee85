"""Telemetry's exceptions (defined in :mod:`edgepose.errors`, re-exported here)."""

from __future__ import annotations

from edgepose.errors import CommandError, PayloadError, SettingsError, TelemetryError

__all__ = ["TelemetryError", "SettingsError", "CommandError", "PayloadError"]

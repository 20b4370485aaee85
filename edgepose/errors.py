"""One exception tree. Each leaf also inherits the builtin a caller already catches.

Every error edgepose raises on purpose is defined here (and re-exported by the module that
raises it, e.g. ``edgepose.config.ConfigError``), so ``except EdgeposeError`` catches them all
and ``except ValueError`` / ``except OSError`` keep working for callers that know only those.

==================  ======================  =========================================
class               builtin                 raised when
==================  ======================  =========================================
ConfigError         ValueError              the config file cannot be used
SettingsError       ConfigError             an ``[mqtt]`` value is wrong
ProgramError        ValueError              a program file is invalid or missing
ModelError          ValueError              a model is missing, corrupt or the wrong one
ModelMissing        FileNotFoundError       a model file is not where it should be
RuntimeMissing      ImportError             no LiteRT runtime is installed
DelegateError       OSError                 a delegate library cannot be loaded
SourceError         OSError                 a camera, stream or file cannot be read
DisplayError        OSError                 a screen or OLED cannot be opened
DiskFullError       OSError                 a recording or poses file ran out of space
PipelineError       RuntimeError            a pipeline stage failed (``stage``)
TelemetryError      --                      base of the MQTT errors below
CommandError        ValueError              an MQTT command was refused
PayloadError        ValueError              a payload lacks a field or carries a wrong one
WindowError         OSError                 the live window cannot be opened
StoreError          RuntimeError            the history database cannot be used
StoreUnavailable    StoreError              a history write failed for a passing reason
IngestSettingsError ConfigError             an ``[ingest]`` setting is wrong
DashboardConfigError ConfigError            the dashboard configuration is wrong
Cancelled           RuntimeError            a long computation was cancelled (the session ended)
==================  ======================  =========================================
"""

from __future__ import annotations


class EdgeposeError(Exception):
    """Base of every error edgepose raises on purpose."""


class ConfigError(EdgeposeError, ValueError):
    """The configuration cannot be used; the message names the file, the key and the fix."""


class ProgramError(EdgeposeError, ValueError):
    """A program file is invalid (the message names the file and the key) or not installed."""


class ModelError(EdgeposeError, ValueError):
    """A model file is missing, corrupt, or not the model the decoder expects."""


class ModelMissing(ModelError, FileNotFoundError):
    """A model file is not where it should be."""


class RuntimeMissing(EdgeposeError, ImportError):
    """Neither ai_edge_litert nor tflite_runtime is installed."""


class DelegateError(EdgeposeError, OSError):
    """A delegate library or its accelerator could not be loaded."""


class SourceError(EdgeposeError, OSError):
    """A camera, stream or file could not be opened or read."""


class DisplayError(EdgeposeError, OSError):
    """A display was asked for (``[display] kind``) but cannot be opened."""


class DiskFullError(EdgeposeError, OSError):
    """A recording or poses file could not be written: the disk is full."""


class PipelineError(EdgeposeError, RuntimeError):
    """A pipeline stage failed; ``stage`` names it and ``__cause__`` is the original error."""

    def __init__(self, stage: str, error: BaseException):
        super().__init__(f"{stage} stage failed: {type(error).__name__}: {error}")
        self.stage = stage


class TelemetryError(EdgeposeError):
    """Base of every error the telemetry package raises on purpose."""


class SettingsError(TelemetryError, ConfigError):
    """An ``[mqtt]`` setting has a wrong value; the message names the key and the fix.

    Raised as ``SettingsError("[mqtt] port: must be ...")``; :attr:`key` (``"port"``) and
    :attr:`problem` (the rest) let the config loader name the file and the key path instead.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        head, sep, rest = message.partition(": ")
        self.key = head[len("[mqtt] "):] if sep and head.startswith("[mqtt] ") and " " not in head[7:] else None
        self.problem = rest if self.key else message


class CommandError(TelemetryError, ValueError):
    """A ``cmd`` payload was refused; the message says why."""


class PayloadError(TelemetryError, ValueError):
    """A payload handed to the publisher lacks a field or carries one it must not."""


class WindowError(EdgeposeError, OSError):
    """The live window cannot be opened; the message says what is missing and the fix."""


class StoreError(EdgeposeError, RuntimeError):
    """The database cannot be opened, migrated or written (message names the URL, password hidden)."""


class StoreUnavailable(StoreError):
    """A write failed for a reason that may pass (disk full, database locked, server gone): retry."""


class IngestSettingsError(ConfigError):
    """An ``[ingest]`` setting (or its command-line override) cannot be used."""


class DashboardConfigError(ConfigError):
    """The dashboard configuration cannot be used; names the file, the key and the fix."""


class Cancelled(EdgeposeError, RuntimeError):
    """A long computation was cancelled (e.g. a figure solve: the session ended first)."""

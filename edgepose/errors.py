"""One exception tree. Each leaf also inherits the builtin a caller already catches."""

from __future__ import annotations


class EdgeposeError(Exception):
    """Base of every error edgepose raises on purpose."""


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

"""edgepose: on-device pose feedback.

The library has no side effects on import; the CLI (:mod:`edgepose.cli`) is a thin layer over
functions that tests call directly.
"""

__version__ = "0.1.0"

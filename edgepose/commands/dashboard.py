"""``edgepose dashboard --db URL [--mqtt HOST:PORT] [--bind ADDR] [--port N] [--config FILE]``.

The staff dashboard itself is the ``edgepose.dashboard`` package (docs/dashboard.md); this module
only hands the command line to it, so ``edgepose --help`` imports no web stack.
"""

from __future__ import annotations

from edgepose.dashboard.command import main, register

__all__ = ["main", "register"]

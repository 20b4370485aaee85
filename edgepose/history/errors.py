"""Errors of the history store and the ingest (each a message naming what, where and the fix);
defined in :mod:`edgepose.errors`, re-exported here."""

from __future__ import annotations

from edgepose.errors import StoreError, StoreUnavailable

__all__ = ["StoreError", "StoreUnavailable"]

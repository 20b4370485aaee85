"""Errors of the history store and the ingest (each a message naming what, where and the fix)."""

from __future__ import annotations


class StoreError(RuntimeError):
    """The database cannot be opened, migrated or written (message names the URL, password hidden)."""


class StoreUnavailable(StoreError):
    """A write failed for a reason that may pass (disk full, database locked, server gone): retry."""

"""The one format of a pseudonymous client code (no names): ``C-104``, ``K17``, ``rehab_03``.

1-32 of A-Z a-z 0-9 _ . - starting with a letter or digit, matched in full (no spaces, no
newlines, nothing else). Used by the device's ``select`` command, the ingest and the dashboard.
"""

from __future__ import annotations

import re

CLIENT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
CLIENT_CODE_HELP = "1-32 of A-Z a-z 0-9 _ . - starting with a letter or digit, e.g. 'C-104'"


def is_client_code(value: object) -> bool:
    """True if ``value`` is a string that is a whole, valid client code."""
    return isinstance(value, str) and CLIENT_CODE.fullmatch(value) is not None

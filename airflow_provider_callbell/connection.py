"""Names shared by everything that uses the ``callbell`` connection, importable at parse time."""

from __future__ import annotations

DEFAULT_CONN_ID = "callbell_default"
CONN_TYPE = "callbell"

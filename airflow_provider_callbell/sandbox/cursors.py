"""The two kinds of ``meta.next`` cursor, and their opaque string form.

Callbell documents neither how a cursor treats a list that changes during a
walk nor what it encodes, so the sandbox offers both readings (the
``cursor_semantics`` setting). A cursor carries its own kind: a walk keeps
the semantics it began with.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeysetCursor:
    """A walk that continues below the last contact returned.

    ``last_seq`` is the ``seq`` of the last contact returned: the walk goes on
    below it, so contacts that joined the top of the list later are left out.
    ``horizon`` is the highest ``seq`` when the walk started; page numbers in
    ``meta`` count from there.
    """

    last_seq: int
    horizon: int

    def encode(self) -> str:
        """The opaque string sent to clients as ``meta.next``."""
        return _encode({"s": self.last_seq, "h": self.horizon})


@dataclass(frozen=True, slots=True)
class SnapshotCursor:
    """A walk over the filtered list as it was when the walk began.

    ``version`` names that list (the store's version at the time), and
    ``position`` is the index in it where the next page starts.
    """

    version: int
    position: int

    def encode(self) -> str:
        """The opaque string sent to clients as ``meta.next``."""
        return _encode({"v": self.version, "p": self.position})


Cursor = KeysetCursor | SnapshotCursor


def decode_cursor(token: str) -> Cursor:
    """Parse a string made by ``encode``.

    Raises:
        ValueError: the string is not a cursor.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError("malformed cursor") from error
    if not isinstance(data, dict) or not all(_is_natural(value) for value in data.values()):
        raise ValueError("malformed cursor")
    if set(data) == {"s", "h"}:
        return KeysetCursor(last_seq=data["s"], horizon=data["h"])
    if set(data) == {"v", "p"}:
        return SnapshotCursor(version=data["v"], position=data["p"])
    raise ValueError("malformed cursor")


def _encode(fields: dict[str, int]) -> str:
    raw = json.dumps(fields, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _is_natural(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0

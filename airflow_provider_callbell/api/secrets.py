"""Keeping the API token, or any piece of it, out of text that may be shown."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

#: Runs of the token at least this long are blanked (the whole token when it is shorter).
MIN_HIDDEN = 6
MASK = "***"
#: Servers and libraries change the case of what they quote; lowering ASCII letters alone keeps
#: every character in its place.
_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def conceal(text: str, secret: str | None) -> str:
    """``text`` with every piece of ``secret`` blanked: as it is, percent-encoded (decoded then),
    and escaped as ``repr()`` and JSON quote it (a backslash doubled, a line break as ``\\n``)."""
    if not secret:
        return text
    for form in dict.fromkeys((repr(secret)[1:-1], json.dumps(secret)[1:-1], secret)):
        decoded = unquote(text)
        text = _conceal(decoded if decoded != text and _conceal(decoded, form) != decoded else text, form)
    return text


def _conceal(text: str, secret: str | None) -> str:
    """``text`` with every run of at least :data:`MIN_HIDDEN` characters of ``secret`` blanked
    (a shorter ``secret`` wherever it stands as a word), in any letter case.

    A server may echo the token cut short or a library may quote part of it: a prefix, a
    suffix or any stretch of it is hidden, not only the whole token.
    """
    if not secret or not text:
        return text
    if len(secret) < MIN_HIDDEN:
        # A token this short would blank letters of every word: hide it where it stands alone.
        return re.sub(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", MASK, text, flags=re.IGNORECASE)
    shortest = MIN_HIDDEN
    folded, secret = text.translate(_FOLD), secret.translate(_FOLD)
    parts: list[str] = []
    start = i = 0
    while i <= len(text) - shortest:
        if folded[i : i + shortest] not in secret:
            i += 1
            continue
        end = i + shortest
        while end < len(text) and folded[i : end + 1] in secret:
            end += 1
        parts += [text[start:i], MASK]
        start = i = end
    parts.append(text[start:])
    return "".join(parts)

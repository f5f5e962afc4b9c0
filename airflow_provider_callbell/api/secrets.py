"""Keeping the API token, or any piece of it, out of text that may be shown."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterator
from urllib.parse import unquote

#: Runs of the token at least this long are blanked (the whole token when it is shorter).
MIN_HIDDEN = 6
#: A shorter start or end of the token is blanked where a mask shows it is one (``sk_l****``,
#: ``****uiop``), as servers show a key "safely"; an ellipsis is no mask (``test...`` is prose).
MIN_HINTED = 4
#: Masks, each of a fixed width (a lookbehind takes no other; nor can a repeat backtrack then).
_MASKS = (r"[*•·]{2}", r"[xX]{3}")
MASK = "***"
#: Servers and libraries change the case of what they quote; lowering ASCII letters alone keeps
#: every character in its place.
_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


#: How many times, at most, text is percent-decoded in search of the secret: a URL quoted in a URL.
_UNQUOTES = 8
#: JSON's escapes, which a server may leave in text that is not JSON: ``\u0041``, ``\/``.
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\/")


def conceal(text: str, secret: str | None) -> str:
    """``text`` with every piece of ``secret`` blanked: as it is, percent-encoded (once or more,
    decoded then), as HTML entities or JSON escapes (``\\u0041``, ``\\/``; unescaped then), in
    base64 (as a ``Basic`` header carries it) and hex, and escaped as ``repr()`` and JSON quote it
    (a backslash doubled, a line break as ``\\n``)."""
    if not secret:
        return text
    for form in _forms(secret):
        text = _conceal(next((read for read in _readings(text) if _conceal(read, form) != read), text), form)
    return _conceal_hinted(text, secret)


def _forms(secret: str) -> dict[str, None]:
    """The secret as a server may quote it, its own escapes decoded first (``%2F``, ``&amp;``): a
    text decoded to find the secret in it is searched for the secret decoded too."""
    quoted = (repr(secret)[1:-1], json.dumps(secret)[1:-1])
    return dict.fromkeys((*_readings(secret), *quoted, secret, secret.encode().hex(), *_base64_forms(secret)))


def _conceal_hinted(text: str, secret: str) -> str:
    """``text`` with the token's first or last few characters blanked where a mask beside them
    shows what they are."""
    for size in range(MIN_HINTED, min(MIN_HIDDEN, len(secret))):
        start, end = re.escape(secret[:size]), re.escape(secret[-size:])
        for mask in _MASKS:
            text = re.sub(rf"(?<![A-Za-z0-9]){start}(?={mask})", MASK, text)
            text = re.sub(rf"(?<={mask}){end}(?![A-Za-z0-9])", MASK, text)
    return text


def _base64_forms(secret: str) -> Iterator[str]:
    """The characters base64 writes for ``secret`` whatever bytes stand before and after it: at
    each of the three alignments, less the characters the bytes around it also decide."""
    for alphabet in (base64.b64encode, base64.urlsafe_b64encode):
        for offset in range(3):
            encoded = alphabet(b"\0" * offset + secret.encode()).decode().rstrip("=")
            middle = encoded[4 if offset else 0 : -1]
            if len(middle) >= MIN_HIDDEN:
                yield middle


def _readings(text: str) -> Iterator[str]:
    """``text`` decoded each way a server may have encoded what it quotes, the plainest last."""
    decoded = [text]
    while len(decoded) <= _UNQUOTES and (plainer := unquote(decoded[-1])) != decoded[-1]:
        decoded.append(plainer)
    unescaped = [*map(html.unescape, decoded), *map(_json_unescaped, decoded)]
    for reading in dict.fromkeys(reversed([*decoded, *unescaped])):
        if reading != text:
            yield reading


def _json_unescaped(text: str) -> str:
    return _JSON_ESCAPE.sub(lambda escape: chr(int(escape[1], 16)) if escape[1] else "/", text)


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

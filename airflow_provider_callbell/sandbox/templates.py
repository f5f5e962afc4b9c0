"""The WhatsApp message templates of the sandbox account, and their placeholders."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

APPROVED = "approved"

_PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")

#: name, status, category, language, text; the catalog draws their uuids from the seed.
TEMPLATES = (
    ("order_shipped", APPROVED, "UTILITY", "en", "Hi {{1}}, your order {{2}} is on its way."),
    ("welcome", APPROVED, "MARKETING", "en", "Hello {{1}}, thanks for reaching out!"),
    ("still_there", APPROVED, "UTILITY", "en", "Are you still there? Reply to go on with our chat."),
    (
        "promemoria_appuntamento",
        APPROVED,
        "UTILITY",
        "it",
        "Ciao {{1}}, ti ricordiamo l'appuntamento del {{2}} alle {{3}}.",
    ),
    ("black_friday", "pending", "MARKETING", "en", "{{1}}, Black Friday starts now: {{2}} off everything!"),
    ("rebajas", "rejected", "MARKETING", "es", "¡Hola {{1}}! Las rebajas de verano ya empezaron."),
)


def placeholder_count(text: str) -> int:
    """How many distinct positional placeholders (``{{1}}``, ``{{2}}``...) ``text`` has."""
    return len(set(_PLACEHOLDER.findall(text)))


def render(text: str, values: Sequence[str]) -> str:
    """``text`` with placeholder ``{{n}}`` replaced by ``values[n - 1]``."""
    return _PLACEHOLDER.sub(lambda match: values[int(match.group(1)) - 1], text)

"""Checking operator and sensor arguments as early as possible: at DAG parse time when static."""

from __future__ import annotations

from typing import Any

#: Above this many contacts, XCom mode fails and asks for a file instead.
DEFAULT_MAX_XCOM_CONTACTS = 1000


def is_template(value: Any) -> bool:
    """Whether ``value`` (or an item of it) is a Jinja template, known only once rendered."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, list | tuple | set):
        return any(is_template(item) for item in value)
    return False


def known_now(value: Any) -> Any:
    """The value when it is known at DAG parse time, else ``None`` (it is checked once rendered)."""
    return None if is_template(value) else value

"""Writes that are never applied twice, whatever happens to their answers.

A write whose answer is lost (timeout, dropped connection, 5xx, garbled body) may have been
applied. Before such a write is sent again, its :attr:`Write.find` looks for it — the contact
by its phone number, the message by the idempotency key it carries — and the retry is skipped
when it is there. A 429 is the one failure known to leave nothing applied.

Lookups are generators of the ``GET`` requests they need, fed the decoded answers (or, thrown
in, the :class:`CallbellNotFoundError` of a 404), so that the synchronous and the asynchronous
hook drive the same logic: each hook's ``write`` runs the lookup (when :attr:`Write.needs_lookup`)
and then the write, in its own retry loop.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from airflow_provider_callbell.arguments import api_path, choice
from airflow_provider_callbell.exceptions import CallbellRateLimitError, CallbellTransientError

T = TypeVar("T")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Get:
    """One ``GET`` a lookup needs."""

    path: str
    params: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        api_path(self.path, "path")


#: Yields the requests it needs, is sent their answers; returns what it found, or None.
Lookup = Generator[Get, Any, T | None]


@dataclass
class Write(Generic[T]):
    """One write, what its answer means, and how to find it applied when the answer was lost.

    :param method: ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
    :param path: the path under the base URL.
    :param body: the JSON body, if any.
    :param parse: the result, from the decoded answer.
    :param find: a new lookup for the write's effect; ``None`` when sending it twice changes
        nothing (it sets values rather than adding), so it is retried as it is.
    """

    method: str
    path: str
    body: Mapping[str, Any] | None
    parse: Callable[[Any], T]
    find: Callable[[], Lookup[T]] | None = None
    unsure: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        """The method and path checked as :meth:`CallbellHook.request` checks them, before any request."""
        choice(self.method, "method", WRITE_METHODS)
        api_path(self.path, "path")

    @property
    def what(self) -> str:
        """The write as error messages name it."""
        return f"{self.method} /{self.path}"

    def failed(self, error: Exception) -> None:
        """Note how an attempt failed: any transient error but a 429 may hide an applied write."""
        if isinstance(error, CallbellTransientError) and not isinstance(error, CallbellRateLimitError):
            self.unsure = True

    @property
    def needs_lookup(self) -> bool:
        """Whether the next attempt must first look for the write's effect."""
        return self.unsure and self.find is not None

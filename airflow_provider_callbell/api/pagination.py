"""The walk over ``GET /contacts``: which page to ask for next, and which contacts are new.

The walker does no I/O: a driver asks :meth:`ContactWalk.next_params`, sends the request,
and hands the answer to :meth:`ContactWalk.accept`, which returns the contacts not seen
before. Page numbers come first (they can be fetched in any order); when Callbell refuses
deep page numbers, the walk goes on with the ``meta.next`` cursor of the last page read.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_callbell.exceptions import (
    CallbellInvalidResponseError,
    CallbellPaginationLimitError,
)

if TYPE_CHECKING:
    from airflow_provider_callbell.api.filters import ContactFilters

Contact = dict[str, Any]


@dataclass(frozen=True)
class ContactPage:
    """One answer of ``GET /contacts``: its contacts and what its ``meta`` says of the rest."""

    contacts: list[Contact]
    pages: int | None = None
    next_cursor: str | None = None

    @classmethod
    def parse(cls, document: Any) -> ContactPage:
        """Read an answer, tolerating absent ``meta``; reject a body with no contact list."""
        contacts = document.get("contacts") if isinstance(document, Mapping) else None
        if not isinstance(contacts, list):
            raise CallbellInvalidResponseError("Callbell answered GET /contacts without a 'contacts' list")
        meta = document.get("meta")
        meta = meta if isinstance(meta, Mapping) else {}
        pages = meta.get("pages")
        cursor = meta.get("next")
        return cls(
            contacts=contacts,
            pages=pages if isinstance(pages, int) and not isinstance(pages, bool) else None,
            next_cursor=cursor if isinstance(cursor, str) and cursor else None,
        )


class ContactWalk:
    """Walks every contact matching ``filters`` once.

    Page-number answers may overlap when contacts are added while the walk runs, so the
    uuids seen in page mode are remembered to drop repeats. The cursor walk is consistent
    by Callbell's contract, so its uuids are checked against that set but not added to it:
    memory stays bounded by the page-number part of the walk.
    """

    def __init__(self, filters: ContactFilters) -> None:
        self._filters = filters.query_params()
        self._page = 1
        self._cursor: str | None = None
        self._latest_cursor: str | None = None
        self._total_pages: int | None = None
        self._by_cursor = False
        self._done = False
        self._seen: set[str] = set()
        self.page_size: int | None = None
        self.pages_read = 0
        self.contacts_read = 0

    @property
    def done(self) -> bool:
        """Whether every matching contact has been handed out."""
        return self._done

    @property
    def next_page(self) -> int | None:
        """The page number :meth:`next_params` asks for; ``None`` on the cursor or when done."""
        return None if self._by_cursor or self._done else self._page

    def next_params(self) -> dict[str, str] | None:
        """Query parameters of the next request, or ``None`` when the walk is over."""
        if self._done:
            return None
        if self._by_cursor:
            return {**self._filters, "after": self._cursor or ""}
        return self.page_params(self._page)

    def page_params(self, number: int) -> dict[str, str]:
        """Query parameters asking for page ``number``."""
        return {**self._filters, "page": str(number)}

    def upcoming_pages(self, count: int) -> range:
        """Up to ``count`` page numbers after :attr:`next_page` that Callbell said exist.

        They may be fetched ahead, concurrently, and handed to :meth:`accept` in order.
        """
        if self.next_page is None or self._total_pages is None:
            return range(0)
        return range(self._page + 1, min(self._total_pages, self._page + count) + 1)

    def accept(self, page: ContactPage) -> list[Contact]:
        """Take the answer to :meth:`next_params`; return the contacts not handed out before."""
        self.pages_read += 1
        if self.page_size is None and page.contacts:
            self.page_size = len(page.contacts)
        fresh = [contact for contact in page.contacts if self._is_new(contact)]
        self.contacts_read += len(fresh)
        if self._by_cursor:
            self._done = page.next_cursor in (None, self._cursor)
            self._cursor = page.next_cursor
        else:
            self._latest_cursor = page.next_cursor
            self._total_pages = page.pages
            self._done = not page.contacts or (page.pages is not None and self._page >= page.pages)
            self._page += 1
        return fresh

    def page_limit_reached(self, error: CallbellPaginationLimitError) -> None:
        """Go on by cursor after Callbell refused the current page number."""
        if self._by_cursor or self._latest_cursor is None:
            raise CallbellPaginationLimitError(
                f"Callbell refused page {self._page} of the contact list and offered no cursor to read "
                f"further ({error}). Narrow the walk with filters (source, tags, team_uuid).",
                status=error.status,
            ) from error
        self._by_cursor = True
        self._cursor = self._latest_cursor

    def _is_new(self, contact: Contact) -> bool:
        uuid = contact.get("uuid") if isinstance(contact, Mapping) else None
        if not isinstance(uuid, str):
            return True
        if uuid in self._seen:
            return False
        if not self._by_cursor:
            self._seen.add(uuid)
        return True


class ContactStream(Iterator[Contact]):
    """The contacts of one walk, as they arrive, with the walk's running totals.

    Close it (or exhaust it) to stop the walk and release its threads and connections.
    """

    def __init__(self, walk: ContactWalk, contacts: Generator[Contact, None, None]) -> None:
        self._walk = walk
        self._contacts = contacts

    def __next__(self) -> Contact:
        return next(self._contacts)

    def close(self) -> None:
        """Stop the walk."""
        self._contacts.close()

    @property
    def pages_read(self) -> int:
        """Pages of contacts read so far."""
        return self._walk.pages_read

    @property
    def contacts_read(self) -> int:
        """Distinct contacts handed out so far."""
        return self._walk.contacts_read

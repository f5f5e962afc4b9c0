"""One answer of ``GET /contacts``, checked, and the stream of contacts a walk hands out."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_callbell.arguments import contact_uuid
from airflow_provider_callbell.exceptions import CallbellInvalidResponseError

if TYPE_CHECKING:
    from airflow_provider_callbell.api.walk import ContactWalk

Contact = dict[str, Any]


@dataclass(frozen=True)
class ContactPage:
    """One answer of ``GET /contacts``: its contacts and what its ``meta`` says of the rest.

    :param contacts: the contacts, each an object with a string ``uuid``.
    :param pages: ``meta.pages`` when it is a whole number.
    :param next_cursor: ``meta.next``, the cursor continuing right after the last contact.
    :param has_cursor: whether ``meta`` carries ``next`` at all (``null`` at the end of the
        list); servers without cursors can only be read by page number.
    """

    contacts: list[Contact]
    pages: int | None = None
    next_cursor: str | None = None
    has_cursor: bool = False

    @classmethod
    def parse(cls, document: Any) -> ContactPage:
        """Read an answer, tolerating absent ``meta``; reject contacts the walk cannot tell apart."""
        contacts = document.get("contacts") if isinstance(document, Mapping) else None
        if not isinstance(contacts, list):
            raise CallbellInvalidResponseError("Callbell answered GET /contacts without a 'contacts' list")
        for position, contact in enumerate(contacts, start=1):
            _check_contact(contact, position)
        meta = document.get("meta")
        meta = meta if isinstance(meta, Mapping) else {}
        pages = meta.get("pages")
        cursor = meta.get("next")
        if cursor is not None and not isinstance(cursor, str):
            raise CallbellInvalidResponseError(
                "Callbell answered GET /contacts with a meta.next that is neither a cursor (text) nor "
                f"null or empty (the end of the list): a {type(cursor).__name__}"
            )
        return cls(
            contacts=contacts,
            pages=pages if isinstance(pages, int) and not isinstance(pages, bool) else None,
            next_cursor=cursor or None,
            has_cursor="next" in meta,
        )

    @property
    def uuids(self) -> list[str]:
        """The uuids of the contacts, in order."""
        return [contact["uuid"] for contact in self.contacts]


def _check_contact(contact: Any, position: int) -> None:
    if not isinstance(contact, dict):
        raise CallbellInvalidResponseError(
            f"Callbell listed a contact that is not a JSON object (item {position} of the page: "
            f"{type(contact).__name__})"
        )
    checked_uuid(contact, f"listed a contact (item {position} of the page)")


def checked_uuid(contact: Contact, what: str) -> str:
    """The contact's uuid, a Callbell identifier: without one, contacts cannot be told apart,
    and a write to another could reach the wrong path (``../x``)."""
    try:
        return contact_uuid(contact.get("uuid"), "uuid")
    except ValueError:
        raise CallbellInvalidResponseError(
            f"Callbell {what} without a uuid that is a Callbell identifier (letters, digits and _ . : -)"
        ) from None


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

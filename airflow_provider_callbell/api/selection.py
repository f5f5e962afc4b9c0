"""Client-side selection of contacts: what Callbell's own filters cannot say.

Callbell does not document whether several tags mean *any* or *all*, has no creation-date
filter and no projection, so these are applied to each contact as it streams by.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from airflow_provider_callbell.api.filters import TagsArg, parse_tags
from airflow_provider_callbell.arguments import choice, optional_whole_number, string_list
from airflow_provider_callbell.exceptions import CallbellInvalidResponseError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

Contact = dict[str, Any]
TagsMatch = Literal["any", "all"]
TAGS_MATCH_VALUES: tuple[TagsMatch, ...] = ("any", "all")
_ISO_DATE = re.compile(r"[0-9]{4}-?[0-9]{2}-?[0-9]{2}")
#: A fraction of a second finer than a datetime holds: read, it would be cut, not refused.
_BEYOND_MICROSECONDS = re.compile(r"[.,][0-9]{7,}")


def parse_moment(value: Any, argument: str) -> datetime | None:
    """A timezone-aware datetime from a datetime or an ISO 8601 string; naive means UTC."""
    if value is None:
        return None
    given = value
    if isinstance(value, str):
        value = _iso_moment(value, argument)
    if not isinstance(value, datetime):
        raise ValueError(f"{argument} must be a datetime, an ISO 8601 string or None, got {value!r}")
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{argument} must be a moment from year 1 to 9999 in UTC, got {moment.isoformat()!r}"
        ) from None
    except ValueError:  # pendulum reads offsets of a day and more, which no datetime holds
        raise ValueError(f"{argument} must have a UTC offset of less than 24 hours, got {given!r}") from None
    return moment


def _iso_moment(value: str, argument: str) -> datetime:
    # pendulum also reads words such as 'now': only ISO 8601 dates and times are accepted.
    import pendulum

    try:
        if not _ISO_DATE.match(value.strip()):
            raise ValueError(value)
        moment = pendulum.parse(value.strip())
    except (ValueError, TypeError, OverflowError):
        raise ValueError(
            f"{argument} must be a datetime, an ISO 8601 string such as '2026-01-31T09:00:00Z', "
            f"or None, got {value!r}"
        ) from None
    if not isinstance(moment, pendulum.DateTime):
        raise ValueError(f"{argument} must name a moment, not an interval, got {value!r}")
    if _BEYOND_MICROSECONDS.search(value):
        raise ValueError(
            f"{argument} must give a second's fraction in at most 6 digits (microseconds), got {value!r}: "
            "finer ones would be cut"
        )
    return moment


def parse_fields(fields: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """The projection: a list of contact keys or a comma-separated string; ``None`` keeps all.

    A key spelt as a documented one in another case (``phonenumber``) is refused: it would be a
    column of nulls, the key a contact has being ``phoneNumber``.
    """
    if fields is None:
        return None
    from airflow_provider_callbell.exports.schema import CONTACT_KEYS

    parsed = string_list(fields, "fields", example="['uuid', 'name']", ordered=True)
    known = {key.casefold(): key for key in CONTACT_KEYS}
    for field in parsed:
        meant = known.get(field.casefold())
        if meant is not None and meant != field:
            raise ValueError(
                f"fields names {field!r}, which no contact has: keys are read as written, did you mean "
                f"{meant!r}?"
            )
    return parsed


def created_at(contact: Contact) -> datetime:
    """When the contact was created, from its ``createdAt`` (ISO 8601; UTC unless it says).

    :raises CallbellInvalidResponseError: when it is absent or unreadable: whether the contact
        falls in a window, or is new, cannot be told, and guessing would drop or invent one.
    """
    stamp = contact.get("createdAt")
    try:
        moment = datetime.fromisoformat(stamp)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _unreadable(contact, "without a createdAt time in ISO 8601") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def tags_of(contact: Contact) -> set[str]:
    """The contact's tags, in lower case.

    :raises CallbellInvalidResponseError: when they are not a list of texts (a text would be
        read as its letters, a mapping as its keys).
    """
    tags = contact.get("tags")
    if tags is None:
        return set()
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise _unreadable(contact, f"with tags that are not a list of texts (a {type(tags).__name__})")
    return {tag.lower() for tag in tags}


def _unreadable(contact: Contact, what: str) -> CallbellInvalidResponseError:
    return CallbellInvalidResponseError(f"Callbell listed the contact {contact.get('uuid')} {what}")


@dataclass(frozen=True)
class ContactSelection:
    """Which contacts to keep and which of their keys.

    :param tags: contacts carrying these tags (case-insensitive); empty keeps every contact.
    :param tags_match: ``any`` keeps contacts carrying at least one of ``tags``, ``all`` only
        those carrying every one.
    :param created_after: keep contacts created at or after this moment.
    :param created_before: keep contacts created strictly before this moment.
    :param fields: keep only these keys of each contact (missing ones become ``None``).
    :param max_contacts: stop after this many contacts.
    """

    tags: tuple[str, ...] = ()
    tags_match: TagsMatch = "any"
    created_after: datetime | None = None
    created_before: datetime | None = None
    fields: tuple[str, ...] | None = None
    max_contacts: int | None = None

    @classmethod
    def of(
        cls,
        *,
        tags: TagsArg = None,
        tags_match: str = "any",
        created_after: Any = None,
        created_before: Any = None,
        fields: str | Iterable[str] | None = None,
        max_contacts: Any = None,
    ) -> ContactSelection:
        """Validate user input; raise ``ValueError`` naming the argument and what it accepts."""
        after = parse_moment(created_after, "created_after")
        before = parse_moment(created_before, "created_before")
        if after and before and after >= before:
            raise ValueError(
                f"created_after ({after.isoformat()}) must be before created_before ({before.isoformat()}): "
                "the window runs from the first, included, to the second, excluded"
            )
        return cls(
            tags=tuple(tag.lower() for tag in parse_tags(tags)),
            tags_match=cast("TagsMatch", choice(tags_match, "tags_match", TAGS_MATCH_VALUES)),
            created_after=after,
            created_before=before,
            fields=parse_fields(fields),
            max_contacts=optional_whole_number(max_contacts, "max_contacts"),
        )

    def matches(self, contact: Contact) -> bool:
        """Whether the contact passes the tag filter and the creation window."""
        if self.tags:
            carried = tags_of(contact)
            wanted = set(self.tags)
            if not (wanted <= carried if self.tags_match == "all" else wanted & carried):
                return False
        if self.created_after is None and self.created_before is None:
            return True
        created = created_at(contact)
        return (self.created_after is None or created >= self.created_after) and (
            self.created_before is None or created < self.created_before
        )

    def project(self, contact: Contact) -> Contact:
        """The contact reduced to :attr:`fields`, in their order."""
        if self.fields is None:
            return contact
        return {field: contact.get(field) for field in self.fields}

    def apply(self, contacts: Iterable[Contact]) -> Iterator[Contact]:
        """The selected, projected contacts, lazily, stopping at :attr:`max_contacts`."""
        selected = (self.project(contact) for contact in contacts if self.matches(contact))
        return itertools.islice(selected, self.max_contacts)

"""Client-side selection of contacts: what Callbell's own filters cannot say.

Callbell does not document whether several tags mean *any* or *all*, has no creation-date
filter and no projection, so these are applied to each contact as it streams by.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_callbell.api.filters import TagsArg, parse_tags

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

Contact = dict[str, Any]
TagsMatch = Literal["any", "all"]
TAGS_MATCH_VALUES: tuple[TagsMatch, ...] = ("any", "all")


def parse_moment(value: Any, argument: str) -> datetime | None:
    """A timezone-aware datetime from a datetime or an ISO 8601 string; naive means UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        import pendulum

        try:
            value = pendulum.parse(value)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{argument} must be a datetime or an ISO 8601 string, got {value!r}") from error
    if not isinstance(value, datetime):
        raise ValueError(f"{argument} must be a datetime or an ISO 8601 string, got {value!r}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_fields(fields: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """The projection: a list of contact keys or a comma-separated string; ``None`` keeps all."""
    if fields is None:
        return None
    parsed = parse_tags(fields, argument="fields")
    if not parsed:
        raise ValueError("fields must name at least one contact key, e.g. ['uuid', 'name'], or be None")
    return tuple(dict.fromkeys(parsed))


def parse_positive(value: Any, argument: str) -> int | None:
    """A whole number >= 1 (templated values arrive as strings), or ``None``."""
    if value is None or value == "":
        return None
    try:
        number = int(value) if not isinstance(value, bool | float) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number < 1:
        raise ValueError(f"{argument} must be a whole number >= 1 or None, got {value!r}")
    return number


def created_at(contact: Contact) -> datetime | None:
    """When the contact was created, from its ``createdAt``; ``None`` when absent or unreadable."""
    stamp = contact.get("createdAt")
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
        if tags_match not in TAGS_MATCH_VALUES:
            raise ValueError(f"tags_match must be 'any' or 'all', got {tags_match!r}")
        after = parse_moment(created_after, "created_after")
        before = parse_moment(created_before, "created_before")
        if after and before and after > before:
            raise ValueError(
                f"created_after ({after.isoformat()}) must not be after created_before ({before.isoformat()})"
            )
        return cls(
            tags=tuple(tag.lower() for tag in parse_tags(tags)),
            tags_match=tags_match,
            created_after=after,
            created_before=before,
            fields=parse_fields(fields),
            max_contacts=parse_positive(max_contacts, "max_contacts"),
        )

    def matches(self, contact: Contact) -> bool:
        """Whether the contact passes the tag filter and the creation window."""
        if self.tags:
            carried = {tag.lower() for tag in contact.get("tags") or () if isinstance(tag, str)}
            wanted = set(self.tags)
            if not (wanted <= carried if self.tags_match == "all" else wanted & carried):
                return False
        if self.created_after is None and self.created_before is None:
            return True
        created = created_at(contact)
        if created is None:
            return False
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

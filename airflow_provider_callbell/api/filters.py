"""Validation of the contact filters the Callbell API understands."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from airflow_provider_callbell.arguments import channel_type, flag, optional_identifier, string_list

TagsArg = str | Iterable[str] | None


def parse_tags(tags: TagsArg, *, argument: str = "tags", optional: bool = True) -> tuple[str, ...]:
    """The tags given as a list, a comma-separated string or a rendered list; ``None`` is none.

    Surrounding white space is stripped; case is kept, since Callbell matches tags
    case-insensitively anyway, and so ``VIP`` and ``vip`` are one tag (the first spelling kept).
    """
    if tags is None:
        return ()
    spellings: dict[str, str] = {}
    for tag in string_list(tags, argument, example="['lead', 'vip']", optional=optional):
        spellings.setdefault(tag.lower(), tag)
    return tuple(spellings.values())


@dataclass(frozen=True)
class ContactFilters:
    """The server-side filters of ``GET /contacts``.

    :param source: integration type, e.g. ``whatsapp``, ``instagram``, ``facebook``, ``telegram``,
        in lowercase as Callbell names them (``WhatsApp`` is refused, not matched or not).
    :param tags: contacts carrying these tags (Callbell matches them case-insensitively).
    :param team_uuid: only contacts of this team inbox.
    :param include_field_types: add ``customFieldsMetadata`` to each contact.
    """

    source: str | None = None
    tags: tuple[str, ...] = ()
    team_uuid: str | None = None
    include_field_types: bool = False

    def __post_init__(self) -> None:
        """Checked however built: what ``ContactFilters(tags="lead")`` holds is sent as it is."""
        checked = {
            "source": None if self.source is None else channel_type(self.source, "source"),
            "tags": () if self.tags == () else parse_tags(self.tags),  # () is the default: no filter
            "team_uuid": optional_identifier(self.team_uuid, "team_uuid"),
            "include_field_types": flag(self.include_field_types, "include_field_types"),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def of(
        cls,
        *,
        source: str | None = None,
        tags: TagsArg = None,
        team_uuid: str | None = None,
        include_field_types: bool = False,
    ) -> ContactFilters:
        """Validate user input; raise ``ValueError`` naming the bad argument."""
        return cls(
            source=source,
            tags=parse_tags(tags),
            team_uuid=team_uuid,
            include_field_types=include_field_types,
        )

    @classmethod
    def given(
        cls,
        filters: ContactFilters | None,
        *,
        source: str | None = None,
        tags: TagsArg = None,
        team_uuid: str | None = None,
        include_field_types: bool = False,
    ) -> ContactFilters:
        """``filters`` when given, else the filters the keyword arguments describe; not both."""
        if filters is None:
            return cls.of(
                source=source, tags=tags, team_uuid=team_uuid, include_field_types=include_field_types
            )
        if not isinstance(filters, ContactFilters):
            raise ValueError(f"filters must be a ContactFilters, got {type(filters).__name__}")
        if (source, tags, team_uuid, include_field_types) != (None, None, None, False):
            raise ValueError("give the filters either as a ContactFilters or as keyword arguments, not both")
        return filters

    def query_params(self) -> dict[str, str]:
        """The filters as ``GET /contacts`` query parameters."""
        params: dict[str, str] = {}
        if self.source:
            params["source"] = self.source
        if self.tags:
            params["tags"] = ",".join(self.tags)
        if self.team_uuid:
            params["team_uuid"] = self.team_uuid
        if self.include_field_types:
            params["include_field_types"] = "true"
        return params

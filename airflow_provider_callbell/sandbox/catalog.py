"""The fixed vocabulary of the sandbox account: sources, teams, channels, templates, fields."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_callbell.sandbox.templates import TEMPLATES

if TYPE_CHECKING:
    from collections.abc import Mapping

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

#: Contact sources with their relative weight in seeded data.
SOURCES: tuple[tuple[str, int], ...] = (
    ("whatsapp", 50),
    ("instagram", 14),
    ("facebook", 12),
    ("telegram", 8),
    ("web_chat", 8),
    ("sms", 5),
    ("email", 3),
)


@dataclass(frozen=True, slots=True)
class FieldType:
    """The declared type of a custom field, as ``customFieldsMetadata`` shows it."""

    type: str
    options: tuple[str, ...] | None = None


PLAN_OPTIONS = ("Free", "Pro", "Enterprise")
INTEREST_OPTIONS = ("shoes", "bags", "accessories", "sale", "new arrivals")

#: Custom fields of the account; fields not listed here are reported as text.
FIELD_TYPES: Mapping[str, FieldType] = {
    "Address": FieldType("text"),
    "Email": FieldType("email"),
    "Orders": FieldType("number"),
    "Birthday": FieldType("date"),
    "Plan": FieldType("dropdown", PLAN_OPTIONS),
    "Interests": FieldType("checkbox", INTEREST_OPTIONS),
    "VAT": FieldType("text"),
    "Notes, internal": FieldType("text"),
}

_TEAMS = (
    ("General", True, 12, "2018-03-01T09:00:00Z"),
    ("Sales", False, 5, "2018-06-12T14:30:00Z"),
    ("Customer Care", False, 8, "2019-01-07T08:15:00Z"),
    ("Équipe Paris", False, 3, "2020-09-21T10:45:00Z"),
)
_SECONDARY_CHANNEL_SOURCES = frozenset({"whatsapp"})


def seeded_random(purpose: str, seed: int) -> random.Random:
    """A random stream for one ``purpose``, reproducible for ``seed``.

    Separate streams keep, say, the fault sequence independent of how many
    contacts were generated.
    """
    return random.Random(f"{purpose}-{seed}")  # noqa: S311 - test data, not secrets


def random_hex_uuid(rng: random.Random) -> str:
    """Return a Callbell-style id: 32 lowercase hex characters drawn from ``rng``."""
    return f"{rng.getrandbits(128):032x}"


@dataclass(frozen=True)
class Catalog:
    """Teams, channels and templates of the account; their uuids are stable for a seed."""

    teams: tuple[Mapping[str, Any], ...]
    channels: Mapping[str, tuple[Mapping[str, Any], ...]]
    templates: tuple[Mapping[str, Any], ...]

    @classmethod
    def for_seed(cls, seed: int) -> Catalog:
        """Build the catalog of the account seeded with ``seed``."""
        rng = seeded_random("catalog", seed)
        teams = tuple(
            {
                "uuid": random_hex_uuid(rng),
                "name": name,
                "default": default,
                "members": members,
                "createdAt": created_at,
            }
            for name, default, members, created_at in _TEAMS
        )
        channels = {
            source: tuple(
                {"uuid": random_hex_uuid(rng), "main": index == 0}
                for index in range(2 if source in _SECONDARY_CHANNEL_SOURCES else 1)
            )
            for source, _ in SOURCES
        }
        return cls(teams=teams, channels=channels, templates=_templates(seed))

    @property
    def default_team(self) -> dict[str, Any]:
        """A copy of the team new contacts land in."""
        return next(dict(team) for team in self.teams if team["default"])

    def team(self, uuid: str) -> dict[str, Any] | None:
        """A copy of the team with ``uuid``, or None."""
        return next((dict(t) for t in self.teams if t["uuid"] == uuid), None)

    def channel(self, uuid: str) -> dict[str, Any] | None:
        """A copy of the channel with ``uuid``, or None."""
        for channels in self.channels.values():
            for channel in channels:
                if channel["uuid"] == uuid:
                    return dict(channel)
        return None

    def template(self, uuid: str) -> dict[str, Any] | None:
        """A copy of the template with ``uuid``, or None."""
        return next((dict(t) for t in self.templates if t["uuid"] == uuid), None)

    def main_channel(self, source: str) -> dict[str, Any] | None:
        """A copy of the main channel of ``source``, or None for unknown sources."""
        channels = self.channels.get(source.lower(), ())
        return dict(channels[0]) if channels else None


def _templates(seed: int) -> tuple[Mapping[str, Any], ...]:
    """The account's templates: fixed texts, uuids drawn from a stream of their own."""
    rng = seeded_random("templates", seed)
    return tuple(
        {
            "uuid": random_hex_uuid(rng),
            "name": name,
            "status": status,
            "category": category,
            "language": language,
            "text": text,
        }
        for name, status, category, language, text in TEMPLATES
    )


def field_types_metadata(custom_fields: Mapping[str, Any]) -> dict[str, Any]:
    """Build ``customFieldsMetadata`` for the given ``customFields`` values."""
    metadata: dict[str, Any] = {}
    for name, value in custom_fields.items():
        field_type = FIELD_TYPES.get(name, FieldType("text"))
        entry: dict[str, Any] = {"value": value, "type": field_type.type}
        if field_type.options is not None:
            entry["options"] = list(field_type.options)
        metadata[name] = entry
    return metadata

"""Deterministic, realistic contacts, cheap enough to generate by the million.

Every value that is not unique per contact comes from a small pool built once
and JSON-encoded once; a contact's body is then joined from those fragments.
One ``random.Random`` stream drives the generation, so for a given seed the
first ``n`` contacts are the same whatever the total count.
"""

from __future__ import annotations

import bisect
import calendar
import itertools
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_callbell.sandbox.catalog import (
    INTEREST_OPTIONS,
    ISO_FORMAT,
    PLAN_OPTIONS,
    SOURCES,
    Catalog,
    random_hex_uuid,
    seeded_random,
)
from airflow_provider_callbell.sandbox.records import ContactRecord

if TYPE_CHECKING:
    import random
    from collections.abc import Callable, Iterator, Mapping, Sequence

DASHBOARD_URL = "https://dashboard.callbell.eu"

_T = TypeVar("_T")

_CREATED_FROM = calendar.timegm((2019, 1, 1, 0, 0, 0))
_CREATED_SPAN = calendar.timegm((2026, 1, 1, 0, 0, 0)) - _CREATED_FROM
_DAY = 86_400
_OMIT_RATE = 0.03
_NATIONAL_NUMBERS = 10**9
# 3**18 is coprime with 10**9, so index -> (index * it + offset) % 10**9 is a
# bijection: national numbers, hence phone numbers, never repeat.
_PHONE_MULTIPLIER = 3**18

_COUNTRIES = (
    ("+39", "IT"),
    ("+34", "ES"),
    ("+49", "DE"),
    ("+44", "GB"),
    ("+1", "US"),
    ("+48", "PL"),
    ("+33", "FR"),
    ("+81", "JP"),
    ("+7", "RU"),
    ("+84", "VN"),
    ("+55", "BR"),
    ("+353", "IE"),
)
_GIVEN_THEN_FAMILY = (
    (("José", "María", "Lucía", "Álvaro", "Íñigo"), ("Álvarez", "García", "Núñez")),
    (("Zoë", "Jürgen", "Björn", "Anneliese"), ("Müller", "Schröder", "Groß")),
    (("Łukasz", "Agnieszka", "Paweł", "Zofia"), ("Brzęczyszczykiewicz", "Wójcik")),
    (("Giulia", "Marco", "Niccolò", "Chiara"), ("Rossi", "D'Angelo", "Esposito")),
    (("Chloé", "François", "Hélène", "Gaël"), ("Lefèvre", "Dubois", "Bérard")),
    (("João", "Conceição", "Gonçalo"), ("Gonçalves", "Araújo", "Magalhães")),
    (("Emma", "Noah", "Olivia", "James"), ("Smith", "Johnson", "O'Connor-Smith")),
)
_FAMILY_THEN_GIVEN = (
    (("山田", "佐藤", "鈴木"), ("太郎", "花子", "健"), " "),
    (("Nguyễn", "Trần", "Lê"), ("Văn An", "Thị Mai", "Minh Đức"), " "),
    (("王", "李", "张"), ("伟", "芳", "娜"), ""),
)
_WHOLE_NAMES = (
    "José Álvarez",
    "Zoë Müller",
    "Łukasz Brzęczyszczykiewicz",
    "山田 太郎",
    "Ольга Смирнова",
    "Иван Петров",
    "Nguyễn Văn An",
    "O'Brien, Siobhán",
    "Seán Ó Súilleabháin",
    "محمد العلي",
    "Αλέξανδρος Παπαδόπουλος",
    "Anna 🌸",
    'Luca "Lucky" Ferri',
)
_TAGS = (
    "lead",
    "Lead",
    "VIP",
    "customer",
    "sales",
    "Support",
    "newsletter",
    "prospect",
    "churned",
    "Black Friday 2024",
    "événement",
)
_AGENTS = (
    "giulia.rossi@example.com",
    "marco.bianchi@example.com",
    "ana.lopez@example.com",
    "tom.becker@example.com",
    "support+night@example.com",
)
_NOTES = (
    "Prefers to be contacted after 6pm.",
    "Cliente storico — chiede sempre lo sconto del 10%.",
    'Wants "express" shipping, then changes their mind.\nCall before delivery.',
    "日本語での対応を希望。",
    "Ordered twice, returned once.\tFollow up in Q3.",
    "",
    ("Long note: " + "Lorem ipsum dolor sit amet, consectetur adipiscing. " * 20)[:1000],
)
_ADDRESSES = (
    'Via Roma 1, "Scala B"\nMilano',
    "Calle de Alcalá 42, 3º izq., Madrid",
    "Oxford Street 123",
    "Königstraße 5, 70173 Stuttgart",
    "東京都千代田区1-1",
    "ul. Świętokrzyska 12/4, Warszawa",
)
_FUNNEL_IDS = ("1", "2", "3", "4", "5", "6")
_TEAM_WEIGHTS = (40, 25, 25, 10)
_TAG_COUNT_WEIGHTS = (25, 40, 25, 10)
_TAG_SET_POOL = 300
_CUSTOM_FIELDS_POOL = 500


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _iso(timestamp: int) -> str:
    return time.strftime(ISO_FORMAT, time.gmtime(timestamp))


def _all_names() -> tuple[str, ...]:
    western = (
        f"{given} {family}"
        for givens, families in _GIVEN_THEN_FAMILY
        for given, family in itertools.product(givens, families)
    )
    eastern = (
        f"{family}{separator}{given}"
        for families, givens, separator in _FAMILY_THEN_GIVEN
        for family, given in itertools.product(families, givens)
    )
    return (*western, *eastern, *_WHOLE_NAMES)


@dataclass(frozen=True, slots=True)
class _Weighted:
    """Items with cumulative weights, picked with one uniform draw."""

    items: tuple[Any, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def of(cls, items: Sequence[Any], weights: Sequence[float]) -> _Weighted:
        total = sum(weights)
        cumulative = tuple(itertools.accumulate(w / total for w in weights))
        return cls(tuple(items), cumulative)

    def pick(self, draw: float) -> Any:
        index = bisect.bisect_right(self.cumulative, draw)
        return self.items[min(index, len(self.items) - 1)]


@dataclass(frozen=True, slots=True)
class _Pools:
    """Pre-encoded JSON fragments the contacts are assembled from."""

    names: tuple[str, ...]
    tag_sets: tuple[tuple[str, frozenset[str]], ...]
    custom_fields: tuple[str, ...]
    notes: tuple[str, ...]
    agents: tuple[str, ...]
    sources: _Weighted
    teams: _Weighted
    channels: Mapping[str, tuple[tuple[str, str], ...]]
    phone_offset: int

    @classmethod
    def build(cls, rng: random.Random, catalog: Catalog, seed: int) -> _Pools:
        return cls(
            names=tuple(_json(name) for name in _all_names()),
            tag_sets=tuple(_tag_set(rng) for _ in range(_TAG_SET_POOL)),
            custom_fields=tuple(_json(_custom_fields(rng)) for _ in range(_CUSTOM_FIELDS_POOL)),
            notes=tuple(_json(note) for note in _NOTES),
            agents=tuple(_json(agent) for agent in _AGENTS),
            sources=_Weighted.of(*zip(*SOURCES, strict=True)),
            teams=_Weighted.of([(team["uuid"], _json(team)) for team in catalog.teams], _TEAM_WEIGHTS),
            channels={
                source: tuple((ch["uuid"], _json(ch)) for ch in channels)
                for source, channels in catalog.channels.items()
            },
            phone_offset=phone_offset(seed),
        )


def _tag_set(rng: random.Random) -> tuple[str, frozenset[str]]:
    count = rng.choices(range(4), weights=_TAG_COUNT_WEIGHTS)[0]
    tags: list[str] = []
    for tag in rng.sample(_TAGS, len(_TAGS)):
        if len(tags) < count and tag.lower() not in {t.lower() for t in tags}:
            tags.append(tag)
    return _json(tags), frozenset(tag.lower() for tag in tags)


def _custom_fields(rng: random.Random) -> dict[str, str]:
    candidates: tuple[tuple[str, float, Callable[[], str]], ...] = (
        ("Address", 0.5, lambda: rng.choice(_ADDRESSES)),
        ("Email", 0.5, lambda: f"{rng.choice(('info', 'me', 'zoë'))}@example.com"),
        ("Orders", 0.4, lambda: str(rng.randint(0, 250))),
        ("Birthday", 0.3, lambda: _birthday(rng)),
        ("Plan", 0.4, lambda: rng.choice(PLAN_OPTIONS)),
        ("Interests", 0.3, lambda: json.dumps(rng.sample(INTEREST_OPTIONS, 2))),
        ("VAT", 0.2, lambda: f"IT{rng.randrange(10**11):011d}"),
        ("Notes, internal", 0.1, lambda: "Called twice, no answer"),
    )
    return {name: value() for name, chance, value in candidates if rng.random() < chance}


def _birthday(rng: random.Random) -> str:
    return f"{rng.randint(1950, 2006)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def phone_offset(seed: int) -> int:
    """The seed-specific offset of the national-number bijection."""
    return seeded_random("phones", seed).randrange(_NATIONAL_NUMBERS)


def national_number(index: int, offset: int) -> str:
    """The 9-digit national number of contact ``index``; unique per index."""
    return f"{(index * _PHONE_MULTIPLIER + offset) % _NATIONAL_NUMBERS:09d}"


def format_phone(prefix: str, national: str, style: float) -> str:
    """Format a phone number in one of the styles people type them in."""
    if style < 0.7:
        return f"{prefix} {national[:3]} {national[3:6]} {national[6:]}"
    if style < 0.9:
        return prefix + national
    return f"{prefix} {national[:3]}-{national[3:6]}-{national[6:]}"


def generate_contacts(count: int, seed: int, catalog: Catalog) -> Iterator[ContactRecord]:
    """Yield ``count`` seeded contact records with ``seq`` 1..count."""
    rng = seeded_random("contacts", seed)
    pools = _Pools.build(rng, catalog, seed)
    for index in range(count):
        yield _seeded_record(rng, pools, index)


def _seeded_record(rng: random.Random, pools: _Pools, index: int) -> ContactRecord:
    draw = rng.random
    uuid = random_hex_uuid(rng)
    source: str = pools.sources.pick(draw())
    prefix, country = _any(_COUNTRIES, draw())
    national = national_number(index, pools.phone_offset)
    phone = format_phone(prefix, national, draw())
    channel_uuid, channel_json = _any(pools.channels[source], draw())
    tags_json, tags = _any(pools.tag_sets, draw())
    team_uuid, team_json = pools.teams.pick(draw())
    # Contacts never saved in the phone's address book go by their number.
    name = f'"{phone}"' if draw() < 0.02 else _any(pools.names, draw())
    fields = [
        f'"uuid":"{uuid}"',
        f'"name":{name}',
        f'"phoneNumber":"{phone}"',
        f'"source":"{source}"',
        f'"href":"{DASHBOARD_URL}/contacts/{uuid}"',
        f'"tags":{tags_json}',
        f'"channel":{channel_json}',
        *_unindexed_fields(rng, pools, uuid),
    ]
    if draw() < _OMIT_RATE:
        team_uuid = None
    else:
        fields.append(f'"team":{team_json}')
    bsuid = f"{country}.{rng.getrandbits(60)}" if source == "whatsapp" and draw() < 0.35 else None
    if bsuid:
        fields.append(f'"bsuid":"{bsuid}"')
    return ContactRecord(
        seq=index + 1,
        uuid=uuid,
        body=("{" + ",".join(fields) + "}").encode(),
        source=source,
        tags=tags,
        team_uuid=team_uuid,
        channel_uuid=channel_uuid,
        phone_key=prefix[1:] + national,
        bsuid=bsuid,
    )


def _unindexed_fields(rng: random.Random, pools: _Pools, uuid: str) -> list[str]:
    """JSON fragments of the fields no query looks at; optional ones may be left out."""
    draw = rng.random
    created = _CREATED_FROM + int(draw() * _CREATED_SPAN)
    fields = [
        f'"createdAt":"{_iso(created)}"',
        f'"assignedUser":{_maybe(pools.agents, draw(), 0.55)}',
        f'"customFields":{_any(pools.custom_fields, draw())}',
    ]
    optional = (
        f'"avatarUrl":{_avatar_url(uuid, draw())}',
        f'"conversationHref":"{DASHBOARD_URL}/chat/{uuid}"',
        f'"closedAt":{_later(created, draw(), 0.3, 400)}',
        f'"blockedAt":{_later(created, draw(), 0.02, 900)}',
        f'"funnelId":{_maybe(_FUNNEL_IDS, draw(), 0.4)}',
        f'"note":{_maybe(pools.notes, draw(), 0.4)}',
    )
    fields.extend(fragment for fragment in optional if draw() >= _OMIT_RATE)
    return fields


def _any(items: Sequence[_T], draw: float) -> _T:
    """The item a uniform ``draw`` in [0, 1) lands on; cheaper than ``Random.choice``."""
    return items[min(int(draw * len(items)), len(items) - 1)]


def _maybe(items: Sequence[str], draw: float, chance: float) -> str:
    """One of the JSON ``items`` with probability ``chance``, else JSON null."""
    return _any(items, draw / chance) if draw < chance else "null"


def _avatar_url(uuid: str, draw: float) -> str:
    return "null" if draw < 0.4 else f'"https://cdn.callbell.eu/avatars/{uuid}.jpg"'


def _later(timestamp: int, draw: float, chance: float, max_days: int) -> str:
    """JSON for an ISO time up to ``max_days`` after ``timestamp`` (``chance``)."""
    if draw >= chance:
        return "null"
    return f'"{_iso(timestamp + int(draw / chance * max_days * _DAY))}"'


def new_contact(
    catalog: Catalog,
    fields: Mapping[str, Any],
    *,
    uuid: str,
    phone_number: str,
    created_at: str,
) -> dict[str, Any]:
    """Build a contact as Callbell creates it, then apply ``fields`` over it."""
    source = str(fields.get("source") or "whatsapp")
    contact: dict[str, Any] = {
        "uuid": uuid,
        "name": "",
        "phoneNumber": phone_number,
        "avatarUrl": None,
        "createdAt": created_at,
        "source": source,
        "closedAt": None,
        "href": f"{DASHBOARD_URL}/contacts/{uuid}",
        "conversationHref": f"{DASHBOARD_URL}/chat/{uuid}",
        "tags": [],
        "assignedUser": None,
        "customFields": {},
        "blockedAt": None,
        "funnelId": None,
        "team": catalog.default_team,
        "channel": catalog.main_channel(source),
        "note": None,
    }
    contact.update(fields)
    return contact

"""Every knob of the sandbox, validated in one place."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_callbell.api.filters import parse_tags
from airflow_provider_callbell.connection import MAX_TOKEN_LENGTH, MIN_TOKEN_LENGTH, token_problem

DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 - public, like moto's fake keys

PAGINATION_MODES = frozenset({"pages", "meta", "cursor"})
TAGS_SEMANTICS = frozenset({"any", "all"})
RETRY_AFTER_FORMATS = frozenset({"seconds", "http-date", "none"})
FAULT_RATES = ("error_rate", "throttle_rate", "drop_rate", "truncate_rate", "lost_reply_rate")
CURSOR_SEMANTICS = frozenset({"keyset", "snapshot"})
#: What can happen to the account while it is live; see ``events.py``.
EVENT_KINDS = ("message", "create", "delete", "tag_add", "tag_remove")
TAG_EVENT_KINDS = frozenset({"tag_add", "tag_remove"})
MAX_CONTACTS = 10_000_000


def _check_int(name: str, value: object, *, minimum: int | None, maximum: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum:,}, got {value!r}")


def _check_number(name: str, value: object, *, positive: bool, maximum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0) or value > maximum:
        bound = ("> 0" if positive else ">= 0") + (f" and <= {maximum:,g}" if math.isfinite(maximum) else "")
        raise ValueError(f"{name} must be {bound}, got {value!r}")


def _check_probability(name: str, value: object) -> None:
    _check_number(name, value, positive=False, maximum=math.inf)
    if isinstance(value, int | float) and value > 1:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")


def _check_choice(name: str, value: object, choices: frozenset[str]) -> None:
    if value not in choices:
        expected = ", ".join(sorted(choices))
        raise ValueError(f"{name} must be one of {expected}, got {value!r}")


class EventMix(Mapping[str, float]):
    """The relative weight of every event kind; immutable and hashable.

    Built from any mapping of kinds to weights: kinds left out weigh 0, and
    the kinds always iterate in :data:`EVENT_KINDS` order.
    """

    __slots__ = ("_weights",)

    def __init__(self, weights: Mapping[str, float]) -> None:
        """Validate ``weights``.

        Raises:
            ValueError: an unknown kind, a negative or non-finite weight, or no
                positive weight at all.
        """
        unknown = sorted(repr(kind) for kind in set(weights) - set(EVENT_KINDS))
        if unknown:
            expected = ", ".join(EVENT_KINDS)
            raise ValueError(f"event_mix kinds must be among {expected}, got {', '.join(unknown)}")
        for kind, weight in weights.items():
            _check_number(f"event_mix weight of {kind}", weight, positive=False, maximum=math.inf)
        if not any(weights.values()):
            raise ValueError("event_mix needs at least one positive weight")
        self._weights = tuple((kind, float(weights.get(kind, 0))) for kind in EVENT_KINDS)

    def __getitem__(self, kind: str) -> float:
        for name, weight in self._weights:
            if name == kind:
                return weight
        raise KeyError(kind)

    def __iter__(self) -> Iterator[str]:
        return iter(EVENT_KINDS)

    def __len__(self) -> int:
        return len(EVENT_KINDS)

    def __hash__(self) -> int:
        return hash(self._weights)

    def __repr__(self) -> str:
        return f"EventMix({dict(self._weights)!r})"


DEFAULT_EVENT_MIX = EventMix(
    {"message": 0.7, "create": 0.1, "delete": 0.05, "tag_add": 0.1, "tag_remove": 0.05}
)


@dataclass(frozen=True, kw_only=True)
class SandboxSettings:
    """How the sandbox behaves; immutable, change it with :meth:`replace`.

    ``contacts`` and ``seed`` shape the seeded data, ``contact_capacity``
    and ``message_capacity`` bound what the account can grow to (contacts
    past the first are refused, the oldest messages past the second
    forgotten); everything else can be changed while the sandbox runs (see
    ``CallbellSandbox.configure``).
    The five fault rates are probabilities of disjoint outcomes of one draw,
    so their sum must not exceed 1. Faults hit the requests under
    ``/contacts`` and ``/messages``; truncation spoils only the answers to
    reads, and a lost reply only those to writes: the write is applied, then
    the connection is dropped after ``lost_reply_delay`` seconds, unanswered.

    A sent message moves one status on (``enqueued``, ``sent``,
    ``delivered``, ``read``) every ``message_status_interval`` seconds; with
    probability ``message_failure_rate`` it is fated to fail instead.

    With ``events_per_second`` above 0 the account is live: events drawn from
    ``event_mix`` (any mapping of kinds to weights) move, create, delete and
    tag contacts while the sandbox runs. ``tag_message_rate`` is the chance
    that a tag change comes with a message, which moves the contact to the
    top. ``event_seed`` (``seed`` when None) makes the sequence of events
    reproducible; setting it through ``configure`` restarts that sequence.
    ``cursor_semantics`` decides what a cursor walk sees of those changes;
    it applies to walks that begin after it is set.
    """

    contacts: int = 100
    seed: int = 0
    contact_capacity: int = 1_000_000
    message_capacity: int = 100_000
    token: str = dataclasses.field(default=DEFAULT_TOKEN, repr=False)
    page_size: int = 20
    page_cap: int | None = 500
    pagination: str = "cursor"
    tags_semantics: str = "any"
    rate_limit: float | None = 300
    retry_after_format: str = "seconds"
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    lost_reply_rate: float = 0.0
    lost_reply_delay: float = 0.0
    latency: float = 0.0
    latency_jitter: float = 0.0
    max_faults_per_request: int = 2
    cursor_semantics: str = "keyset"
    events_per_second: float = 0.0
    event_mix: Mapping[str, float] = DEFAULT_EVENT_MIX
    tag_message_rate: float = 0.5
    event_tags: tuple[str, ...] = ("lead",)
    event_seed: int | None = None
    message_status_interval: float = 0.2
    message_failure_rate: float = 0.0

    def __post_init__(self) -> None:
        _check_int("contact_capacity", self.contact_capacity, minimum=0, maximum=MAX_CONTACTS)
        _check_int("contacts", self.contacts, minimum=0, maximum=MAX_CONTACTS)
        if self.contacts > self.contact_capacity:
            raise ValueError(
                f"contacts must be <= contact_capacity ({self.contact_capacity:,}), got {self.contacts:,}: "
                "raise contact_capacity to seed more"
            )
        _check_int("message_capacity", self.message_capacity, minimum=1, maximum=MAX_CONTACTS)
        _check_int("seed", self.seed, minimum=None)
        if not isinstance(self.token, str) or token_problem(self.token) is not None:
            raise ValueError(
                f"token must be {MIN_TOKEN_LENGTH} to {MAX_TOKEN_LENGTH} printable ASCII characters "
                "without spaces nor wrapping quotes, as a client can send it (the hooks refuse any other)"
            )
        _check_int("page_size", self.page_size, minimum=1, maximum=10_000)
        if self.page_cap is not None:
            try:
                _check_int("page_cap", self.page_cap, minimum=1)
            except ValueError as error:
                raise ValueError(f"{error}; or None for no cap (0 on the command line)") from None
        _check_choice("pagination", self.pagination, PAGINATION_MODES)
        _check_choice("tags_semantics", self.tags_semantics, TAGS_SEMANTICS)
        if self.rate_limit is not None:
            # Its 429s say Retry-After: 1, true only from one request a second up.
            _check_number("rate_limit", self.rate_limit, positive=True, maximum=1_000_000)
            if self.rate_limit < 1:
                raise ValueError(
                    f"rate_limit must be >= 1 request a second, or None (0 on the command line), "
                    f"got {self.rate_limit!r}"
                )
        _check_choice("retry_after_format", self.retry_after_format, RETRY_AFTER_FORMATS)
        self._check_fault_rates()
        _check_number("lost_reply_delay", self.lost_reply_delay, positive=False, maximum=60)
        _check_number("latency", self.latency, positive=False, maximum=60)
        _check_number("latency_jitter", self.latency_jitter, positive=False, maximum=60)
        _check_int("max_faults_per_request", self.max_faults_per_request, minimum=0, maximum=1000)
        _check_choice("cursor_semantics", self.cursor_semantics, CURSOR_SEMANTICS)
        self._check_events()
        _check_number("message_status_interval", self.message_status_interval, positive=True, maximum=3600)
        _check_probability("message_failure_rate", self.message_failure_rate)

    @property
    def resolved_event_seed(self) -> int:
        """The seed of the event sequence: ``event_seed``, else ``seed``."""
        return self.seed if self.event_seed is None else self.event_seed

    def replace(self, **changes: Any) -> SandboxSettings:
        """Return a validated copy with ``changes`` applied.

        Raises:
            ValueError: an unknown setting name or an invalid value.
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown sandbox setting(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def _check_events(self) -> None:
        _check_number("events_per_second", self.events_per_second, positive=False, maximum=100_000)
        if not isinstance(self.event_mix, EventMix):
            if not isinstance(self.event_mix, Mapping):
                raise ValueError(f"event_mix must be a mapping of kinds to weights, got {self.event_mix!r}")
            object.__setattr__(self, "event_mix", EventMix(self.event_mix))
        _check_probability("tag_message_rate", self.tag_message_rate)
        _check_tags(self.event_tags)
        if not self.event_tags and any(self.event_mix[kind] for kind in TAG_EVENT_KINDS):
            raise ValueError("event_tags must not be empty while tag_add or tag_remove have a weight")
        if self.event_seed is not None:
            _check_int("event_seed", self.event_seed, minimum=None)

    def _check_fault_rates(self) -> None:
        for name in FAULT_RATES:
            _check_probability(name, getattr(self, name))
        if sum(getattr(self, name) for name in FAULT_RATES) > 1:
            raise ValueError(f"the sum of {', '.join(FAULT_RATES)} must not exceed 1")


def _check_tags(tags: object) -> None:
    """Check that ``tags`` is a tuple of distinct tags the ``tags`` filter can name, by its rule."""
    if not isinstance(tags, tuple):
        raise ValueError(f"event_tags must be a tuple of tags, got {tags!r}")
    if tags and parse_tags(tags, argument="event_tags", optional=False) != tags:
        raise ValueError(
            f"event_tags must not repeat a tag (case is ignored) nor have spaces around one, got {tags!r}"
        )

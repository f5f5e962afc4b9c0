"""Every knob of the sandbox, validated in one place."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 - public, like moto's fake keys

PAGINATION_MODES = frozenset({"pages", "meta", "cursor"})
TAGS_SEMANTICS = frozenset({"any", "all"})
RETRY_AFTER_FORMATS = frozenset({"seconds", "http-date", "none"})
FAULT_RATES = ("error_rate", "throttle_rate", "drop_rate", "truncate_rate")


@dataclass(frozen=True, kw_only=True)
class SandboxSettings:
    """How the sandbox behaves; immutable, change it with :meth:`replace`.

    ``contacts`` and ``seed`` shape the seeded data; everything else can be
    changed while the sandbox runs (see ``CallbellSandbox.configure``).
    The four fault rates are probabilities of disjoint outcomes of one draw,
    so their sum must not exceed 1.
    """

    contacts: int = 100
    seed: int = 0
    token: str = DEFAULT_TOKEN
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
    latency: float = 0.0
    latency_jitter: float = 0.0
    max_faults_per_request: int = 2

    def __post_init__(self) -> None:
        _check_int("contacts", self.contacts, minimum=0)
        _check_int("seed", self.seed, minimum=None)
        if not isinstance(self.token, str) or not self.token:
            raise ValueError("token must be a non-empty string")
        _check_int("page_size", self.page_size, minimum=1)
        if self.page_cap is not None:
            _check_int("page_cap", self.page_cap, minimum=1)
        _check_choice("pagination", self.pagination, PAGINATION_MODES)
        _check_choice("tags_semantics", self.tags_semantics, TAGS_SEMANTICS)
        if self.rate_limit is not None:
            _check_number("rate_limit", self.rate_limit, positive=True)
        _check_choice("retry_after_format", self.retry_after_format, RETRY_AFTER_FORMATS)
        self._check_fault_rates()
        _check_number("latency", self.latency, positive=False)
        _check_number("latency_jitter", self.latency_jitter, positive=False)
        _check_int("max_faults_per_request", self.max_faults_per_request, minimum=0)

    def replace(self, **changes: Any) -> SandboxSettings:
        """Return a validated copy with ``changes`` applied.

        Raises:
            ValueError: an unknown setting name or an invalid value.
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown sandbox setting(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def _check_fault_rates(self) -> None:
        for name in FAULT_RATES:
            rate = getattr(self, name)
            _check_number(name, rate, positive=False)
            if rate > 1:
                raise ValueError(f"{name} must be between 0 and 1, got {rate!r}")
        if sum(getattr(self, name) for name in FAULT_RATES) > 1:
            raise ValueError(f"the sum of {', '.join(FAULT_RATES)} must not exceed 1")


def _check_int(name: str, value: object, *, minimum: int | None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


def _check_number(name: str, value: object, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be {bound}, got {value!r}")


def _check_choice(name: str, value: object, choices: frozenset[str]) -> None:
    if value not in choices:
        expected = ", ".join(sorted(choices))
        raise ValueError(f"{name} must be one of {expected}, got {value!r}")

"""The bad-input catalogue: every kind of bad value, a clear error naming the argument."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

#: Values no count, duration or rate accepts.
NOT_NUMBERS: list[Any] = [
    math.inf,
    -math.inf,
    math.nan,
    "inf",
    "nan",
    "1e400",
    True,
    False,
    "fast",
    "",
    [],
    {},
    10**20,
    1e308,
    -1,
    "\uff15",  # a full-width five
    "٣",
    "1_000",
    "5s",
    "3+0j",
    3 + 0j,
    "-0",
]
#: Values no whole number accepts besides those.
NOT_WHOLE: list[Any] = [
    *NOT_NUMBERS,
    0,
    1.5,
    "2.5",
    "0x10",
    "1.0000000000000001",  # a float rounds it to 1
    "999999999.99999999",
    Decimal("2.0000000000000000001"),
    "0e99999999999999999999",  # an exponent beyond what Decimal holds
    "5e-99999999999999999999",
]

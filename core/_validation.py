"""Argument checks that raise ``ValueError`` naming the field, the bad value and what is allowed."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass


def shown(value: object, width: int = 60) -> str:
    """``repr(value)`` for a message: cut when long, and safe for any int.

    (``repr`` of an int over 4300 digits raises ``ValueError`` in Python 3.11+.)
    """
    try:
        text = repr(value)
    except ValueError:
        return f"<an integer of {value.bit_length()} bits>"  # type: ignore[attr-defined]
    return text if len(text) <= width else f"{text[:width - 3]}..."


def check_choice(field: str, value: object, choices: Iterable[str]) -> str:
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{field}={shown(value)} is not one of: {', '.join(choices)}")
    return value


def check_real(
    field: str,
    value: object,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float inside the interval, else raise ``ValueError``."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    allowed = f"a number in {left}{low:g}, {high:g}{right}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{field}={shown(value)} is not a number; expected {allowed}")
    try:
        value = float(value)
    except OverflowError:  # an int (or fraction) beyond any float: out of every finite range
        raise ValueError(f"{field}={shown(value)} is out of range; expected {allowed}") from None
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{field}={value!r} is not finite; expected {allowed}")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        raise ValueError(f"{field}={value:g} is out of range; expected {allowed}")
    return value


def check_int(field: str, value: object, low: int, high: int) -> int:
    """Return ``value`` as an int in ``[low, high]``, else raise ``ValueError``."""
    allowed = f"an integer in [{low}, {high}]"
    whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not whole and isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:  # 3.0 stands for 3; True does not
            whole = float(value).is_integer()
        except OverflowError:
            whole = False
    if not whole:
        raise ValueError(f"{field}={shown(value)} is not an integer; expected {allowed}")
    value = int(value)  # type: ignore[call-overload]
    if not low <= value <= high:
        raise ValueError(f"{field}={shown(value)} is out of range; expected {allowed}")
    return value


@dataclass(frozen=True)
class Interval:
    """An allowed numeric range, as the checks above test it (so tests can read it too)."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def check(self, field: str, value: object) -> float | int:
        """``value`` as a float (an int if ``integer``) inside the range, else ``ValueError``."""
        if self.integer:
            return check_int(field, value, int(self.low), int(self.high))
        return check_real(field, value, self.low, self.high, low_open=self.low_open,
                          high_open=self.high_open)

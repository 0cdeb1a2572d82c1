"""Durations: "500ms", "30s", "5m", "1h", "1d", "1h30m" or a number of seconds, and back.

`parse_duration` reads one as float seconds; `format_duration` writes the canonical form that
check-config prints ("1h30m"), and ``parse_duration(format_duration(x)) == x``. `Duration` is
the pydantic type of a duration field (a number or a string in, the canonical string out) and
`within` bounds one. Every refusal is a `ValueError` naming the value; a value beyond a float
("1e400", 5000 digits) is refused before any arithmetic, never an `OverflowError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from watcher.config.values import kind_of

__all__ = [
    "Duration",
    "DurationTooLargeError",
    "NegativeDurationError",
    "format_duration",
    "parse_duration",
    "within",
]

# Each unit in milliseconds, largest first: the order a compound ("1h30m") must follow.
_UNIT_MILLIS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}
_ORDER = tuple(_UNIT_MILLIS)
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_BARE_NUMBER = re.compile(rf"\s*({_NUMBER})\s*", re.IGNORECASE)
_COMPONENT = re.compile(rf"\s*({_NUMBER})\s*(ms|d|h|m|s)\s*", re.IGNORECASE)  # ms before m
# Longer text is refused unread: no duration needs it, and "9" * 5000 would cost time.
_MAX_TEXT = 400
# Up to here (about 285,000 years) a float counts whole milliseconds exactly.
_MAX_COMPOUND = 2**53 / 1000

_ACCEPTED_FORMS = (
    'a number of seconds or a duration such as "500ms", "30s", "5m", "1h", "1d" or "1h30m"'
)


class NegativeDurationError(ValueError):
    """A duration below zero: a type of its own, so that `within` words the bound instead."""


class DurationTooLargeError(ValueError):
    """A duration too large for float seconds ("1e400"): `within` words the bound instead."""


def parse_duration(value: str | int | float) -> float:
    """Seconds in ``value``: a number of seconds, or "500ms", "30s", "5m", "1h", "1d", "1h30m".

    Units are case-insensitive, whitespace is tolerated, a compound lists its units from the
    largest to the smallest, each once. Raises `ValueError` (`NegativeDurationError` below
    zero, `DurationTooLargeError` beyond a float) naming the value and the accepted forms for
    anything else: empty, nan or inf, an unknown unit, a boolean.
    """
    if isinstance(value, bool):
        raise _invalid(value, "a boolean is not a duration")
    if isinstance(value, float) and not math.isfinite(value):
        raise _invalid(value, "not finite")
    if isinstance(value, int | float):
        if value < 0:
            raise _negative(value)
        try:
            return float(value)
        except OverflowError:  # an int of more than 308 digits
            raise _too_large(value) from None
    if not isinstance(value, str):
        raise _invalid(value, f"{kind_of(value)} is not a duration")
    text = value.strip()
    if not text:
        raise _invalid(value, "empty")
    if len(text) > _MAX_TEXT:
        raise _invalid(value, f"longer than {_MAX_TEXT} characters")
    if text.startswith("-"):
        raise _negative(value)
    millis = sum((_millis(number, unit, value) for number, unit in _components(text, value)), 0)
    seconds = float(Decimal(millis) / 1000)
    if math.isinf(seconds):
        raise _too_large(value)
    return seconds


def _components(text: str, value: str) -> list[tuple[str, str]]:
    """``text`` as (number, unit) pairs: "1h30m" -> [("1", "h"), ("30", "m")]."""
    text = text.removeprefix("+")
    if _BARE_NUMBER.fullmatch(text):
        return [(text.strip(), "s")]
    pairs: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _COMPONENT.match(text, position)
        if match is None:
            raise _invalid(value)
        number, unit = match.group(1), match.group(2).lower()
        if pairs and _ORDER.index(unit) <= _ORDER.index(pairs[-1][1]):
            raise _invalid(value, "units must go from largest to smallest, each at most once")
        pairs.append((number, unit))
        position = match.end()
    return pairs


def _millis(number: str, unit: str, value: str) -> Decimal | int:
    """``number`` of ``unit`` in milliseconds, exactly (decimal arithmetic, so that whole
    milliseconds survive a round trip)."""
    approximate = float(number)  # cheap whatever the exponent: inf or 0.0 at the extremes
    if math.isinf(approximate):
        raise _too_large(value)
    if approximate == 0.0:  # zero, or below what a float holds ("1e-999999999")
        return 0
    return Decimal(number) * _UNIT_MILLIS[unit]


def format_duration(seconds: float) -> str:
    """The canonical form of ``seconds``: "30s", "5m", "1h30m", "1.5s", "500ms", "2d", "0s".

    Whole milliseconds are written in days, hours, minutes and (decimal) seconds, largest
    first, zero parts left out, or in milliseconds below one second; anything else (finer,
    or beyond 285,000 years) as a number of seconds ("0.0001s"), which parses back exactly.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"cannot format {seconds!r} as a duration")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"cannot format {seconds!r} as a duration: must be finite and >= 0")
    millis = round(seconds * 1000) if seconds < _MAX_COMPOUND else -1
    if millis / 1000 != seconds:
        return f"{float(seconds)!r}s"
    if millis < 1000:
        return f"{millis}ms" if millis else "0s"
    parts: list[str] = []
    for unit in ("d", "h", "m"):
        count, millis = divmod(millis, _UNIT_MILLIS[unit])
        if count:
            parts.append(f"{count}{unit}")
    whole, fraction = divmod(millis, 1000)
    if fraction:
        parts.append(f"{whole}.{fraction:03d}".rstrip("0") + "s")
    elif whole:
        parts.append(f"{whole}s")
    return "".join(parts)


def within(minimum: float, maximum: float, *, inclusive: bool = True) -> BeforeValidator:
    """Bound a `Duration`: ``Annotated[Duration, within(0.1, 86_400)]`` is "100ms to 1d".

    The upper bound is inclusive; ``inclusive=False`` refuses the lower one itself ("must be
    greater than 0s"). A negative value is worded as the lower bound and a value beyond a
    float as the upper one, so the user reads the rule rather than the arithmetic.
    """
    return BeforeValidator(_bounded(minimum, maximum, inclusive=inclusive))


def _bounded(minimum: float, maximum: float, *, inclusive: bool) -> Callable[[Any], float]:
    def below(value: object) -> ValueError:
        rule = "at least" if inclusive else "greater than"
        return ValueError(f"must be {rule} {format_duration(minimum)} (got {_shown(value)})")

    def above(value: object) -> ValueError:
        return ValueError(f"must be at most {format_duration(maximum)} (got {_shown(value)})")

    def validate(value: Any) -> float:
        try:
            seconds = parse_duration(value)
        except NegativeDurationError:
            raise below(value) from None
        except DurationTooLargeError:
            raise above(value) from None
        if seconds < minimum or (seconds == minimum and not inclusive):
            raise below(value)
        if seconds > maximum:
            raise above(value)
        return seconds

    return validate


def _shown(value: object) -> str:
    """``repr(value)`` for a message, kept short (a huge int has no repr: Python refuses it)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return "a number of more than 38 digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _invalid(value: object, why: str = "", error: type[ValueError] = ValueError) -> ValueError:
    reason = f" ({why})" if why else ""
    return error(f"invalid duration {_shown(value)}{reason}: expected {_ACCEPTED_FORMS}")


def _negative(value: object) -> ValueError:
    return _invalid(value, "must not be negative", NegativeDurationError)


def _too_large(value: object) -> ValueError:
    return _invalid(value, "too large", DurationTooLargeError)


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
            "description": f"Duration: {_ACCEPTED_FORMS}",
        }
    ),
]
"""Float seconds >= 0, read from a number or a duration string, dumped as "30s"."""

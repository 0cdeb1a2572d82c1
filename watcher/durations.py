"""Durations: parse "500ms", "30s", "5m", "1h30m", "1d" (or a number of seconds), format back.

`parse_duration` and `format_duration` are pure and exact: parsing accumulates in rationals and
rounds once, so ``parse_duration(format_duration(x)) == x`` for every finite ``x >= 0``
(whole milliseconds get the compound form "1h30m", anything finer a decimal number of seconds).

`Duration` and its bounded variants are the pydantic types the settings models use: they hold
float seconds, accept numbers or duration strings, and dump as the formatted string.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = [
    "Duration",
    "NegativeDurationError",
    "PositiveDuration",
    "at_least",
    "format_duration",
    "parse_duration",
]

# Unit -> its length in seconds, exactly. Keys are lower case: input is case-insensitive.
_UNITS: dict[str, Fraction] = {
    "d": Fraction(86_400),
    "h": Fraction(3_600),
    "m": Fraction(60),
    "s": Fraction(1),
    "ms": Fraction(1, 1000),
}
# Largest first; "ms" is tried before "m" by the regex alternation below.
_ORDER = ("d", "h", "m", "s", "ms")

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_COMPONENT = re.compile(rf"\s*({_NUMBER})\s*(ms|d|h|m|s)\s*", re.IGNORECASE)
_BARE_NUMBER = re.compile(rf"\s*({_NUMBER})\s*", re.IGNORECASE)

ACCEPTED_FORMS = (
    'a number of seconds or a duration such as "500ms", "30s", "5m", "1h", "1d" or "1h30m"'
)


class NegativeDurationError(ValueError):
    """A duration below zero: a distinct type so bounded fields can word the error themselves."""


def _invalid(value: object, why: str = "") -> ValueError:
    reason = f" ({why})" if why else ""
    return ValueError(f"invalid duration {value!r}{reason}: expected {ACCEPTED_FORMS}")


def _negative(value: object) -> NegativeDurationError:
    return NegativeDurationError(
        f"invalid duration {value!r} (must not be negative): expected {ACCEPTED_FORMS}"
    )


def _exact_seconds(value: str | int | float) -> Fraction:
    """The duration as an exact rational number of seconds (see `parse_duration`)."""
    if isinstance(value, bool):
        raise _invalid(value, "a boolean is not a duration")
    if isinstance(value, int):
        if value < 0:
            raise _negative(value)
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(value, "not finite")
        if value < 0:
            raise _negative(value)
        return Fraction(value)
    if not isinstance(value, str):
        raise _invalid(value, f"a {type(value).__name__} is not a duration")

    text = value.strip()
    if not text:
        raise _invalid(value, "empty")
    if text.startswith("-"):
        raise _negative(value)
    if text.startswith("+"):
        text = text[1:]

    bare = _BARE_NUMBER.fullmatch(text)
    if bare is not None:
        return Fraction(bare.group(1))

    total = Fraction(0)
    seen: list[str] = []
    position = 0
    while position < len(text):
        match = _COMPONENT.match(text, position)
        if match is None:
            raise _invalid(value)
        unit = match.group(2).lower()
        if seen and _ORDER.index(unit) <= _ORDER.index(seen[-1]):
            raise _invalid(value, "units must go from largest to smallest, each at most once")
        seen.append(unit)
        total += Fraction(match.group(1)) * _UNITS[unit]
        position = match.end()
    return total


def parse_duration(value: str | int | float) -> float:
    """Seconds in ``value``: a number of seconds, or "500ms", "30s", "5m", "1h", "1d", "1h30m".

    Units are case-insensitive, whitespace is tolerated, a compound lists its units from the
    largest to the smallest. Raises `ValueError` (`NegativeDurationError` below zero) naming the
    value and the accepted forms for anything else: empty, negative, nan/inf, unknown unit, bool.
    """
    return float(_exact_seconds(value))


def format_duration(seconds: float) -> str:
    """The canonical form of ``seconds``: "30s", "5m", "1h30m", "1.5s", "500ms", "2d", "0s".

    Whole milliseconds are written in days, hours, minutes and (decimal) seconds, largest
    first, zero parts left out, or in milliseconds below one second; a finer value as a
    decimal number of seconds ("0.0001s"). Either way ``parse_duration(format_duration(x)) == x``.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"cannot format {seconds!r} as a duration")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"cannot format {seconds!r} as a duration: must be finite and >= 0")
    millis = round(Fraction(seconds) * 1000)
    if float(Fraction(millis, 1000)) != seconds:
        return f"{float(seconds)!r}s"
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    parts: list[str] = []
    remainder = millis
    for unit in ("d", "h", "m"):
        count, remainder = divmod(remainder, int(_UNITS[unit] * 1000))
        if count:
            parts.append(f"{count}{unit}")
    whole, fraction = divmod(remainder, 1000)
    if fraction:
        parts.append(f"{whole}.{fraction:03d}".rstrip("0") + "s")
    elif whole:
        parts.append(f"{whole}s")
    return "".join(parts)


def _bound_message(minimum: float, inclusive: bool, value: object) -> str:
    if inclusive:
        return f"must be at least {format_duration(minimum)} (got {value!r})"
    return f"must be greater than {format_duration(minimum)} (got {value!r})"


def _bounded_validator(minimum: float, *, inclusive: bool) -> Callable[[Any], float]:
    def validate(value: Any) -> float:
        try:
            seconds = parse_duration(value)
        except NegativeDurationError:
            raise ValueError(_bound_message(minimum, inclusive, value)) from None
        if seconds < minimum or (not inclusive and seconds == minimum):
            raise ValueError(_bound_message(minimum, inclusive, value))
        return seconds

    return validate


_JSON_SCHEMA = WithJsonSchema(
    {
        "anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
        "description": f"Duration: {ACCEPTED_FORMS}",
    }
)
_SERIALIZER = PlainSerializer(format_duration, return_type=str)


def at_least(minimum: float, *, inclusive: bool = True) -> BeforeValidator:
    """Bound a `Duration` below: ``Annotated[Duration, at_least(0.1)]`` is "at least 100ms".

    With ``inclusive=False`` the bound itself is refused ("must be greater than 0s"). A
    negative input gets the same message, so the user reads the rule rather than the sign.
    """
    return BeforeValidator(_bounded_validator(minimum, inclusive=inclusive))


Duration = Annotated[float, BeforeValidator(parse_duration), _SERIALIZER, _JSON_SCHEMA]
"""Float seconds >= 0, read from a number or a duration string, dumped as "30s"."""

PositiveDuration = Annotated[Duration, at_least(0, inclusive=False)]
"""A `Duration` that must be greater than zero."""

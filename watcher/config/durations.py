"""Durations: parse "500ms", "30s", "5m", "1h30m", "1d" (or a number of seconds), format back.

`parse_duration` and `format_duration` are pure and exact: parsing accumulates in rationals and
rounds once, so ``parse_duration(format_duration(x)) == x`` for every finite ``x >= 0``
(whole milliseconds get the compound form "1h30m", anything finer a decimal number of seconds).

`Duration` and its bounded variants are the pydantic types the settings models use: they hold
float seconds, accept numbers or duration strings, and dump as the formatted string. A value too
large for a float (``1e400``) is a `DurationTooLargeError`, never an `OverflowError`; `within`
gives a field its lower and upper bounds.
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
    "DurationTooLargeError",
    "NegativeDurationError",
    "PositiveDuration",
    "at_least",
    "format_duration",
    "parse_duration",
    "within",
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

# Longer input is refused before any arithmetic: huge numerals ("9" * 5000) would cost time
# and memory to compute exactly. The longest `format_duration` output (the largest float, in
# days) is about 320 characters.
_MAX_TEXT = 400

ACCEPTED_FORMS = (
    'a number of seconds or a duration such as "500ms", "30s", "5m", "1h", "1d" or "1h30m"'
)


class NegativeDurationError(ValueError):
    """A duration below zero: a distinct type so bounded fields can word the error themselves."""


class DurationTooLargeError(ValueError):
    """A duration too large to hold as float seconds (``1e400``, ``1e400d``)."""


def shown(value: object) -> str:
    """``repr(value)`` for a message, kept short (a huge int has no repr: Python refuses it)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return "a number of more than 38 digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _invalid(value: object, why: str = "") -> ValueError:
    reason = f" ({why})" if why else ""
    return ValueError(f"invalid duration {shown(value)}{reason}: expected {ACCEPTED_FORMS}")


def _negative(value: object) -> NegativeDurationError:
    return NegativeDurationError(
        f"invalid duration {shown(value)} (must not be negative): expected {ACCEPTED_FORMS}"
    )


def _too_large(value: object) -> DurationTooLargeError:
    return DurationTooLargeError(f"invalid duration {shown(value)} (too large)")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    kinds: dict[type, str] = {list: "list", tuple: "list", dict: "mapping"}
    name = kinds.get(type(value), type(value).__name__)
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def _number(text: str, value: object) -> Fraction:
    """The numeral ``text`` exactly; 0 when it is below what a float holds (``1e-99999``)."""
    approximate = float(text)  # cheap whatever the exponent: inf or 0.0 at the extremes
    if math.isinf(approximate):
        raise _too_large(value)
    if approximate == 0.0:
        return Fraction(0)
    return Fraction(text)


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
        raise _invalid(value, f"{_kind(value)} is not a duration")

    text = value.strip()
    if not text:
        raise _invalid(value, "empty")
    if len(text) > _MAX_TEXT:
        raise _invalid(value, f"longer than {_MAX_TEXT} characters")
    if text.startswith("-"):
        raise _negative(value)
    if text.startswith("+"):
        text = text[1:]

    bare = _BARE_NUMBER.fullmatch(text)
    if bare is not None:
        return _number(bare.group(1), value)

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
        total += _number(match.group(1), value) * _UNITS[unit]
        position = match.end()
    return total


def parse_duration(value: str | int | float) -> float:
    """Seconds in ``value``: a number of seconds, or "500ms", "30s", "5m", "1h", "1d", "1h30m".

    Units are case-insensitive, whitespace is tolerated, a compound lists its units from the
    largest to the smallest. Raises `ValueError` (`NegativeDurationError` below zero,
    `DurationTooLargeError` beyond a float) naming the value and the accepted forms for anything
    else: empty, negative, nan/inf, unknown unit, bool.
    """
    exact = _exact_seconds(value)
    try:
        return float(exact)
    except OverflowError:
        raise _too_large(value) from None


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
        return f"must be at least {format_duration(minimum)} (got {shown(value)})"
    return f"must be greater than {format_duration(minimum)} (got {shown(value)})"


def _bounded_validator(
    minimum: float, *, inclusive: bool, maximum: float | None = None
) -> Callable[[Any], float]:
    def validate(value: Any) -> float:
        try:
            seconds = parse_duration(value)
        except NegativeDurationError:
            raise ValueError(_bound_message(minimum, inclusive, value)) from None
        except DurationTooLargeError:
            if maximum is None:
                raise
            seconds = math.inf
        if seconds < minimum or (not inclusive and seconds == minimum):
            raise ValueError(_bound_message(minimum, inclusive, value))
        if maximum is not None and seconds > maximum:
            raise ValueError(f"must be at most {format_duration(maximum)} (got {shown(value)})")
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


def within(minimum: float, maximum: float, *, inclusive: bool = True) -> BeforeValidator:
    """Bound a `Duration` on both sides: ``within(0.1, 86_400)`` is "from 100ms to 1d".

    The upper bound is inclusive; ``inclusive`` is about the lower one, as in `at_least`. A
    value too large for a float is reported against the upper bound ("must be at most 1d").
    """
    return BeforeValidator(_bounded_validator(minimum, inclusive=inclusive, maximum=maximum))


Duration = Annotated[float, BeforeValidator(parse_duration), _SERIALIZER, _JSON_SCHEMA]
"""Float seconds >= 0, read from a number or a duration string, dumped as "30s"."""

PositiveDuration = Annotated[Duration, at_least(0, inclusive=False)]
"""A `Duration` that must be greater than zero."""

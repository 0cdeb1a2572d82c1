"""Durations: parsing, canonical formatting, round trips, bounds and the pydantic type."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from watcher.config.durations import (
    Duration,
    DurationTooLargeError,
    NegativeDurationError,
    format_duration,
    parse_duration,
    within,
)

DAY = 86_400.0

PROPERTIES = settings(database=None, max_examples=300)
# Whole milliseconds up to about 300 years.
whole_millis = st.integers(min_value=0, max_value=10**13)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (0, 0.0),
        (30, 30.0),
        (2.5, 2.5),
        ("0", 0.0),
        ("30", 30.0),
        ("2.5", 2.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("+5s", 5.0),
        ("500ms", 0.5),
        ("1ms", 0.001),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("2d", 172800.0),
        ("1.5s", 1.5),
        ("0.25h", 900.0),
        ("1h30m", 5400.0),
        ("1d2h3m4s5ms", 93784.005),
        ("1m1.5s", 61.5),
        ("  30s  ", 30.0),
        ("1h 30m", 5400.0),
        ("5 m", 300.0),
        ("\t10s\n", 10.0),
        ("30S", 30.0),
        ("5M", 300.0),
        ("500MS", 0.5),
        ("1H30M", 5400.0),
        ("2D", 172800.0),
    ],
)
def test_parse_accepts(text: str | float, seconds: float) -> None:
    """Numbers are seconds; units ms/s/m/h/d in any case, compounds, decimals, spaces."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "5x",
        "5 minutes",
        "1w",
        "s",
        "ms",
        ".",
        "1.2.3s",
        "1h30",
        "30m1h",
        "1h1h",
        "1s1s",
        "nan",
        "inf",
        "1,5s",
        "5s!",
        float("nan"),
        float("inf"),
        True,
        False,
        None,
        [1],
        {"s": 1},
    ],
)
def test_parse_rejects(value: Any) -> None:
    """Everything else is a ValueError that quotes the value and lists the accepted forms."""
    with pytest.raises(ValueError, match="duration") as caught:
        parse_duration(value)
    message = str(caught.value)
    assert repr(value) in message
    assert '"500ms", "30s", "5m", "1h", "1d"' in message


@pytest.mark.parametrize("value", ["-5s", "-0", " -1h", -1, -0.5, "-1h30m", "-inf", "-5x"])
def test_parse_rejects_negatives_with_their_own_type(value: str | float) -> None:
    """A negative duration raises NegativeDurationError (a ValueError) naming the value."""
    with pytest.raises(NegativeDurationError, match="must not be negative") as caught:
        parse_duration(value)
    assert repr(value) in str(caught.value)
    assert '"500ms", "30s", "5m", "1h", "1d"' in str(caught.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.001, "1ms"),
        (0.5, "500ms"),
        (0.999, "999ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (1.25, "1.25s"),
        (30, "30s"),
        (60, "1m"),
        (90, "1m30s"),
        (300, "5m"),
        (3600, "1h"),
        (5400, "1h30m"),
        (86400, "1d"),
        (172800, "2d"),
        (93784.005, "1d2h3m4.005s"),
        (0.0001, "0.0001s"),
        (1e-7, "1e-07s"),
    ],
)
def test_format(seconds: float, text: str) -> None:
    """The canonical form: largest units first, zero parts left out, sub-second in ms."""
    assert format_duration(seconds) == text


@pytest.mark.parametrize("value", [-1, -0.001, float("nan"), float("inf"), True, "5s"])
def test_format_rejects(value: Any) -> None:
    """Only finite, non-negative numbers have a form."""
    with pytest.raises(ValueError, match="cannot format"):
        format_duration(value)


@PROPERTIES
@given(whole_millis)
def test_round_trip_whole_milliseconds(millis: int) -> None:
    """parse(format(x)) == x for every whole number of milliseconds."""
    seconds = millis / 1000
    assert parse_duration(format_duration(seconds)) == seconds


@PROPERTIES
@given(whole_millis)
def test_whole_milliseconds_are_written_in_units(millis: int) -> None:
    """Whole milliseconds are written "1d2h3m4.005s" or "500ms", never as a bare float."""
    assert re.fullmatch(
        r"0s|[1-9]\d{0,2}ms|(\d+d)?(\d+h)?(\d+m)?(\d+(\.\d*[1-9])?s)?",
        format_duration(millis / 1000),
    )


@PROPERTIES
@given(st.floats(min_value=0, allow_nan=False, allow_infinity=False))
def test_round_trip_any_float(seconds: float) -> None:
    """Even finer values survive: they are written as decimal seconds."""
    assert parse_duration(format_duration(seconds)) == seconds


@PROPERTIES
@given(whole_millis, whole_millis)
def test_format_preserves_order(a: int, b: int) -> None:
    """Formatting then parsing keeps the order of durations (monotonic)."""
    x, y = sorted((a / 1000, b / 1000))
    assert parse_duration(format_duration(x)) <= parse_duration(format_duration(y))
    if x < y:
        assert parse_duration(format_duration(x)) < parse_duration(format_duration(y))


@PROPERTIES
@given(
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=10**9),
    st.sampled_from(["ms", "s", "m", "h", "d", ""]),
)
def test_parse_is_monotonic_in_the_number(a: int, b: int, unit: str) -> None:
    """For one unit, a larger number is a longer duration."""
    if a < b:
        assert parse_duration(f"{a}{unit}") < parse_duration(f"{b}{unit}")
    else:
        assert parse_duration(f"{a}{unit}") >= parse_duration(f"{b}{unit}")


@PROPERTIES
@given(
    st.floats(max_value=-1e-12, allow_nan=False, allow_infinity=False),
    st.sampled_from(["s", "m", "ms"]),
)
def test_rejects_every_negative(value: float, unit: str) -> None:
    """No negative number, bare or with a unit, parses."""
    with pytest.raises(NegativeDurationError):
        parse_duration(value)
    with pytest.raises(ValueError, match="negative"):
        parse_duration(f"{value!r}{unit}")


@PROPERTIES
@given(st.floats(min_value=0, max_value=1e12, allow_nan=False))
def test_format_never_returns_something_unparseable(seconds: float) -> None:
    """Every formatted value parses, and is finite."""
    assert math.isfinite(parse_duration(format_duration(seconds)))


class Model(BaseModel):
    plain: Duration = 30.0
    positive: Annotated[Duration, within(0, DAY, inclusive=False)] = 10.0
    interval: Annotated[Duration, within(0.1, DAY)] = 30.0


def test_duration_type_validates_and_dumps_as_text() -> None:
    """Fields hold float seconds and dump (python and JSON mode) as the canonical string."""
    model = Model(plain="1h30m", positive=2, interval="250ms")
    assert (model.plain, model.positive, model.interval) == (5400.0, 2.0, 0.25)
    assert model.model_dump() == {"plain": "1h30m", "positive": "2s", "interval": "250ms"}
    assert model.model_dump_json() == '{"plain":"1h30m","positive":"2s","interval":"250ms"}'
    assert Model.model_validate(model.model_dump()) == model


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("interval", "-5s", "must be at least 100ms (got '-5s')"),
        ("interval", "50ms", "must be at least 100ms (got '50ms')"),
        ("interval", 0.05, "must be at least 100ms (got 0.05)"),
        ("positive", 0, "must be greater than 0s (got 0)"),
        ("positive", "0s", "must be greater than 0s (got '0s')"),
        ("positive", "-1m", "must be greater than 0s (got '-1m')"),
        ("plain", "-1s", "invalid duration '-1s' (must not be negative)"),
        ("plain", "5x", "invalid duration '5x'"),
    ],
)
def test_bounded_duration_messages(field: str, value: Any, message: str) -> None:
    """A bound is worded as the rule, even for a negative input; other errors keep theirs."""
    with pytest.raises(ValidationError) as caught:
        Model.model_validate({field: value})
    assert message in caught.value.errors()[0]["msg"]


def test_bounds_accept_their_limit() -> None:
    """The lower bound is inclusive by default."""
    assert Model(interval="100ms").interval == 0.1


def test_json_schema_accepts_numbers_and_strings() -> None:
    """The JSON schema tells config authors both forms are fine."""
    schema = Model.model_json_schema()["properties"]["plain"]
    assert {"type": "string"} in schema["anyOf"]
    assert "500ms" in schema["description"]


@pytest.mark.parametrize(
    "value", ["1e400", "1e400s", "1e308d", "1e999999999", "1e10000000000ms", 10**400]
)
def test_too_large_is_a_value_error_not_an_overflow(value: str | int) -> None:
    """float() of the exact value overflowed: OverflowError escaped as a traceback."""
    with pytest.raises(DurationTooLargeError, match="too large") as caught:
        parse_duration(value)
    assert isinstance(caught.value, ValueError)
    assert len(str(caught.value)) < 200  # a 400-digit int is not quoted whole


def test_extreme_exponents_are_cheap() -> None:
    """A huge negative exponent is not computed exactly (10**999999999 would take minutes)."""
    assert parse_duration("1e-999999999") == 0.0
    assert parse_duration("1s1e-999999999ms") == 1.0


def test_a_numeral_beyond_a_float_is_too_large_not_computed() -> None:
    """399 digits fit the length limit; the number is still refused as too large."""
    with pytest.raises(DurationTooLargeError, match="too large"):
        parse_duration("9" * 399)
    with pytest.raises(DurationTooLargeError, match="too large"):
        parse_duration("9" * 306 + "d")  # finite digits, days beyond a float


def test_overlong_text_is_refused_and_not_echoed() -> None:
    """A 5000-digit numeral: refused before any arithmetic, quoted only in part."""
    with pytest.raises(ValueError, match="longer than 400 characters") as caught:
        parse_duration("9" * 5000)
    assert "9" * 50 not in str(caught.value)


def test_the_longest_formatted_duration_still_parses() -> None:
    """The largest float has a canonical form (in seconds) that parses back."""
    assert parse_duration(format_duration(1.7976931348623157e308)) == 1.7976931348623157e308


class Bounded(BaseModel):
    interval: Annotated[Duration, within(0.1, 86_400)] = 30.0
    timeout: Annotated[Duration, within(0, 600, inclusive=False)] = 10.0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("interval", "1e10d", "must be at most 1d (got '1e10d')"),
        ("interval", "1e400", "must be at most 1d (got '1e400')"),
        ("interval", 86_400.001, "must be at most 1d (got 86400.001)"),
        ("interval", "50ms", "must be at least 100ms (got '50ms')"),
        ("interval", "-1s", "must be at least 100ms (got '-1s')"),
        ("timeout", "10m1ms", "must be at most 10m (got '10m1ms')"),
        ("timeout", 0, "must be greater than 0s (got 0)"),
        ("timeout", "5 parsecs", "invalid duration '5 parsecs'"),
    ],
)
def test_within_messages(field: str, value: Any, message: str) -> None:
    """Both bounds are worded as the rule; a value beyond a float is just "too large"."""
    with pytest.raises(ValidationError) as caught:
        Bounded.model_validate({field: value})
    assert message in caught.value.errors()[0]["msg"]


def test_within_accepts_both_limits() -> None:
    assert Bounded(interval="1d", timeout="10m").model_dump() == {
        "interval": "1d",
        "timeout": "10m",
    }
    assert Bounded(interval="100ms").interval == 0.1


@pytest.mark.parametrize(
    ("value", "kind"), [([1], "a list"), ({"s": 1}, "a mapping"), (None, "null")]
)
def test_kinds_are_named_in_english(value: Any, kind: str) -> None:
    with pytest.raises(ValueError, match=f"{kind} is not a duration"):
        parse_duration(value)

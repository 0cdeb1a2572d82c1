"""Quiet hours (`watcher.route.quiet_until`): open or not at an instant, and when they end.

The days DST starts and ends are where hand arithmetic on offsets goes wrong, so they get
examples of their own in Europe/Berlin (02:00 -> 03:00 on 30 March 2025, 03:00 -> 02:00 on
26 October 2025, both at 01:00 UTC) and America/New_York (02:00 -> 03:00 on 9 March 2025 at
07:00 UTC, 02:00 -> 01:00 on 2 November 2025 at 06:00 UTC), and an independent oracle for the
properties: it walks the local clock back from the instant in question.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.config.alerting import QuietHours
from watcher.route import quiet_until


@dataclass(frozen=True)
class Quiet:
    """Quiet hours, as watcher.config.QuietHours would give them."""

    start: str
    end: str
    timezone: str = "UTC"


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


NIGHT_BERLIN = Quiet("22:00", "07:00", "Europe/Berlin")
NIGHT_NEW_YORK = Quiet("22:00", "07:00", "America/New_York")


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (utc(2025, 6, 1, 12, 59), None),  # 21:59 in Tokyo: not yet
        (utc(2025, 6, 1, 13, 0), utc(2025, 6, 1, 22, 0)),  # 22:00: opens, until 07:00 JST
        (utc(2025, 6, 1, 14, 59), utc(2025, 6, 1, 22, 0)),  # 23:59
        (utc(2025, 6, 1, 15, 0), utc(2025, 6, 1, 22, 0)),  # midnight: the same window
        (utc(2025, 6, 1, 21, 59, 59), utc(2025, 6, 1, 22, 0)),  # 06:59:59 the next day
        (utc(2025, 6, 1, 22, 0), None),  # 07:00: over
        (utc(2025, 6, 1, 3, 0), None),  # noon in Tokyo
    ],
)
def test_across_midnight_in_a_zone_ahead_of_utc(now: datetime, until: datetime | None) -> None:
    """22:00 to 07:00 in Asia/Tokyo (UTC+9): open from 22:00 through midnight to 07:00 local,
    which is 13:00 to 22:00 UTC; the end is the next local morning."""
    assert quiet_until(Quiet("22:00", "07:00", "Asia/Tokyo"), now) == until


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (utc(2025, 6, 2, 1, 30), utc(2025, 6, 2, 11, 0)),  # 21:30 in New York (EDT): open
        (utc(2025, 6, 2, 1, 29), None),
        (utc(2025, 6, 2, 10, 59), utc(2025, 6, 2, 11, 0)),
        (utc(2025, 6, 2, 11, 0), None),  # 07:00 EDT
    ],
)
def test_across_midnight_in_a_zone_behind_utc(now: datetime, until: datetime | None) -> None:
    """21:30 to 07:00 in New York: the window opens on one UTC date and ends on the same."""
    assert quiet_until(Quiet("21:30", "07:00", "America/New_York"), now) == until


def test_a_daytime_window() -> None:
    """start before end: the same local day, closed outside it."""
    day = Quiet("09:00", "17:30", "Europe/Berlin")
    assert quiet_until(day, utc(2025, 1, 15, 8, 0)) == utc(2025, 1, 15, 16, 30)  # 09:00 CET
    assert quiet_until(day, utc(2025, 1, 15, 7, 59)) is None
    assert quiet_until(day, utc(2025, 1, 15, 16, 30)) is None
    assert quiet_until(day, utc(2025, 7, 15, 15, 29)) == utc(2025, 7, 15, 15, 30)  # CEST


def test_the_config_section_is_a_quiet_window() -> None:
    """watcher.config.QuietHours gives quiet_until what it needs (YAML's 1320 is 22:00)."""
    config = QuietHours.model_validate({"start": 1320, "end": "7:00", "timezone": "Asia/Tokyo"})
    assert quiet_until(config, utc(2025, 6, 1, 13, 0)) == utc(2025, 6, 1, 22, 0)


def test_a_naive_now_is_refused() -> None:
    """Local naive times would make the answer depend on the host's zone."""
    with pytest.raises(ValueError, match="aware"):
        quiet_until(NIGHT_BERLIN, datetime(2025, 6, 1, 12, 0))


# --- DST --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quiet", "now", "until"),
    [
        # Berlin, DST starts: the night is an hour shorter; it still ends at 07:00 CEST.
        (NIGHT_BERLIN, utc(2025, 3, 29, 21, 0), utc(2025, 3, 30, 5, 0)),  # 22:00 CET
        (NIGHT_BERLIN, utc(2025, 3, 30, 0, 59), utc(2025, 3, 30, 5, 0)),  # 01:59 CET
        (NIGHT_BERLIN, utc(2025, 3, 30, 1, 0), utc(2025, 3, 30, 5, 0)),  # 03:00 CEST
        (NIGHT_BERLIN, utc(2025, 3, 30, 5, 0), None),  # 07:00 CEST
        # Berlin, DST ends: the night is an hour longer; it ends at 07:00 CET.
        (NIGHT_BERLIN, utc(2025, 10, 25, 20, 0), utc(2025, 10, 26, 6, 0)),  # 22:00 CEST
        (NIGHT_BERLIN, utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 6, 0)),  # 02:30 CEST
        (NIGHT_BERLIN, utc(2025, 10, 26, 1, 30), utc(2025, 10, 26, 6, 0)),  # 02:30 CET
        (NIGHT_BERLIN, utc(2025, 10, 26, 5, 59), utc(2025, 10, 26, 6, 0)),  # 06:59 CET
        (NIGHT_BERLIN, utc(2025, 10, 26, 6, 0), None),
        (NIGHT_BERLIN, utc(2025, 10, 26, 20, 59), None),  # 21:59 CET
        (NIGHT_BERLIN, utc(2025, 10, 26, 21, 0), utc(2025, 10, 27, 6, 0)),  # 22:00 CET
        # New York, DST starts (02:00 EST -> 03:00 EDT at 07:00 UTC).
        (NIGHT_NEW_YORK, utc(2025, 3, 9, 3, 0), utc(2025, 3, 9, 11, 0)),  # 22:00 EST
        (NIGHT_NEW_YORK, utc(2025, 3, 9, 6, 59), utc(2025, 3, 9, 11, 0)),  # 01:59 EST
        (NIGHT_NEW_YORK, utc(2025, 3, 9, 7, 0), utc(2025, 3, 9, 11, 0)),  # 03:00 EDT
        (NIGHT_NEW_YORK, utc(2025, 3, 9, 11, 0), None),  # 07:00 EDT
        # New York, DST ends (02:00 EDT -> 01:00 EST at 06:00 UTC).
        (NIGHT_NEW_YORK, utc(2025, 11, 2, 2, 0), utc(2025, 11, 2, 12, 0)),  # 22:00 EDT
        (NIGHT_NEW_YORK, utc(2025, 11, 2, 5, 30), utc(2025, 11, 2, 12, 0)),  # 01:30 EDT
        (NIGHT_NEW_YORK, utc(2025, 11, 2, 6, 30), utc(2025, 11, 2, 12, 0)),  # 01:30 EST
        (NIGHT_NEW_YORK, utc(2025, 11, 2, 12, 0), None),  # 07:00 EST
    ],
)
def test_a_night_across_the_dst_switches(
    quiet: Quiet, now: datetime, until: datetime | None
) -> None:
    """22:00 to 07:00 local on the nights the clocks change: the window ends at 07:00 local
    time in the offset of that morning (an hour sooner, or later, in elapsed time)."""
    assert quiet_until(quiet, now) == until


@pytest.mark.parametrize(
    ("quiet", "now", "until"),
    [
        # An end in the skipped hour: the window ends when the clock jumps past it.
        (Quiet("22:00", "02:30", "Europe/Berlin"), utc(2025, 3, 30, 0, 30), utc(2025, 3, 30, 1)),
        (Quiet("22:00", "02:30", "Europe/Berlin"), utc(2025, 3, 30, 1, 0), None),
        (Quiet("22:00", "02:30", "America/New_York"), utc(2025, 3, 9, 6, 30), utc(2025, 3, 9, 7)),
        (Quiet("22:00", "02:30", "America/New_York"), utc(2025, 3, 9, 7, 0), None),
        # A start in the skipped hour: the window opens when the clock jumps past it.
        (Quiet("02:30", "06:00", "Europe/Berlin"), utc(2025, 3, 30, 0, 59), None),
        (Quiet("02:30", "06:00", "Europe/Berlin"), utc(2025, 3, 30, 1, 0), utc(2025, 3, 30, 4)),
        (Quiet("02:30", "06:00", "America/New_York"), utc(2025, 3, 9, 6, 59), None),
        (Quiet("02:30", "06:00", "America/New_York"), utc(2025, 3, 9, 7, 0), utc(2025, 3, 9, 10)),
        # A window wholly in the skipped hour does not open that day.
        (Quiet("02:10", "02:40", "Europe/Berlin"), utc(2025, 3, 30, 1, 0), None),
        (Quiet("02:10", "02:40", "Europe/Berlin"), utc(2025, 3, 30, 1, 30), None),
    ],
)
def test_times_the_clock_skips(quiet: Quiet, now: datetime, until: datetime | None) -> None:
    """A start or end that does not exist on the day DST starts (02:30 in Berlin and New
    York) takes effect at the first instant after it: the jump, 03:00 local."""
    assert quiet_until(quiet, now) == until


TO_0230_BERLIN = Quiet("22:00", "02:30", "Europe/Berlin")
TO_0130_NEW_YORK = Quiet("22:00", "01:30", "America/New_York")
FROM_0230_BERLIN = Quiet("02:30", "06:00", "Europe/Berlin")
FROM_0130_NEW_YORK = Quiet("01:30", "06:00", "America/New_York")


@pytest.mark.parametrize(
    ("quiet", "now", "until"),
    [
        # An end in the repeated hour: the first 02:30 (CEST) ends it; the second does not
        # reopen it.
        (TO_0230_BERLIN, utc(2025, 10, 26, 0, 15), utc(2025, 10, 26, 0, 30)),
        (TO_0230_BERLIN, utc(2025, 10, 26, 0, 30), None),
        (TO_0230_BERLIN, utc(2025, 10, 26, 1, 15), None),  # 02:15 CET
        (TO_0130_NEW_YORK, utc(2025, 11, 2, 5, 15), utc(2025, 11, 2, 5, 30)),
        (TO_0130_NEW_YORK, utc(2025, 11, 2, 6, 15), None),  # 01:15 EST
        # A start in the repeated hour: the first 02:30 opens it; the clock going back to
        # 02:00 does not close it.
        (FROM_0230_BERLIN, utc(2025, 10, 26, 0, 29), None),
        (FROM_0230_BERLIN, utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 5)),
        (FROM_0230_BERLIN, utc(2025, 10, 26, 1, 10), utc(2025, 10, 26, 5)),  # 02:10 CET
        (FROM_0130_NEW_YORK, utc(2025, 11, 2, 6, 10), utc(2025, 11, 2, 11)),  # 01:10 EST
    ],
)
def test_times_the_clock_shows_twice(quiet: Quiet, now: datetime, until: datetime | None) -> None:
    """A start or end in the hour repeated when DST ends takes effect at its first occurrence:
    one window a day, never reopened or cut short by the clock going back."""
    assert quiet_until(quiet, now) == until


def test_a_window_of_tomorrow_open_while_the_local_date_goes_back() -> None:
    """Where the clock goes back across midnight (St John's, 7 November 2010: 00:01 NDT
    became 23:01 NST the day before), the next day's window, opened at its 00:00, stays
    open although the local date is the previous one again."""
    quiet = Quiet("00:00", "06:00", "America/St_Johns")
    assert quiet_until(quiet, utc(2010, 11, 7, 2, 29)) is None  # 23:59 NDT, 6 November
    assert quiet_until(quiet, utc(2010, 11, 7, 2, 30)) == utc(2010, 11, 7, 9, 30)  # 00:00 NDT
    assert quiet_until(quiet, utc(2010, 11, 7, 3, 0)) == utc(2010, 11, 7, 9, 30)  # 23:30 NST


# --- properties -------------------------------------------------------------------------------

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "UTC",
]
# The instants of the switches, so that examples crowd around them.
SWITCHES = [
    utc(2025, 3, 30, 1),
    utc(2025, 10, 26, 1),
    utc(2025, 3, 9, 7),
    utc(2025, 11, 2, 6),
    utc(2025, 4, 5, 15),  # Lord Howe: 02:00 -> 01:30 (a half-hour switch)
    utc(2025, 10, 4, 15, 30),  # Lord Howe: 02:00 -> 02:30
    utc(2010, 11, 7, 2, 31),  # St John's: 00:01 -> 23:01 the day before
]
clocks = st.builds(lambda m: f"{m // 60:02d}:{m % 60:02d}", st.integers(0, 24 * 60 - 1))
# Starts and ends that land in or next to the switched hours, not only anywhere in the day.
near_switch_clocks = st.sampled_from(
    ["00:00", "00:01", "01:00", "01:30", "01:45", "02:00", "02:15", "02:30", "03:00", "23:30"]
)
windows = st.builds(
    Quiet,
    start=clocks | near_switch_clocks,
    end=clocks | near_switch_clocks,
    timezone=st.sampled_from(ZONES),
).filter(lambda q: q.start != q.end)
instants = st.builds(
    lambda base, seconds: base + timedelta(seconds=seconds),
    st.sampled_from(SWITCHES),
    st.integers(-36 * 3600, 36 * 3600),
) | st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)


def _parse(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def peak_wall(zone: ZoneInfo, at: datetime) -> datetime:
    """The latest local time the clock has shown up to `at` (naive): the current one, except
    in the repeated hour after DST ends, when the clock already showed later times. Found by
    walking back minute by minute over three hours (longer than any switch)."""
    return max(
        (at - timedelta(minutes=k)).astimezone(zone).replace(tzinfo=None) for k in range(181)
    )


def oracle_open(quiet: Quiet, at: datetime) -> bool:
    """Open iff, for some day, the clock has shown the day's start but not yet its end."""
    zone = ZoneInfo(quiet.timezone)
    start, end = _parse(quiet.start), _parse(quiet.end)
    peak = peak_wall(zone, at)
    for offset in (-1, 0, 1):
        day = peak.date() + timedelta(days=offset)
        opens = datetime.combine(day, start)
        ends = datetime.combine(day + timedelta(days=0 if start < end else 1), end)
        if opens <= peak < ends:
            return True
    return False


@settings(max_examples=400, deadline=None, database=None)
@given(quiet=windows, now=instants)
def test_open_iff_the_clock_is_inside_the_window(quiet: Quiet, now: datetime) -> None:
    """quiet_until says open exactly when the walked-back clock (the oracle) says so."""
    assert (quiet_until(quiet, now) is not None) == oracle_open(quiet, now)


@settings(max_examples=400, deadline=None, database=None)
@given(quiet=windows, now=instants)
def test_the_hold_ends_in_the_future_at_a_local_end_time(quiet: Quiet, now: datetime) -> None:
    """When open: the end is after now, the clock reads `end` there (or, when the clock skips
    `end` that day, the first time after it), and the window stays open until then."""
    until = quiet_until(quiet, now)
    if until is None:
        return
    zone = ZoneInfo(quiet.timezone)
    end = _parse(quiet.end)
    assert until > now
    assert until.tzinfo is UTC
    local = until.astimezone(zone)
    if local.time() != end:  # only when `end` does not exist that day: the clock jumped past it
        before = (until - timedelta(microseconds=1)).astimezone(zone)
        assert before.time() < end < local.time()
    # Closed at its end (a later window may open right then, where DST squeezes the gap
    # between two to nothing), open until just before it.
    assert quiet_until(quiet, until) != until
    assert quiet_until(quiet, until - timedelta(microseconds=1)) == until
    assert quiet_until(quiet, now + (until - now) / 2) == until

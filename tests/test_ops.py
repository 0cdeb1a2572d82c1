"""ops: when the watcher tells people about its own health, and what it says. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from watcher.ops import API, Health, OpsAlert, OpsPolicy, assess, targets

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = OpsPolicy(("oncall", "team"), api_down_after=600, channel_failing_after=3600)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_the_api_down_long_enough_is_told_once_with_its_error() -> None:
    """Below the threshold nothing; past it one alert with the last error; already told,
    nothing more; back up, one recovery."""
    down = Health(api_down_since=ago(599), api_error="GET ...: HTTP 503")
    assert assess(down, {}, POLICY, NOW) == []
    down = Health(api_down_since=ago(600), api_error="GET ...: HTTP 503")
    assert assess(down, {}, POLICY, NOW) == [
        OpsAlert(API, True, ago(600), NOW, "GET ...: HTTP 503")
    ]
    assert assess(down, {API: ago(600)}, POLICY, NOW) == []
    assert assess(Health(), {API: ago(900)}, POLICY, NOW) == [OpsAlert(API, False, ago(900), NOW)]


def test_a_failing_channel_is_told_to_the_others_never_to_itself() -> None:
    """team failing for an hour: oncall hears, team does not."""
    health = Health(channels_failing={"team": (ago(3600), "Slack: HTTP 404")})
    (alert,) = assess(health, {}, POLICY, NOW)
    assert (alert.subject, alert.down, alert.error) == ("team", True, "Slack: HTTP 404")
    assert targets(alert, POLICY) == ["oncall"]
    assert targets(OpsAlert(API, True, NOW, NOW), POLICY) == ["oncall", "team"]


subjects = st.sampled_from([API, "team", "oncall", "mail"])


@given(
    failing=st.dictionaries(subjects, st.integers(min_value=0, max_value=10_000)),
    told=st.dictionaries(subjects, st.integers(min_value=0, max_value=10_000)),
)
def test_each_subject_is_told_down_once_and_up_once(
    failing: dict[str, int], told: dict[str, int]
) -> None:
    """An alert goes out only for a change: down (failing past its threshold, not told yet)
    or up (told, no longer failing); never both, never twice for one subject."""
    health = Health(
        api_down_since=ago(failing[API]) if API in failing else None,
        channels_failing={s: (ago(v), None) for s, v in failing.items() if s != API},
    )
    alerts = assess(health, {s: ago(v) for s, v in told.items()}, POLICY, NOW)
    assert len({a.subject for a in alerts}) == len(alerts)
    for alert in alerts:
        if alert.down:
            after = POLICY.api_down_after if alert.subject == API else POLICY.channel_failing_after
            assert alert.subject in failing
            assert alert.subject not in told
            assert failing[alert.subject] >= after
        else:
            assert alert.subject in told
            assert alert.subject not in failing

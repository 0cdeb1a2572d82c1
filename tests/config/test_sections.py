"""The sections (`watcher.config.sections`): each duration's upper bound, from the file or the
environment, and a base_url that may hold a key in the wrong place, never echoed. Each bad
config is one line, exit 2 from the CLI, no traceback, no secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from tests.config.helpers import SECRET, assert_exit_2_one_line, check_config, config_error, write
from watcher.config import DeliveryConfig, PollConfig, Settings, load_settings
from watcher.config.sections import (
    MAX_API_TIMEOUT,
    MAX_HORIZON,
    MAX_POLL_INTERVAL,
    MAX_RETENTION,
    MAX_RETRY_DELAY,
    MAX_SEND_TIMEOUT,
)
from watcher.state import Store

pytestmark = pytest.mark.usefixtures("in_tmp")


# --- durations: no OverflowError, an upper bound on each --------------------------------------

BOUNDS = [
    ("dataframer", "timeout", MAX_API_TIMEOUT, "10m"),
    ("poll", "interval", MAX_POLL_INTERVAL, "1d"),
    ("state", "retention", MAX_RETENTION, "3650d"),
    ("delivery", "timeout", MAX_SEND_TIMEOUT, "1h"),
    ("delivery", "retry_initial", MAX_RETRY_DELAY, "1d"),
    ("delivery", "retry_max", MAX_RETRY_DELAY, "1d"),
    ("delivery", "horizon", MAX_HORIZON, "365d"),
]


@pytest.mark.parametrize(("section", "key", "maximum", "shown"), BOUNDS)
@pytest.mark.parametrize("value", ["1e400", "1e10d", "1e308d", "99999999999999999999d"])
def test_huge_durations_are_one_line_errors(
    tmp_path: Path, section: str, key: str, maximum: float, shown: str, value: str
) -> None:
    """From the environment or the file, too large a duration names its bound."""
    variable = f"WATCHER_{section.upper()}__{key.upper()}"
    message = config_error(None, {variable: value})
    assert f"{section}.{key} (from {variable}): must be at most {shown} (got {value!r})" in message
    path = write(tmp_path, f"{section}:\n  {key}: {value}\n")
    assert f"{section}.{key}: must be at most {shown}" in config_error(path, {})


@pytest.mark.parametrize(("section", "key", "maximum", "shown"), BOUNDS)
def test_each_bound_is_accepted_and_usable(
    tmp_path: Path, section: str, key: str, maximum: float, shown: str
) -> None:
    """The bound itself loads, and the arithmetic the daemon does with it does not overflow."""
    environ = {f"WATCHER_{section.upper()}__{key.upper()}": shown}
    if key == "retry_initial":
        environ["WATCHER_DELIVERY__RETRY_MAX"] = shown  # retry_max must cover it
    settings = load_settings(environ=environ)
    assert getattr(getattr(settings, section), key) == maximum
    now = datetime.now(UTC)
    assert now - timedelta(seconds=maximum) < now < now + timedelta(seconds=maximum)
    IntervalTrigger(seconds=maximum)


def test_prune_at_the_longest_retention(tmp_path: Path) -> None:
    """state.retention at its bound: the prune job computes its cutoff (it raised before)."""
    store = Store.open(tmp_path / "w.db")
    try:
        assert store.prune(datetime.now(UTC), MAX_RETENTION) == 0
    finally:
        store.close()


@pytest.mark.parametrize("value", ["1e400", "1e10d"])
def test_check_config_refuses_a_huge_interval(tmp_path: Path, value: str) -> None:
    """The CLI: exit 2 and one line, where 1e400 was a traceback and 1e10d crashed `run`."""
    result = check_config(tmp_path, "", WATCHER_POLL__INTERVAL=value)
    assert_exit_2_one_line(result, "poll.interval (from WATCHER_POLL__INTERVAL)", "at most 1d")


# --- a swapped DATAFRAMER_BASE_URL is never echoed --------------------------------------------


def test_a_key_in_base_url_is_masked() -> None:
    message = config_error(None, {"DATAFRAMER_BASE_URL": SECRET})
    assert "dataframer.base_url (from DATAFRAMER_BASE_URL)" in message
    assert "(got 'sk***'" in message
    assert SECRET[2:8] not in message


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (
            f"ftp://user:{SECRET}@files.example.com:21/p?token={SECRET}",
            "'ftp://user:***@files.example.com:21/p?token=***', masked",
        ),
        (f"https://:{SECRET}@", "'https://:***@', masked"),
        (f"localhost:{SECRET}", "'lo***', masked"),
    ],
)
def test_base_url_hides_its_secrets(value: str, shown: str) -> None:
    """A password, a query token, a key pasted into the URL: masked, the rest shown."""
    message = config_error(None, {"WATCHER_DATAFRAMER__BASE_URL": value})
    assert f"(got {shown}" in message
    assert SECRET[2:8] not in message


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("127.0.0.1:18765", "'127.0.0.1:18765', which has no scheme such as https://"),
        ("df-api.dataframer.ai", "'df-api.dataframer.ai', which has no scheme such as https://"),
        ("ftp://files.example.com:21/df", "'ftp://files.example.com:21/df'"),
        ("gopher://x", "'gopher://x'"),
        ("notaurl", "'notaurl', which has no scheme"),
    ],
)
def test_base_url_at_fault_is_shown_as_typed(value: str, shown: str) -> None:
    """What the user typed and is not a secret is quoted back whole (it showed as '12***')."""
    message = config_error(None, {"WATCHER_DATAFRAMER__BASE_URL": value})
    assert "dataframer.base_url (from WATCHER_DATAFRAMER__BASE_URL): must be an http(s) URL" in (
        message
    )
    assert f"(got {shown}" in message
    assert "***" not in message


def test_swapped_base_url_from_the_cli(tmp_path: Path) -> None:
    result = check_config(tmp_path, "", DATAFRAMER_BASE_URL=SECRET)
    assert SECRET[2:8] not in assert_exit_2_one_line(result, "dataframer.base_url")


# --- null means the default ------------------------------------------------------------------


def test_null_means_default_in_a_section_and_for_a_whole_section() -> None:
    """One rule for both levels: a key given as null is a key left out."""
    assert PollConfig.model_validate({"interval": None}) == PollConfig()
    settings = Settings(poll=None, delivery={"timeout": None, "concurrency": 2})
    assert settings.poll == PollConfig()
    assert settings.delivery == DeliveryConfig(concurrency=2)

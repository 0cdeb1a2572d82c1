"""The configuration's sections: one pydantic model per YAML section, with its defaults and checks.

`watcher.config.Settings` assembles them (with the channels of `watcher.config.channels`); a
section refuses unknown keys, keeps its input out of error messages and reads null as "use the
default" (`NullMeansDefault`, which the settings apply to whole sections too).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import NoDecode

from watcher.config.durations import Duration, within
from watcher.config.values import (
    discovered_kinds,
    expand_path,
    lower,
    name_list,
    parse_listen,
    quoted_url,
    run_id_list,
    state_path,
)
from watcher.deliver.policy import RetryPolicy

__all__ = [
    "DEFAULT_BASE_URL",
    "DataframerConfig",
    "DeliveryConfig",
    "HealthConfig",
    "LogConfig",
    "NullMeansDefault",
    "PollConfig",
    "Section",
    "StateConfig",
    "TrackConfig",
    "TrackFilter",
    "UiConfig",
    "is_loopback",
]

DEFAULT_BASE_URL = "https://df-api.dataframer.ai"

# Upper bounds of the durations, in seconds (documented in the README's config reference):
# beyond them a value is a typo, and some would overflow the scheduler or the clock arithmetic.
MINUTE, HOUR, DAY = 60.0, 3_600.0, 86_400.0
MAX_API_TIMEOUT = 10 * MINUTE
MAX_POLL_INTERVAL = DAY
MAX_RETENTION = 3_650 * DAY
MAX_SEND_TIMEOUT = HOUR
MAX_RETRY_DELAY = DAY
MAX_HORIZON = 365 * DAY

# Durations greater than zero and at most their bound.
ApiTimeout = Annotated[Duration, within(0, MAX_API_TIMEOUT, inclusive=False)]
Retention = Annotated[Duration, within(0, MAX_RETENTION, inclusive=False)]
SendTimeout = Annotated[Duration, within(0, MAX_SEND_TIMEOUT, inclusive=False)]
RetryDelay = Annotated[Duration, within(0, MAX_RETRY_DELAY, inclusive=False)]
Horizon = Annotated[Duration, within(0, MAX_HORIZON, inclusive=False)]


class NullMeansDefault(BaseModel):
    """A model that reads a key given as null as a key left out: its default applies.

    YAML makes null easily (``poll:`` with nothing under it, ``interval:`` with no value), and
    a user who writes it means "the default", not "no value".
    """

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class Section(NullMeansDefault):
    """A config section: unknown keys refused, inputs kept out of errors, null means default."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, validate_default=True)


class DataframerConfig(Section):
    base_url: str = DEFAULT_BASE_URL
    api_key: SecretStr | None = None
    api_key_file: Annotated[Path | None, BeforeValidator(expand_path)] = None
    timeout: ApiTimeout = 10.0
    max_concurrency: int = Field(default=8, ge=1, le=64)

    @field_validator("base_url", mode="before")
    @classmethod
    def _check_base_url(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip().rstrip("/")
        try:
            parts = urlsplit(text)
            host = parts.hostname
        except ValueError:
            host = None
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not host:
            raise ValueError(
                f"must be an http(s) URL such as {DEFAULT_BASE_URL} (got {quoted_url(text)})"
            )
        return text

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip() or None
        return value


class PollConfig(Section):
    interval: Annotated[Duration, within(0.1, MAX_POLL_INTERVAL)] = 30.0
    # How often a run's progress alone (samples, cost) is written: status, the page's curve.
    progress_every: Annotated[Duration, within(0.0, 3600.0)] = 30.0


class StateConfig(Section):
    path: Annotated[Path, BeforeValidator(state_path)] = Path("state/watcher.db")
    retention: Retention = 30 * DAY


class TrackFilter(Section):
    """Which jobs discovery (`track.all`) tracks: globs on the spec name, the creator's email
    (ignoring case) and the dataset name; a job must pass each one given."""

    specs: Annotated[list[str] | None, name_list("spec pattern")] = None
    creators: Annotated[list[str] | None, name_list("creator pattern")] = None
    datasets: Annotated[list[str] | None, name_list("dataset pattern")] = None


class TrackConfig(Section):
    runs: Annotated[list[str], NoDecode, BeforeValidator(run_id_list)] = Field(default_factory=list)
    all: bool = False
    kinds: Annotated[list[str], NoDecode, BeforeValidator(discovered_kinds)] = Field(
        default_factory=lambda: ["run"]
    )
    filter: TrackFilter = Field(default_factory=TrackFilter)


class DeliveryConfig(Section):
    timeout: SendTimeout = 30.0
    concurrency: int = Field(default=4, ge=1, le=64)
    retry_initial: RetryDelay = 10.0
    retry_max: RetryDelay = 600.0
    horizon: Horizon = DAY
    max_runs_per_message: int = Field(default=20, ge=1, le=1000)

    @model_validator(mode="after")
    def _a_valid_retry_policy(self) -> DeliveryConfig:
        RetryPolicy(self.retry_initial, self.retry_max, self.horizon)  # its ValueError explains
        return self


class HealthConfig(Section):
    enabled: bool = True
    listen: str = "127.0.0.1:9464"

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        parse_listen(value)
        return value.strip()

    @property
    def host(self) -> str:
        return parse_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return parse_listen(self.listen)[1]


class UiConfig(Section):
    """The status page on `health.listen` (`watcher.ui`); off loopback it needs a password
    file (HTTP basic auth as `username`)."""

    enabled: bool = False
    username: str = "watcher"
    password_file: Annotated[Path | None, BeforeValidator(expand_path)] = None

    @field_validator("username")
    @classmethod
    def _basic_auth_user(cls, value: str) -> str:
        if not value or any(c == ":" or c.isspace() for c in value):
            # HTTP basic auth sends "user:password": a colon would split it elsewhere.
            raise ValueError(f"must be a user name without ':' or spaces (got {value!r})")
        return value


def is_loopback(host: str) -> bool:
    """Whether `host` (of health.listen) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


class LogConfig(Section):
    level: Annotated[Literal["debug", "info", "warning", "error"], BeforeValidator(lower)] = "info"
    format: Annotated[Literal["auto", "json", "console"], BeforeValidator(lower)] = "auto"

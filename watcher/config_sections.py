"""The configuration's sections: one pydantic model per YAML section, with its defaults and checks.

`watcher.config.Settings` assembles them (with the channels of `watcher.config_channels`); a
section refuses unknown keys, keeps its input out of error messages and reads null as "use the
default".
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import NoDecode

from watcher.durations import Duration, PositiveDuration, at_least, format_duration

__all__ = [
    "DEFAULT_BASE_URL",
    "HOSTNAME",
    "SDK_NAMES",
    "DataframerConfig",
    "DeliveryConfig",
    "HealthConfig",
    "LogConfig",
    "PollConfig",
    "Route",
    "StateConfig",
    "TrackConfig",
    "without_password",
]

DEFAULT_BASE_URL = "https://df-api.dataframer.ai"
_TERMINAL_ORDER: tuple[str, ...] = ("SUCCEEDED", "FAILED", "CANCELED")
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)
# Names the official SDK reads, honoured below their WATCHER_ equivalents.
SDK_NAMES = {"dataframer_api_key": "api_key", "dataframer_base_url": "base_url"}


class _Section(BaseModel):
    """A config section: unknown keys refused, inputs kept out of errors, null means default."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


def without_password(url: str) -> str:
    """``url`` with the password of its userinfo (if any) masked."""
    head, sep, rest = url.partition("://")
    userinfo, at, host = rest.partition("@")
    if sep and at and "/" not in userinfo and ":" in userinfo:
        return f"{head}://{userinfo.partition(':')[0]}:***@{host}"
    return url


def _expand_path(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str | Path):
        return Path(value).expanduser()
    raise ValueError(f"must be a file path (got a {type(value).__name__})")


class DataframerConfig(_Section):
    base_url: str = DEFAULT_BASE_URL
    api_key: SecretStr | None = None
    api_key_file: Annotated[Path | None, BeforeValidator(_expand_path)] = None
    timeout: PositiveDuration = 10.0
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
            shown = without_password(value.strip())
            raise ValueError(f"must be an http(s) URL such as {DEFAULT_BASE_URL} (got {shown!r})")
        return text

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip() or None
        return value


class PollConfig(_Section):
    interval: Annotated[Duration, at_least(0.1)] = 30.0


class StateConfig(_Section):
    path: Annotated[Path, BeforeValidator(_expand_path)] = Path("state/watcher.db")
    retention: PositiveDuration = 30 * 86_400.0


def _run_ids(value: Any) -> Any:
    """Run ids: a list, a JSON list or a comma-separated string; stripped, deduplicated."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ValueError("is not a valid JSON list of run ids") from None
        else:
            value = [part for part in text.split(",") if part.strip()] if text else []
    if not isinstance(value, list | tuple):
        raise ValueError(f"must be a list of run ids (got a {type(value).__name__})")
    ids: list[str] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise ValueError(f"a run id must be a string (got {item!r})")
        run_id = str(item).strip()
        if not run_id:
            raise ValueError("a run id must not be empty")
        if run_id not in ids:
            ids.append(run_id)
    return ids


class TrackConfig(_Section):
    runs: Annotated[list[str], NoDecode, BeforeValidator(_run_ids)] = Field(default_factory=list)
    all: bool = False


def _status_set(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError(f"must be a list of statuses among {', '.join(_TERMINAL_ORDER)}")
    statuses = set()
    for item in value:
        status = item.strip().upper() if isinstance(item, str) else item
        status = "CANCELED" if status == "CANCELLED" else status
        if status not in _TERMINAL_ORDER:
            raise ValueError(
                f"unknown status {item!r}: alerts are for the terminal statuses "
                f"{', '.join(_TERMINAL_ORDER)}"
            )
        statuses.add(status)
    if not statuses:
        raise ValueError("must name at least one status (leave it out to mean all three)")
    return frozenset(statuses)


def _name_list(what: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            names = [item.strip() if isinstance(item, str) else item for item in value]
            if not names:
                raise ValueError(f"must name at least one {what}")
            if any(name == "" for name in names):
                raise ValueError(f"a {what} must not be empty")
            return list(dict.fromkeys(names))
        return value

    return BeforeValidator(check)


class Route(_Section):
    """Which terminal statuses (of runs of which specs) go to which channels.

    ``specs`` are fnmatch globs on the run's spec_name (None: any spec); the route stage
    (`watcher.route`) applies them.
    """

    statuses: Annotated[frozenset[str], BeforeValidator(_status_set)] = frozenset(_TERMINAL_ORDER)
    channels: Annotated[list[str], _name_list("channel")]
    specs: Annotated[list[str] | None, _name_list("spec pattern")] = None

    @field_serializer("statuses")
    def _ordered_statuses(self, statuses: frozenset[str]) -> list[str]:
        return [status for status in _TERMINAL_ORDER if status in statuses]


class DeliveryConfig(_Section):
    timeout: PositiveDuration = 30.0
    concurrency: int = Field(default=4, ge=1, le=64)
    retry_initial: PositiveDuration = 10.0
    retry_max: PositiveDuration = 600.0
    horizon: PositiveDuration = 86_400.0
    max_runs_per_message: int = Field(default=20, ge=1, le=1000)

    @model_validator(mode="after")
    def _retry_max_covers_initial(self) -> DeliveryConfig:
        if self.retry_max < self.retry_initial:
            raise ValueError(
                f"retry_max ({format_duration(self.retry_max)}) must be at least "
                f"retry_initial ({format_duration(self.retry_initial)})"
            )
        return self


def _parse_listen(value: str) -> tuple[str, int]:
    text = value.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = text.rpartition(":")
    problem = f'must be "host:port", such as "127.0.0.1:9464" or "[::1]:9464" (got {value!r})'
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(problem)
    if ":" in host and not text.startswith("["):
        raise ValueError(problem)  # an IPv6 address needs its brackets
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if text.startswith("[") or not HOSTNAME.match(host):
            raise ValueError(problem) from None
    return host, int(port)


class HealthConfig(_Section):
    enabled: bool = True
    listen: str = "127.0.0.1:9464"

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        _parse_listen(value)
        return value.strip()

    @property
    def host(self) -> str:
        return _parse_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return _parse_listen(self.listen)[1]


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class LogConfig(_Section):
    level: Annotated[Literal["debug", "info", "warning", "error"], BeforeValidator(_lower)] = "info"
    format: Annotated[Literal["auto", "json", "console"], BeforeValidator(_lower)] = "auto"

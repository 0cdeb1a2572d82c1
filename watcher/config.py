"""Configuration: one typed `Settings` object, loaded once by `load_settings` and passed down.

Sources, highest priority first (pydantic-settings merges them key by key):

1. keyword arguments to `Settings(...)`;
2. the environment: ``WATCHER_SECTION__KEY`` (``WATCHER_POLL__INTERVAL=5s``), then the names the
   official SDK reads, ``DATAFRAMER_API_KEY`` and ``DATAFRAMER_BASE_URL``;
3. the YAML file (``--config``, ``WATCHER_CONFIG`` or ``./watcher.yaml``);
4. secret files in ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``), named like the
   environment variables (``WATCHER_DATAFRAMER__API_KEY`` or ``DATAFRAMER_API_KEY``);
5. the defaults of the sections.

Every problem becomes one `ConfigError` whose message is a single line naming the file, the
dotted field and the reason, and never a secret value.

This module is the public face: `Settings`, `load_settings` and what the rest of the program
asks of the settings. The parts live beside it and are re-exported here: the sections in
`watcher.config_sections`, the channels in `watcher.config_channels`, the sources and the load
context in `watcher.config_sources`, `ConfigError` and its messages in `watcher.config_errors`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import Field, PrivateAttr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from watcher.config_channels import ChannelName, ChannelUrls
from watcher.config_errors import ConfigError, describe, describe_settings_error, reason
from watcher.config_sections import (
    DEFAULT_BASE_URL,
    DataframerConfig,
    DeliveryConfig,
    HealthConfig,
    LogConfig,
    PollConfig,
    Route,
    StateConfig,
    TrackConfig,
    without_password,
)
from watcher.config_sources import (
    LOAD_CONTEXT,
    LoadContext,
    build_sources,
    current_context,
    loading,
)
from watcher.redact import MIN_SECRET_LENGTH, redact_text, redact_url, url_secrets

__all__ = [
    "DEFAULT_BASE_URL",
    "ConfigError",
    "DataframerConfig",
    "DeliveryConfig",
    "HealthConfig",
    "LogConfig",
    "PollConfig",
    "Route",
    "Settings",
    "StateConfig",
    "TrackConfig",
    "config_warnings",
    "load_settings",
    "redacted_config",
    "render_config_yaml",
    "resolve_api_key",
    "secrets_of",
]


DEFAULT_CONFIG_FILE = Path("watcher.yaml")


# --- the settings object ---------------------------------------------------------------------


class Settings(BaseSettings):
    """The whole configuration. Build it with `load_settings`; see the module docstring."""

    model_config = SettingsConfigDict(
        env_prefix="WATCHER_",
        env_nested_delimiter="__",
        case_sensitive=False,
        env_ignore_empty=True,
        extra="forbid",
        hide_input_in_errors=True,
    )

    dataframer: DataframerConfig = Field(default_factory=DataframerConfig)
    poll: PollConfig = Field(default_factory=PollConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    track: TrackConfig = Field(default_factory=TrackConfig)
    channels: dict[ChannelName, ChannelUrls] = Field(default_factory=dict, repr=False)
    routes: list[Route] = Field(default_factory=list)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    log: LogConfig = Field(default_factory=LogConfig)

    _source_path: Path | None = PrivateAttr(default=None)
    _substituted: frozenset[str] = PrivateAttr(default=frozenset())
    _warnings: list[str] = PrivateAttr(default_factory=list)

    def __init__(self, **values: Any) -> None:
        if LOAD_CONTEXT.get() is not None:
            super().__init__(**values)
            return
        with loading(LoadContext(environ=os.environ)):
            super().__init__(**values)

    @property
    def source_path(self) -> Path | None:
        """The YAML file these settings were read from, if any."""
        return self._source_path

    def channel_urls(self, name: str) -> list[str]:
        """The apprise URLs of channel ``name``, ``${VAR}`` substituted; KeyError if none."""
        return list(self.channels[name])

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    @model_validator(mode="after")
    def _routes_name_known_channels(self) -> Settings:
        known = ", ".join(sorted(self.channels)) or "none are defined"
        problems = [
            f"routes[{index}].channels: unknown channel {name!r} (known channels: {known})"
            for index, route in enumerate(self.routes)
            for name in route.channels
            if name not in self.channels
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _remember_the_load(self) -> Settings:
        context = current_context()
        self._source_path = context.yaml_path
        self._substituted = frozenset(context.substituted)
        self._warnings = _warnings(self, context)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return build_sources(settings_cls, init_settings, file_secret_settings)


# --- loading ---------------------------------------------------------------------------------


def load_settings(
    path: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """The settings from ``path`` (else ``$WATCHER_CONFIG``, else ``./watcher.yaml`` if present,
    else none), the environment and the credentials directory. Raises `ConfigError`.

    ``environ`` replaces `os.environ` entirely when given (tests pass a dict).
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    if path is None and env.get("WATCHER_CONFIG", "").strip():
        path = Path(env["WATCHER_CONFIG"].strip())
    elif path is None and DEFAULT_CONFIG_FILE.exists():
        path = DEFAULT_CONFIG_FILE
    if path is not None:
        path = Path(path).expanduser()
        _check_file(path)
    context = LoadContext(environ=env, yaml_path=path)
    try:
        with loading(context):
            return Settings()
    except ConfigError as exc:
        raise ConfigError(exc.message, path=exc.path or path) from None
    except ValidationError as exc:
        raise ConfigError(describe(exc, env, Settings), path=path) from None
    except SettingsError as exc:
        raise ConfigError(describe_settings_error(exc, env), path=path) from None
    except OSError as exc:  # an unreadable credential file
        raise ConfigError(f"cannot read {exc.filename}: {reason(exc)}", path=path) from None


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ConfigError("no such file", path=path)
    if path.is_dir():
        raise ConfigError("is a directory, not a YAML file", path=path)
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {reason(exc)}", path=path) from None


# --- what the rest of the program asks of the settings --------------------------------------


def resolve_api_key(settings: Settings) -> str:
    """The Dataframer API key: ``dataframer.api_key``, else the content of ``api_key_file``."""
    config = settings.dataframer
    if config.api_key is not None:
        return config.api_key.get_secret_value()
    if config.api_key_file is None:
        raise ConfigError(
            "no Dataframer API key: set DATAFRAMER_API_KEY or dataframer.api_key_file",
            path=settings.source_path,
        )
    file = config.api_key_file
    try:
        key = file.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        problem = "is not UTF-8 text"
    except OSError as exc:
        problem = f"cannot be read: {reason(exc)}"
    else:
        if key:
            return key
        problem = "is empty"
    raise ConfigError(f"dataframer.api_key_file: {file} {problem}", path=settings.source_path)


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings hold, longest first, for the logger to scrub anywhere."""
    found: set[str] = set(settings._substituted)
    with contextlib.suppress(ConfigError):
        found.add(resolve_api_key(settings))
    with contextlib.suppress(ValueError):
        password = urlsplit(settings.dataframer.base_url).password
        if password:
            found.add(password)
    for urls in settings.channels.values():
        for url in urls:
            found.update(url_secrets(url))
    return sorted((s for s in found if len(s) >= MIN_SECRET_LENGTH), key=lambda s: (-len(s), s))


def config_warnings(settings: Settings) -> list[str]:
    """Advice that is not an error (for ``check-config``): inline secrets, unused channels."""
    return list(settings._warnings)


def _warnings(settings: Settings, context: LoadContext) -> list[str]:
    found: list[str] = []
    config = settings.dataframer
    written = context.yaml_data.get("dataframer")
    inline_key = str(written.get("api_key")).strip() if isinstance(written, dict) else None
    if config.api_key is not None and config.api_key.get_secret_value() == inline_key:
        found.append(
            f"dataframer.api_key is written in {context.yaml_path}: it is safer in "
            "DATAFRAMER_API_KEY or in a file named by dataframer.api_key_file"
        )
    if config.api_key is not None and config.api_key_file is not None:
        found.append("dataframer.api_key_file is ignored because dataframer.api_key is set")
    if settings.routes:
        routed = {name for route in settings.routes for name in route.channels}
        found.extend(
            f"channel {name!r} is named by no route and receives no alerts"
            for name in settings.channels
            if name not in routed
        )
    return found


def redacted_config(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, durations formatted, every secret hidden."""
    data = settings.model_dump(mode="json")
    config = settings.dataframer
    if config.api_key is not None:
        shown_key = "***"
    elif config.api_key_file is not None:
        shown_key = f"(from api_key_file {config.api_key_file})"
    else:
        shown_key = "(not set)"
    data["dataframer"]["api_key"] = shown_key
    data["dataframer"]["base_url"] = without_password(config.base_url)
    data["channels"] = {
        name: [redact_text(redact_url(url), settings._substituted) for url in urls]
        for name, urls in settings.channels.items()
    }
    for route in data["routes"]:
        if route.get("specs") is None:
            route.pop("specs", None)
    return data


def render_config_yaml(settings: Settings) -> str:
    """`redacted_config` as YAML, for ``check-config``."""
    return yaml.safe_dump(
        redacted_config(settings), sort_keys=False, allow_unicode=True, default_flow_style=False
    )

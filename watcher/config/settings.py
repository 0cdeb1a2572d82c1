"""`Settings` and `load_settings`: the one typed configuration object and how it is loaded."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, StringConstraints, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from watcher.config.actions import action_warnings
from watcher.config.alerting import (
    AlertsConfig,
    OpsConfig,
    Route,
    TemplateConfig,
    route_warnings,
)
from watcher.config.channels import ChannelName, ChannelUrls, unsent_parameters
from watcher.config.context import LoadContext, current_context, is_loading, loading
from watcher.config.errors import ConfigError, reason
from watcher.config.messages import describe, describe_settings_error
from watcher.config.sections import (
    DataframerConfig,
    DeliveryConfig,
    HealthConfig,
    LogConfig,
    NullMeansDefault,
    PollConfig,
    StateConfig,
    TrackConfig,
    UiConfig,
    is_loopback,
)
from watcher.config.sources import build_sources, read_yaml

__all__ = ["DEFAULT_CONFIG_FILE", "Settings", "load_settings"]

DEFAULT_CONFIG_FILE = Path("watcher.yaml")
TemplateName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$")]


# --- the settings object ---------------------------------------------------------------------


class Settings(NullMeansDefault, BaseSettings):
    """The whole configuration. Build it with `load_settings`; see `watcher.config`."""

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
    templates: dict[TemplateName, TemplateConfig] = Field(default_factory=dict)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    ops: OpsConfig = Field(default_factory=OpsConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    ui: UiConfig = Field(default_factory=UiConfig)

    _source_path: Path | None = PrivateAttr(default=None)
    _substituted: frozenset[str] = PrivateAttr(default=frozenset())
    _warnings: list[str] = PrivateAttr(default_factory=list)
    _key_field: str | None = PrivateAttr(default=None)
    _channels_expanded: bool = PrivateAttr(default=True)

    def __init__(self, **values: Any) -> None:
        if is_loading():
            super().__init__(**values)
            return
        with loading(LoadContext(environ=os.environ)):
            super().__init__(**values)

    @property
    def source_path(self) -> Path | None:
        """The YAML file these settings were read from, if any."""
        return self._source_path

    @property
    def api_key_field(self) -> str | None:
        """Which of ``dataframer.api_key`` and ``api_key_file`` gives the key: the one the
        higher-priority source set (``api_key`` when one source set both); None if neither."""
        config = self.dataframer
        if config.api_key is not None and (
            config.api_key_file is None or self._key_field != "api_key_file"
        ):
            return "api_key"
        return "api_key_file" if config.api_key_file is not None else None

    @property
    def channels_expanded(self) -> bool:
        """Whether channel URLs were ``${VAR}`` substituted and checked (see `load_settings`)."""
        return self._channels_expanded

    @property
    def substituted_values(self) -> frozenset[str]:
        """The secret values ``${VAR}`` substitution put into channel URLs."""
        return self._substituted

    @property
    def load_warnings(self) -> list[str]:
        """Advice found while loading: inline secrets, an api_key or api_key_file overridden
        by the other, unused channels, routes that can never match (a flag or STUCK that
        nothing configured raises), no channel or nothing tracked
        (`watcher.config.config_warnings` gives them to check-config and to `run`)."""
        return list(self._warnings)

    @model_validator(mode="after")
    def _routes_name_known_channels(self) -> Settings:
        known = ", ".join(sorted(self.channels)) or "none are defined"
        problems = [
            f"routes[{index}].channels: unknown channel {name!r} (known channels: {known})"
            for index, route in enumerate(self.routes)
            for name in route.channels
            if name not in self.channels
        ]
        problems += [
            f"ops.channels: unknown channel {name!r} (known channels: {known})"
            for name in self.ops.channels
            if name not in self.channels
        ]
        templates = ", ".join(sorted(self.templates)) or "none are defined"
        problems += [
            f"routes[{index}].template: unknown template {route.template!r}"
            f" (known templates: {templates})"
            for index, route in enumerate(self.routes)
            if route.template is not None and route.template not in self.templates
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _ui_off_loopback_needs_a_password(self) -> Settings:
        # The page shows runs, costs and creators: never to the network without a password.
        ui, health = self.ui, self.health
        off_loopback = health.enabled and not is_loopback(health.host)
        if ui.enabled and off_loopback and ui.password_file is None:
            raise ValueError(
                f"ui.password_file: required with ui.enabled when health.listen"
                f" ({health.listen}) is not a loopback address"
            )
        return self

    @model_validator(mode="after")
    def _remember_the_load(self) -> Settings:
        context = current_context()
        self._source_path = context.yaml_path
        self._substituted = frozenset(context.substituted)
        self._key_field = context.key_field
        self._channels_expanded = context.expand_channels
        self._warnings = _load_warnings(self, context)
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


def _load_warnings(settings: Settings, context: LoadContext) -> list[str]:
    """`Settings.load_warnings`, from what the sources noted on the way."""
    found: list[str] = []
    config = settings.dataframer
    written = context.yaml_data.get("dataframer")
    inline_key = str(written.get("api_key")).strip() if isinstance(written, dict) else None
    if config.api_key is not None and config.api_key.get_secret_value() == inline_key:
        found.append(
            f"dataframer.api_key is written in {context.yaml_path}: it is safer in "
            "DATAFRAMER_API_KEY or in a file named by dataframer.api_key_file"
        )
    for field, where in dict.fromkeys(context.key_ignored):
        winner = f"dataframer.{context.key_field}"
        found.append(
            f"dataframer.{field} (from {where}) is ignored: {winner} is set there too, and wins"
            if where == context.key_origin
            else f"dataframer.{field} (from {where}) is ignored: {winner} "
            f"(from {context.key_origin}) takes precedence"
        )
    if settings.routes:
        routed = {name for route in settings.routes for name in route.channels}
        found.extend(
            f"channel {name!r} is named by no route and receives no alerts"
            for name in settings.channels
            if name not in routed
        )
    found.extend(route_warnings(settings.routes, settings.alerts))
    found.extend(action_warnings(settings.routes))
    if context.expand_channels:  # the URLs as apprise reads them (not ${VAR} placeholders)
        found.extend(_unsent_parameter_warnings(settings))
    found.extend(_reach_warnings(settings))
    if settings.ui.enabled and not settings.health.enabled:
        found.append("ui.enabled is set but health.enabled is false: the status page is not served")
    return found


def _unsent_parameter_warnings(settings: Settings) -> list[str]:
    """A query parameter apprise drops (json://...?token=abc), named with where it is and
    the form that is sent; never its value, which may be a secret."""
    found: list[str] = []
    for name, urls in settings.channels.items():
        for index, url in enumerate(urls):
            where = f"channels.{name}" + (f"[{index}]" if len(urls) > 1 else "")
            scheme = url.partition("://")[0]
            found.extend(
                f"{where}: apprise's {scheme}:// does not send the query parameter {key!r} "
                f"(it reads only its own options from the query): write it as '-{key}=' "
                "to have it sent"
                for key in unsent_parameters(url)
            )
    return found


def _reach_warnings(settings: Settings) -> list[str]:
    """A config that can never alert is valid (every key is optional) but surely not meant:
    no channel to send to, or no run to watch."""
    found: list[str] = []
    if not settings.channels:
        found.append(
            "no channels are configured, so no alert can be sent: add an apprise URL under "
            "`channels:`"
        )
    if not settings.track.runs and not settings.track.all:
        found.append(
            "nothing is tracked: track.runs is empty and track.all is false, so only runs "
            "added with `dataframer-watcher track RUN_ID` are watched"
        )
    return found


# --- loading ---------------------------------------------------------------------------------


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    expand_channels: bool = True,
    reload: bool = False,
) -> Settings:
    """The settings from ``path`` (else ``$WATCHER_CONFIG``, else ``./watcher.yaml`` if present,
    else none), the environment and the credentials directory. Raises `ConfigError`.

    ``environ`` replaces `os.environ` entirely when given (tests pass a dict).
    ``expand_channels=False`` is for commands that never send (status, history, track, ...):
    channel URLs are kept as written, neither ``${VAR}`` substituted nor checked by apprise
    (an operator's shell often lacks tokens only the service's environment holds); channel
    names are still read, so routes are still checked against them.

    The file is read once, whatever it is (a regular file, a pipe, ``/dev/stdin``), and that
    one reading is what the settings hold. ``reload=True`` (SIGHUP) reads the path again,
    which only a regular file can give: a pipe's content was consumed at start (reading it
    again would block, or find it empty and fall back to the defaults), so it is refused
    with a `ConfigError` and the caller keeps the config in force.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    if path is None and env.get("WATCHER_CONFIG", "").strip():
        path = Path(env["WATCHER_CONFIG"].strip())
    elif path is None and DEFAULT_CONFIG_FILE.exists():
        path = DEFAULT_CONFIG_FILE
    yaml_data: dict[str, Any] = {}
    if path is not None:
        path = Path(path).expanduser()
        if reload:
            _check_rereadable(path)
        yaml_data = read_yaml(path)
    context = LoadContext(
        environ=env, yaml_path=path, yaml_data=yaml_data, expand_channels=expand_channels
    )
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


# What a path that is not a regular file is, for the message that refuses to read it again.
_NOT_A_FILE = ((stat.S_ISFIFO, "a pipe"), (stat.S_ISCHR, "a device"), (stat.S_ISSOCK, "a socket"))


def _check_rereadable(path: Path) -> None:
    """Refuse to read again a config that is not a regular file (a reload)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # read_yaml names the problem
    kind = next((name for test, name in _NOT_A_FILE if test(mode)), None)
    if kind is not None:
        raise ConfigError(
            f"is {kind}, read once at start: it cannot be read again, so the config in "
            "force is kept (restart the watcher to change it, or give it a regular file)",
            path=path,
        )

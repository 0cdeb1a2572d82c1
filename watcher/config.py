"""Configuration: one typed `Settings` object, loaded once by `load_settings` and passed down.

Sources, highest priority first (pydantic-settings merges them key by key):

1. keyword arguments to `Settings(...)`;
2. the environment: ``WATCHER_SECTION__KEY`` (``WATCHER_POLL__INTERVAL=5s``), then the names the
   official SDK reads, ``DATAFRAMER_API_KEY`` and ``DATAFRAMER_BASE_URL``;
3. the YAML file (``--config``, ``WATCHER_CONFIG`` or ``./watcher.yaml``);
4. secret files in ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``), named like the
   environment variables (``WATCHER_DATAFRAMER__API_KEY`` or ``DATAFRAMER_API_KEY``);
5. the defaults below.

Every problem becomes one `ConfigError` whose message is a single line naming the file, the
dotted field and the reason, and never a secret value.
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NestedSecretsSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from watcher.durations import Duration, PositiveDuration, at_least, format_duration
from watcher.errors import WatcherError
from watcher.redact import MIN_SECRET_LENGTH, apprise_plugin, redact_text, redact_url, url_secrets

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

DEFAULT_BASE_URL = "https://df-api.dataframer.ai"
_TERMINAL_ORDER: tuple[str, ...] = ("SUCCEEDED", "FAILED", "CANCELED")
DEFAULT_CONFIG_FILE = Path("watcher.yaml")
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)
_VARIABLE = re.compile(
    r"\$(?:(?P<dollar>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\})"
)
# Names the official SDK reads, honoured below their WATCHER_ equivalents.
_SDK_NAMES = {"dataframer_api_key": "api_key", "dataframer_base_url": "base_url"}


class ConfigError(WatcherError):
    """Bad configuration: ``str()`` is one line, "config error in FILE: field.path: reason"."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        self.message = " ".join(message.splitlines()).strip()
        self.path = path
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f" in {self.path}" if self.path is not None else ""
        return f"config error{where}: {self.message}"


# --- the load context: what a load reads, and what it learns on the way ---------------------


@dataclass
class _LoadContext:
    environ: Mapping[str, str]
    yaml_path: Path | None = None
    yaml_data: dict[str, Any] = field(default_factory=dict)
    substituted: set[str] = field(default_factory=set)

    @property
    def secrets_dir(self) -> Path | None:
        directory = self.environ.get("CREDENTIALS_DIRECTORY", "").strip()
        return Path(directory) if directory else None


# Sources and validators cannot take arguments from `load_settings`; this carries them.
_CONTEXT: ContextVar[_LoadContext | None] = ContextVar("watcher_config_load", default=None)


@contextmanager
def _loading(context: _LoadContext) -> Iterator[_LoadContext]:
    token = _CONTEXT.set(context)
    try:
        yield context
    finally:
        _CONTEXT.reset(token)


def _context() -> _LoadContext:
    return _CONTEXT.get() or _LoadContext(environ=os.environ)


# --- the schema ------------------------------------------------------------------------------


class _Section(BaseModel):
    """A config section: unknown keys refused, inputs kept out of errors, null means default."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


def _without_password(url: str) -> str:
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
            shown = _without_password(value.strip())
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
        if text.startswith("[") or not _HOSTNAME.match(host):
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


# --- channels: ${VAR} substitution and apprise's approval -----------------------------------


def _substitute(url: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """``url`` with ``${VAR}``, ``${VAR:-default}`` and ``$$`` expanded; also the values used."""
    used: list[str] = []
    pieces: list[str] = []
    position = 0
    for match in _VARIABLE.finditer(url):
        pieces.append(_literal(url[position : match.start()]))
        position = match.end()
        if match.group("dollar"):
            pieces.append("$")
            continue
        name, default = match.group("name"), match.group("default")
        value = environ.get(name)
        if not value and default is not None:
            value = default
        if value is None:
            raise ValueError(f"environment variable {name} is not set (used as ${{{name}}})")
        used.append(value)
        pieces.append(value)
    return "".join(pieces) + _literal(url[position:]), used


def _literal(text: str) -> str:
    if "${" in text:
        raise ValueError("has a malformed ${...}: write ${NAME}, ${NAME:-default}, or $$ for a $")
    return text


def _channel_name(name: str) -> str:
    if not _CHANNEL_NAME.match(name):
        raise ValueError(f"channel name {name!r} may only use letters, digits, '_', '.' and '-'")
    return name


def _url_list(value: Any) -> Any:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)  # WATCHER_CHANNELS__TEAM='["json://a", "json://b"]'
        except ValueError:
            raise ValueError("is not a valid JSON list of apprise URLs") from None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) and not value:
        raise ValueError("must give at least one apprise URL")
    return value


def _looks_public(value: str) -> bool:
    """A substituted value that is plainly not a secret: a number, a host name, an address."""
    if value.isdigit() or value == "localhost":
        return True
    if "." in value and _HOSTNAME.match(value) and value.rpartition(".")[2].isalpha():
        return True  # hooks.example.com; not "opaquesecret", nor a token with dots
    return bool(re.fullmatch(r"[^@\s:/]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", value))  # an address


def _expand_and_check(urls: list[str]) -> list[str]:
    context = _context()
    checked: list[str] = []
    for index, raw in enumerate(urls):
        which = f"URL {index + 1}: " if len(urls) > 1 else ""
        url, used = _substitute(raw.strip(), context.environ)
        context.substituted.update(v for v in used if not _looks_public(v))
        if not url:
            raise ValueError(f"{which}an apprise URL must not be empty")
        if apprise_plugin(url) is None:
            raise ValueError(
                f"{which}apprise cannot use {redact_url(url)!r} "
                "(an unknown service, or a malformed URL for it)"
            )
        if url not in checked:
            checked.append(url)
    return checked


ChannelName = Annotated[str, AfterValidator(_channel_name)]
ChannelUrls = Annotated[
    list[str], NoDecode, BeforeValidator(_url_list), AfterValidator(_expand_and_check)
]


# --- the settings object and its sources -----------------------------------------------------


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
        if _CONTEXT.get() is not None:
            super().__init__(**values)
            return
        with _loading(_LoadContext(environ=os.environ)):
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
        context = _context()
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
        context = _context()
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            _MappingEnvSource(settings_cls, context.environ),
            _SdkNamesSource(settings_cls, context.environ),
        ]
        if context.yaml_path is not None:
            sources.append(_YamlSource(settings_cls, context))
        secrets_dir = context.secrets_dir
        if secrets_dir is not None and secrets_dir.exists():
            if not secrets_dir.is_dir():
                raise ConfigError(f"CREDENTIALS_DIRECTORY {secrets_dir} is not a directory")
            sources.append(
                NestedSecretsSettingsSource(file_secret_settings, secrets_dir=secrets_dir)
            )
            sources.append(_SdkNamesSource(settings_cls, _secret_files(secrets_dir)))
        return tuple(sources)


class _MappingEnvSource(EnvSettingsSource):
    """The standard environment source, reading a given mapping instead of `os.environ`."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {
            (name if self.case_sensitive else name.lower()): value
            for name, value in self._environ.items()
            if not (self.env_ignore_empty and value == "")
        }


class _SdkNamesSource(PydanticBaseSettingsSource):
    """``DATAFRAMER_API_KEY`` and ``DATAFRAMER_BASE_URL``: the official SDK's variable names."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._values = {name.lower(): value for name, value in values.items()}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ does the work; the ABC wants this defined

    def __call__(self) -> dict[str, Any]:
        section = {
            key: self._values[name]
            for name, key in _SDK_NAMES.items()
            if self._values.get(name, "").strip()
        }
        return {"dataframer": section} if section else {}


def _secret_files(directory: Path) -> dict[str, str]:
    """The SDK-named secret files in ``directory`` (any case), stripped."""
    found: dict[str, str] = {}
    for entry in directory.iterdir():
        if entry.name.lower() in _SDK_NAMES and entry.is_file():
            try:
                found[entry.name] = entry.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read credential {entry}: {_reason(exc)}") from None
    return found


class _YamlSource(YamlConfigSettingsSource):
    """The YAML file, parsed strictly: clear errors with line numbers, duplicate keys refused."""

    def __init__(self, settings_cls: type[BaseSettings], context: _LoadContext) -> None:
        self._load_context = context
        super().__init__(settings_cls, yaml_file=context.yaml_path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        data = _parse_yaml(Path(file_path))
        self._load_context.yaml_data = data
        return data


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # an unhashable key: construct_mapping reports it
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parse_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("is not UTF-8 text", path=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {_reason(exc)}", path=path) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(f"{where}invalid YAML: {exc.problem}", path=path) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {type(exc).__name__}", path=path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            "the top level must be a mapping of sections such as 'poll:' and 'channels:' "
            f"(got a {_yaml_kind(data)})",
            path=path,
        )
    return data


def _yaml_kind(value: object) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return type(exc).__name__


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
    context = _LoadContext(environ=env, yaml_path=path)
    try:
        with _loading(context):
            return Settings()
    except ConfigError as exc:
        raise ConfigError(exc.message, path=exc.path or path) from None
    except ValidationError as exc:
        raise ConfigError(_describe(exc, env), path=path) from None
    except SettingsError as exc:
        raise ConfigError(_describe_settings_error(exc, env), path=path) from None
    except OSError as exc:  # an unreadable credential file
        raise ConfigError(f"cannot read {exc.filename}: {_reason(exc)}", path=path) from None


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ConfigError("no such file", path=path)
    if path.is_dir():
        raise ConfigError("is a directory, not a YAML file", path=path)
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {_reason(exc)}", path=path) from None


_SAFE_INPUT_SECTIONS = {"poll", "state", "track", "routes", "delivery", "health", "log"}


def _describe(exc: ValidationError, environ: Mapping[str, str]) -> str:
    """One line for all of ``exc``'s errors, each "dotted.path (from ENV): reason"."""
    parts: list[str] = []
    for error in exc.errors(include_url=False, include_context=False):
        loc = tuple(error["loc"])
        message = error["msg"]
        kind = error["type"]
        if kind == "extra_forbidden":
            message = "unknown key" + _suggestion(loc)
        elif kind == "missing":
            message = "is required"
        elif kind in ("model_type", "dict_type", "model_attributes_type"):
            message = "must be a mapping of keys to values"
            shown = _shown_input(loc, error.get("input"))
            message += f" (got {shown})" if shown is not None else ""
        elif kind in ("value_error", "assertion_error"):
            message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        else:
            message = message[:1].lower() + message[1:]
            shown = _shown_input(loc, error.get("input"))
            if shown is not None:
                message += f" (got {shown})"
        where = _dotted(loc) + _env_origin(loc, environ)
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(dict.fromkeys(parts))


def _dotted(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            continue
        elif re.fullmatch(r"[A-Za-z0-9_.-]+", part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model whose fields the last element of ``loc`` is a key of."""
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        annotation = info.annotation if info is not None else None
        if get_origin(annotation) is list:  # routes: list[Route]
            annotation = get_args(annotation)[0]
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _suggestion(loc: tuple[int | str, ...]) -> str:
    model = _model_at(loc)
    if model is None or not loc or not isinstance(loc[-1], str):
        return ""
    known = list(model.model_fields)
    close = difflib.get_close_matches(loc[-1].lower(), known, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known keys: {', '.join(known)})"


def _shown_input(loc: tuple[int | str, ...], value: Any) -> str | None:
    """``repr(value)`` when it is safe to print: a scalar of a section that holds no secret."""
    if not isinstance(value, str | int | float | bool) or not loc:
        return None
    text = repr(value)
    if loc[0] in _SAFE_INPUT_SECTIONS or loc[:2] in (
        ("dataframer", "timeout"),
        ("dataframer", "max_concurrency"),
    ):
        return text if len(text) <= 80 else text[:77] + "..."
    return None


def _env_origin(loc: tuple[int | str, ...], environ: Mapping[str, str]) -> str:
    """Which variable set the value at fault, as " (from WATCHER_POLL__INTERVAL)", or ""."""
    names = [str(part) for part in loc if part != "[key]"]
    first_index = next((i for i, part in enumerate(loc) if isinstance(part, int)), None)
    if first_index is not None:
        names = [str(part) for part in loc[:first_index]]
    if not names:
        return ""
    present = {name.upper() for name, value in environ.items() if value != ""}
    candidate = "WATCHER_" + "__".join(names).upper()
    if candidate in present:
        return f" (from {candidate})"
    if len(names) == 2 and names[0] == "dataframer":
        sdk_name = f"DATAFRAMER_{names[1].upper()}"
        if sdk_name.lower() in _SDK_NAMES and sdk_name in present:
            return f" (from {sdk_name})"
    return ""


def _describe_settings_error(exc: SettingsError, environ: Mapping[str, str]) -> str:
    """pydantic-settings' own errors: a JSON value it could not decode, a bad secrets dir."""
    match = re.search(r'error parsing value for field "([^"]+)"', str(exc))
    if match is None:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    name = match.group(1)
    origin = _env_origin((name,), environ) or " (from the environment or a credential file)"
    return f"{name}{origin}: is not valid JSON"


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
        problem = f"cannot be read: {_reason(exc)}"
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


def _warnings(settings: Settings, context: _LoadContext) -> list[str]:
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
    data["dataframer"]["base_url"] = _without_password(config.base_url)
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

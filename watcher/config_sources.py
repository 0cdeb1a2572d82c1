"""Where settings come from: the load context, and the pydantic-settings sources that read it.

`build_sources` lists them, highest priority first: keyword arguments, the environment
(``WATCHER_SECTION__KEY``, then the SDK's ``DATAFRAMER_*`` names), the YAML file (parsed
strictly) and the credentials directory. The load context carries what `load_settings` was
given (the environment, the YAML path) to the sources and validators, which cannot take
arguments, and collects what they learn on the way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    YamlConfigSettingsSource,
)

from watcher.config_errors import ConfigError, reason
from watcher.config_sections import SDK_NAMES

__all__ = ["LOAD_CONTEXT", "LoadContext", "build_sources", "current_context", "loading"]

# --- the load context: what a load reads, and what it learns on the way ---------------------


@dataclass
class LoadContext:
    environ: Mapping[str, str]
    yaml_path: Path | None = None
    yaml_data: dict[str, Any] = field(default_factory=dict)
    substituted: set[str] = field(default_factory=set)

    @property
    def secrets_dir(self) -> Path | None:
        directory = self.environ.get("CREDENTIALS_DIRECTORY", "").strip()
        return Path(directory) if directory else None


# Sources and validators cannot take arguments from `load_settings`; this carries them.
LOAD_CONTEXT: ContextVar[LoadContext | None] = ContextVar("watcher_config_load", default=None)


@contextmanager
def loading(context: LoadContext) -> Iterator[LoadContext]:
    token = LOAD_CONTEXT.set(context)
    try:
        yield context
    finally:
        LOAD_CONTEXT.reset(token)


def current_context() -> LoadContext:
    return LOAD_CONTEXT.get() or LoadContext(environ=os.environ)


# --- the sources -----------------------------------------------------------------------------


def build_sources(
    settings_cls: type[BaseSettings],
    init_settings: PydanticBaseSettingsSource,
    file_secret_settings: PydanticBaseSettingsSource,
) -> tuple[PydanticBaseSettingsSource, ...]:
    """The sources of one load, highest priority first (``Settings.settings_customise_sources``)."""
    context = current_context()
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
        sources.append(NestedSecretsSettingsSource(file_secret_settings, secrets_dir=secrets_dir))
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
            for name, key in SDK_NAMES.items()
            if self._values.get(name, "").strip()
        }
        return {"dataframer": section} if section else {}


def _secret_files(directory: Path) -> dict[str, str]:
    """The SDK-named secret files in ``directory`` (any case), stripped."""
    found: dict[str, str] = {}
    for entry in directory.iterdir():
        if entry.name.lower() in SDK_NAMES and entry.is_file():
            try:
                found[entry.name] = entry.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read credential {entry}: {reason(exc)}") from None
    return found


class _YamlSource(YamlConfigSettingsSource):
    """The YAML file, parsed strictly: clear errors with line numbers, duplicate keys refused."""

    def __init__(self, settings_cls: type[BaseSettings], context: LoadContext) -> None:
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
        raise ConfigError(f"cannot read the file: {reason(exc)}", path=path) from None
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

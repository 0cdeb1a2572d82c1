"""Where settings come from: the pydantic-settings sources of one load, over its context.

`build_sources` lists them, highest priority first: keyword arguments, the environment
(``WATCHER_SECTION__KEY``, then the SDK's ``DATAFRAMER_*`` names), the YAML file (parsed
strictly) and the credentials directory. Each is read through `_LoadSource`, which does what
every source needs before pydantic-settings merges them key by key:

- channel names are folded (`watcher.config.values.fold_channel_names`), so a channel spelled
  ``OnCall`` in the file and ``oncall`` by ``WATCHER_CHANNELS__ONCALL`` is one channel, which
  the environment overrides;
- ``dataframer.api_key`` and ``dataframer.api_key_file`` are two ways to give one setting, the
  key: the highest-priority source that gives either decides which one is used.

The YAML file is read once, by `read_yaml` (`load_settings` calls it before the sources are
built), and its source serves that one reading: a config given through a pipe
(``--config <(...)``, ``/dev/stdin``, a FIFO) has no second reading to give.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
)

from watcher.config.context import LoadContext, current_context
from watcher.config.env import SDK_NAMES, unknown_variables
from watcher.config.errors import ConfigError, reason
from watcher.config.values import fold_channel_names, kind_of

__all__ = ["build_sources", "read_yaml"]


def build_sources(
    settings_cls: type[BaseSettings],
    init_settings: PydanticBaseSettingsSource,
    file_secret_settings: PydanticBaseSettingsSource,
) -> tuple[PydanticBaseSettingsSource, ...]:
    """The sources of one load, highest priority first (``Settings.settings_customise_sources``)."""
    context = current_context()
    problems = unknown_variables(context.environ, settings_cls)
    if problems:
        raise ConfigError("; ".join(problems))
    environ = {name.upper() for name, value in context.environ.items() if value}

    def env_name(key: str) -> str:
        name = f"WATCHER_DATAFRAMER__{key.upper()}"
        return name if name in environ else "WATCHER_DATAFRAMER"

    sources: list[PydanticBaseSettingsSource] = [
        _LoadSource(init_settings, context, lambda key: "the arguments"),
        _LoadSource(_MappingEnvSource(settings_cls, context.environ), context, env_name),
        _LoadSource(_SdkNamesSource(settings_cls, context.environ), context, lambda key: _SDK_KEY),
    ]
    if context.yaml_path is not None:
        yaml_path = str(context.yaml_path)
        yaml_source = _YamlSource(settings_cls, context)
        sources.append(_LoadSource(yaml_source, context, lambda key: yaml_path, context.yaml_path))
    secrets_dir = context.secrets_dir
    if secrets_dir is not None and secrets_dir.exists():
        if not secrets_dir.is_dir():
            raise ConfigError(f"CREDENTIALS_DIRECTORY {secrets_dir} is not a directory")
        nested = NestedSecretsSettingsSource(file_secret_settings, secrets_dir=secrets_dir)
        where = f"a credential file in {secrets_dir}"
        sources.append(_LoadSource(nested, context, lambda key: where))
        sdk_files = _SdkNamesSource(settings_cls, _secret_files(secrets_dir))
        sources.append(_LoadSource(sdk_files, context, lambda key: where))
    return tuple(sources)


_SDK_KEY = "DATAFRAMER_API_KEY"
_KEY_FIELDS = ("api_key", "api_key_file")


def _gives(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


class _LoadSource(PydanticBaseSettingsSource):
    """A source as the load reads it: its channel names folded, and who gives the key noted.

    Sources are called highest priority first. The first to give either key field decides
    which one `resolve_api_key` uses (``api_key`` if it gives both); the other field, wherever
    a lower source gives it, is noted as ignored. Nothing is dropped: every value is validated.
    """

    def __init__(
        self,
        inner: PydanticBaseSettingsSource,
        context: LoadContext,
        where: Callable[[str], str],
        path: Path | None = None,
    ) -> None:
        super().__init__(inner.settings_cls)
        self._inner = inner
        self._context = context
        self._where = where
        self._path = path  # the file this source reads, named by its errors

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        data = self._inner()
        if isinstance(data.get("channels"), dict):
            try:
                data = {**data, "channels": fold_channel_names(data["channels"])}
            except ValueError as exc:
                raise ConfigError(str(exc), path=self._path) from None
        self._note_the_key(data.get("dataframer"))
        return data

    def _note_the_key(self, section: Any) -> None:
        given = [
            key for key in _KEY_FIELDS if isinstance(section, dict) and _gives(section.get(key))
        ]
        context = self._context
        if given and context.key_field is None:
            context.key_field, context.key_origin = given[0], self._where(given[0])
        context.key_ignored.extend(
            (key, self._where(key)) for key in given if key != context.key_field
        )


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


class _YamlSource(InitSettingsSource):
    """The YAML file's values, as `read_yaml` read them for this load.

    Not pydantic-settings' `YamlConfigSettingsSource`: it reads the file itself, and only
    when ``is_file()`` says it is a regular file, so a piped config was silently skipped.
    """

    def __init__(self, settings_cls: type[BaseSettings], context: LoadContext) -> None:
        super().__init__(settings_cls, dict(context.yaml_data))


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


def read_yaml(path: Path) -> dict[str, Any]:
    """The YAML file at ``path``, read once and parsed strictly: clear errors with line
    numbers, a key given twice refused. Raises `ConfigError` naming the file.

    Opened and read in one go, whatever the file is: a pipe gives its content once, so
    nothing may open it before (to check it) or after (to read it again).
    """
    try:
        with path.open("rb") as file:
            raw = file.read()
    except FileNotFoundError:
        raise ConfigError("no such file", path=path) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a YAML file", path=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {reason(exc)}", path=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("is not UTF-8 text", path=path) from None
    return _parse_yaml(text, path)


def _parse_yaml(text: str, path: Path) -> dict[str, Any]:
    try:
        loader = _StrictLoader(text)  # its reader already refuses control characters
        try:  # composed, then constructed: the node tree gives the lines of the keys
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(f"{where}invalid YAML: {exc.problem}", path=path) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {type(exc).__name__}", path=path) from None
    except (ValueError, OverflowError):  # a 5000-digit number, a date such as 2024-13-45
        raise ConfigError(
            "invalid YAML: a value cannot be read (a number too long, or an impossible date)",
            path=path,
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            "the top level must be a mapping of sections such as 'poll:' and 'channels:' "
            f"(got {kind_of(data)})",
            path=path,
        )
    _check_section_names(data, node, path)
    return data


def _check_section_names(data: dict[Any, Any], node: yaml.Node | None, path: Path) -> None:
    """Refuse a top-level key that is not a string (``1:``, ``true:``, ``null:``)."""
    bad = [key for key in data if not isinstance(key, str)]
    if not bad:
        return
    lines = [
        key_node.start_mark.line + 1
        for key_node, _ in (node.value if isinstance(node, yaml.MappingNode) else [])
        if key_node.tag not in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:merge")
    ]
    where = f"line {lines[0]}: " if lines else ""
    raise ConfigError(
        f"{where}top-level key {_yaml_text(bad[0])} is not a section name such as 'poll' "
        f"or 'channels' (got {kind_of(bad[0])})",
        path=path,
    )


def _yaml_text(key: Any) -> str:
    """A key as the YAML file wrote it: null, true, 1."""
    if key is None or isinstance(key, bool):
        return {None: "null", True: "true", False: "false"}[key]
    return repr(key)

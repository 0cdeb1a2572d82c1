"""What the rest of the program asks of loaded settings: the API key, the secrets to scrub from
logs, and check-config's warnings and redacted view. Re-exported by `watcher.config`.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import yaml

from watcher.config.errors import ConfigError, reason
from watcher.config.settings import Settings
from watcher.redact import (
    MIN_SECRET_LENGTH,
    redact_text,
    redact_url,
    redact_value,
    scrubbable,
    url_secrets,
    value_secrets,
)

__all__ = [
    "config_warnings",
    "redacted_config",
    "render_config_yaml",
    "resolve_api_key",
    "secrets_of",
]

# A ``${VAR}`` left in an unexpanded channel URL (also URL-encoded): a name, not a secret.
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}|%24%7B.*?%7D", re.IGNORECASE)


def resolve_api_key(settings: Settings) -> str:
    """The Dataframer API key: ``dataframer.api_key`` or the content of ``api_key_file``,
    whichever the higher-priority source gave (`Settings.api_key_field`)."""
    config = settings.dataframer
    field = settings.api_key_field
    if field == "api_key" and config.api_key is not None:
        return config.api_key.get_secret_value()
    if config.api_key_file is None:
        raise ConfigError(
            "no Dataframer API key: set DATAFRAMER_API_KEY or dataframer.api_key_file",
            path=settings.source_path,
        )
    return _secret_file(config.api_key_file, "dataframer.api_key_file", settings)


def resolve_ui_password(settings: Settings) -> str | None:
    """The status page's password (the content of ``ui.password_file``), or None if unset."""
    file = settings.ui.password_file
    return None if file is None else _secret_file(file, "ui.password_file", settings)


def _secret_file(file: Path, key: str, settings: Settings) -> str:
    """A secret file's content, stripped; ConfigError naming `key` if unreadable or empty."""
    try:
        secret = file.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        problem = "is not UTF-8 text"
    except OSError as exc:
        problem = f"cannot be read: {reason(exc)}"
    else:
        if secret:
            return secret
        problem = "is empty"
    raise ConfigError(f"{key}: {file} {problem}", path=settings.source_path)


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings hold, longest first, for the logger to scrub anywhere.

    Settings loaded with ``expand_channels=False`` hold their channel URLs as written: only
    the secrets written in them literally are found (nothing was substituted), not the
    ``${VAR}`` placeholders apprise reads as tokens.
    """
    found: set[str] = set(settings.substituted_values)
    with contextlib.suppress(ConfigError):
        found.add(resolve_api_key(settings))
    with contextlib.suppress(ConfigError):
        found.add(resolve_ui_password(settings) or "")
    if settings.dataframer.api_key is not None:  # even one api_key_file overrides
        found.add(settings.dataframer.api_key.get_secret_value())
    # A password in its userinfo, a token in its query: what check-config's view masks.
    found.update(value_secrets(settings.dataframer.base_url))
    for urls in settings.channels.values():
        for url in urls:
            found.update(url_secrets(url))
    if not settings.channels_expanded:
        found = {s for s in found if len(_PLACEHOLDER.sub("", s)) >= MIN_SECRET_LENGTH}
    return scrubbable(found)


def config_warnings(settings: Settings) -> list[str]:
    """Advice that is not an error, found by the load, one line each: inline secrets, an
    api_key or api_key_file overridden by the other, channels no route names, no channel at
    all, nothing tracked. ``check-config`` prints them as ``warning: ...``; `run` logs them
    at start."""
    return list(settings.load_warnings)


def redacted_config(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, durations formatted, every secret hidden."""
    data = settings.model_dump(mode="json")
    config = settings.dataframer
    field = settings.api_key_field
    if field == "api_key":
        shown_key = "***"
    elif field == "api_key_file":
        shown_key = f"(from api_key_file {config.api_key_file})"
    else:
        shown_key = "(not set)"
    data["dataframer"]["api_key"] = shown_key
    data["dataframer"]["base_url"] = redact_value(config.base_url)
    data["channels"] = {
        name: [redact_text(redact_url(url), settings.substituted_values) for url in urls]
        for name, urls in settings.channels.items()
    }
    # A route shows what it was given: its optional filters left out read as "any".
    data["routes"] = [
        {
            key: value
            for key, value in route.items()
            if value is not None and value is not False and value != []
        }
        for route in data["routes"]
    ]
    for route in data["routes"]:
        if "actions" in route:
            route["actions"] = [_shown_action(a, settings) for a in route["actions"]]
    return data


def _shown_action(action: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """An action as given (its unused keys left out), a secret in its arguments masked."""
    shown = {key: value for key, value in action.items() if value is not None}
    if "exec" in shown:
        shown["exec"] = [redact_text(arg, settings.substituted_values) for arg in shown["exec"]]
    return shown


def render_config_yaml(settings: Settings) -> str:
    """`redacted_config` as YAML, for ``check-config``."""
    return yaml.safe_dump(
        redacted_config(settings), sort_keys=False, allow_unicode=True, default_flow_style=False
    )

"""Configuration: one typed `Settings` object, loaded once by `load_settings` and passed down.

Sources, highest priority first (pydantic-settings merges them key by key):

1. keyword arguments to `Settings(...)`;
2. the environment: ``WATCHER_SECTION__KEY`` (``WATCHER_POLL__INTERVAL=5s``), then the names the
   official SDK reads, ``DATAFRAMER_API_KEY`` and ``DATAFRAMER_BASE_URL``;
3. the YAML file (``--config``, ``WATCHER_CONFIG`` or ``./watcher.yaml``);
4. secret files in ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``), named like the
   environment variables (``WATCHER_DATAFRAMER__API_KEY`` or ``DATAFRAMER_API_KEY``);
5. the defaults of the sections.

``dataframer.api_key`` and ``dataframer.api_key_file`` are one setting: the highest source
that gives either decides which is used (``api_key`` when one source gives both). Channel
names are case-insensitive (kept in lower case: `channel_key`). A ``WATCHER_*`` variable that
sets nothing is an error, as is an unknown key in the file.

Every problem becomes one `ConfigError` whose message is a single line naming the file, the
dotted field and the reason, and never a secret value.

The modules, from the bottom up (each imports only modules listed before it):

- `values` (single values and their checks), `durations`, `fields` (the walk over the
  model's fields), `context` (what one load reads and learns), `errors` (`ConfigError`);
- `env` (the ``WATCHER_*`` and SDK names), `messages` (pydantic's errors as one line);
- `sections` (a model per YAML section), `channels`, `sources` (where values come from);
- `settings` (`Settings` and `load_settings`);
- `report` (the API key, the secrets to scrub, check-config's warnings and redacted view).
"""

from watcher.config.alerting import AlertsConfig, OpsConfig, Route, TemplateConfig
from watcher.config.errors import ConfigError
from watcher.config.report import (
    config_warnings,
    redacted_config,
    render_config_yaml,
    resolve_api_key,
    resolve_ui_password,
    secrets_of,
)
from watcher.config.sections import (
    DataframerConfig,
    DeliveryConfig,
    HealthConfig,
    LogConfig,
    PollConfig,
    StateConfig,
    TrackConfig,
    UiConfig,
)
from watcher.config.settings import Settings, load_settings
from watcher.config.values import channel_key

__all__ = [
    "AlertsConfig",
    "ConfigError",
    "DataframerConfig",
    "DeliveryConfig",
    "HealthConfig",
    "LogConfig",
    "OpsConfig",
    "PollConfig",
    "Route",
    "Settings",
    "StateConfig",
    "TemplateConfig",
    "TrackConfig",
    "UiConfig",
    "channel_key",
    "config_warnings",
    "load_settings",
    "redacted_config",
    "render_config_yaml",
    "resolve_api_key",
    "resolve_ui_password",
    "secrets_of",
]

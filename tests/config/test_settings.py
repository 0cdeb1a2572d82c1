"""Loading the configuration: every key from YAML and from the environment, the sources'
precedence, secret files, api_key_file, ${VAR} substitution. Every test passes ``environ=``:
none reads the developer's environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import clean_env, free_port
from watcher.config import (
    ConfigError,
    Route,
    Settings,
    load_settings,
    resolve_api_key,
)
from watcher.config.sections import DEFAULT_BASE_URL

ALL = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})

FULL_YAML = """\
dataframer:
  base_url: http://127.0.0.1:8080/
  api_key: yaml-key-0123456789
  api_key_file: /run/secrets/dataframer
  timeout: 2.5s
  max_concurrency: 3
poll:
  interval: 1m30s
state:
  path: /var/lib/watcher/state.db
  retention: 7d
track:
  runs: [" run-1 ", run-2, run-1]
  all: true
channels:
  team: "slack://TokenA/TokenB/TokenC/#ml-runs"
  oncall:
    - "mailtos://user:pass@smtp.example.com?to=oncall@example.com"
    - "json://hooks.example.com/alert"
routes:
  - statuses: [failed, Canceled]
    channels: [team, oncall]
  - channels: [team]
    specs: ["nightly-*", "prod-?"]
delivery:
  timeout: 45s
  concurrency: 2
  retry_initial: 5s
  retry_max: 1h
  horizon: 2d
  max_runs_per_message: 5
health:
  enabled: false
  listen: "0.0.0.0:9000"
log:
  level: DEBUG
  format: json
"""


WriteConfig = Callable[..., Path]


@pytest.fixture
def config_file(tmp_path: Path) -> WriteConfig:
    """Write YAML text into tmp_path and return its path."""

    def write(text: str, name: str = "watcher.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_defaults_without_file_or_environment(in_tmp: Path) -> None:
    """No file, no variables: the documented defaults."""
    settings = load_settings(environ={})
    assert settings.source_path is None
    assert settings.dataframer.base_url == DEFAULT_BASE_URL
    assert settings.dataframer.api_key is None
    assert settings.dataframer.api_key_file is None
    assert settings.dataframer.timeout == 10.0
    assert settings.dataframer.max_concurrency == 8
    assert settings.poll.interval == 30.0
    assert settings.state.path == Path("state/watcher.db")
    assert settings.state.retention == 30 * 86400.0
    assert settings.track.runs == []
    assert settings.track.all is False
    assert settings.channels == {}
    assert settings.routes == []
    assert settings.delivery.timeout == 30.0
    assert settings.delivery.concurrency == 4
    assert settings.delivery.retry_initial == 10.0
    assert settings.delivery.retry_max == 600.0
    assert settings.delivery.horizon == 86400.0
    assert settings.delivery.max_runs_per_message == 20
    assert settings.health.enabled is True
    assert settings.health.listen == "127.0.0.1:9464"
    assert (settings.health.host, settings.health.port) == ("127.0.0.1", 9464)
    assert settings.log.level == "info"
    assert settings.log.format == "auto"


def test_every_key_from_yaml(config_file: WriteConfig, in_tmp: Path) -> None:
    """Each key of the schema is read from the file, normalized."""
    path = config_file(FULL_YAML)
    settings = load_settings(path, environ={})
    assert settings.source_path == path
    df = settings.dataframer
    assert df.base_url == "http://127.0.0.1:8080"  # trailing slash stripped
    assert df.api_key is not None
    assert df.api_key.get_secret_value() == "yaml-key-0123456789"
    assert df.api_key_file == Path("/run/secrets/dataframer")
    assert (df.timeout, df.max_concurrency) == (2.5, 3)
    assert settings.poll.interval == 90.0
    assert settings.state.path == Path("/var/lib/watcher/state.db")
    assert settings.state.retention == 7 * 86400.0
    assert settings.track.runs == ["run-1", "run-2"]  # stripped, deduplicated
    assert settings.track.all is True
    assert settings.channels == {
        "team": ["slack://TokenA/TokenB/TokenC/#ml-runs"],
        "oncall": [
            "mailtos://user:pass@smtp.example.com?to=oncall@example.com",
            "json://hooks.example.com/alert",
        ],
    }
    assert settings.channels["oncall"][1] == "json://hooks.example.com/alert"
    assert settings.routes == [
        Route(statuses=frozenset({"FAILED", "CANCELED"}), channels=["team", "oncall"], specs=None),
        Route(statuses=ALL, channels=["team"], specs=["nightly-*", "prod-?"]),
    ]
    delivery = settings.delivery
    assert (delivery.timeout, delivery.concurrency) == (45.0, 2)
    assert (delivery.retry_initial, delivery.retry_max, delivery.horizon) == (5.0, 3600.0, 172800.0)
    assert delivery.max_runs_per_message == 5
    assert settings.health.enabled is False
    assert (settings.health.host, settings.health.port) == ("0.0.0.0", 9000)
    assert (settings.log.level, settings.log.format) == ("debug", "json")


def test_every_key_from_the_environment(in_tmp: Path) -> None:
    """WATCHER_SECTION__KEY sets each key; lists and routes as JSON."""
    environ = {
        "WATCHER_DATAFRAMER__BASE_URL": "https://proxy.example.com/df/",
        "WATCHER_DATAFRAMER__API_KEY": "env-key-0123456789",
        "WATCHER_DATAFRAMER__API_KEY_FILE": "/run/key",
        "WATCHER_DATAFRAMER__TIMEOUT": "3s",
        "WATCHER_DATAFRAMER__MAX_CONCURRENCY": "16",
        "WATCHER_POLL__INTERVAL": "5s",
        "WATCHER_STATE__PATH": "/tmp/w.db",
        "WATCHER_STATE__RETENTION": "12h",
        "WATCHER_TRACK__RUNS": '["a","b"]',
        "WATCHER_TRACK__ALL": "true",
        "WATCHER_CHANNELS__TEAM": "json://hooks.example.com/a",
        "WATCHER_CHANNELS__PAGER": '["json://a.example.com", "json://b.example.com"]',
        "WATCHER_ROUTES": '[{"statuses": ["FAILED"], "channels": ["pager"]}]',
        "WATCHER_DELIVERY__TIMEOUT": "10s",
        "WATCHER_DELIVERY__CONCURRENCY": "8",
        "WATCHER_DELIVERY__RETRY_INITIAL": "1s",
        "WATCHER_DELIVERY__RETRY_MAX": "1m",
        "WATCHER_DELIVERY__HORIZON": "6h",
        "WATCHER_DELIVERY__MAX_RUNS_PER_MESSAGE": "50",
        "WATCHER_HEALTH__ENABLED": "false",
        "WATCHER_HEALTH__LISTEN": "[::1]:8000",
        "WATCHER_LOG__LEVEL": "WARNING",
        "WATCHER_LOG__FORMAT": "console",
    }
    settings = load_settings(environ=environ)
    df = settings.dataframer
    assert df.base_url == "https://proxy.example.com/df"
    assert resolve_api_key(settings) == "env-key-0123456789"
    assert df.api_key_file == Path("/run/key")
    assert (df.timeout, df.max_concurrency) == (3.0, 16)
    assert settings.poll.interval == 5.0
    assert settings.state.path == Path("/tmp/w.db")
    assert settings.state.retention == 43200.0
    assert settings.track.runs == ["a", "b"]
    assert settings.track.all is True
    # Environment variable names are case-insensitive, so channel names from them are lower case.
    assert settings.channels == {
        "team": ["json://hooks.example.com/a"],
        "pager": ["json://a.example.com", "json://b.example.com"],
    }
    assert settings.routes == [Route(statuses=["FAILED"], channels=["pager"])]
    delivery = settings.delivery
    assert (delivery.timeout, delivery.concurrency, delivery.max_runs_per_message) == (10, 8, 50)
    assert (delivery.retry_initial, delivery.retry_max, delivery.horizon) == (1.0, 60.0, 21600.0)
    assert settings.health.enabled is False
    assert (settings.health.host, settings.health.port) == ("::1", 8000)
    assert (settings.log.level, settings.log.format) == ("warning", "console")


@pytest.mark.parametrize(
    ("value", "runs"),
    [
        ('["a","b"]', ["a", "b"]),
        ("a,b, c", ["a", "b", "c"]),
        ("single-run", ["single-run"]),
        ('[" x ", "x", "y"]', ["x", "y"]),
    ],
)
def test_track_runs_from_the_environment(value: str, runs: list[str], in_tmp: Path) -> None:
    """WATCHER_TRACK__RUNS takes a JSON list or a comma-separated list."""
    assert load_settings(environ={"WATCHER_TRACK__RUNS": value}).track.runs == runs


def test_sdk_variable_names_are_honoured(in_tmp: Path) -> None:
    """DATAFRAMER_API_KEY and DATAFRAMER_BASE_URL, as the official SDK reads them."""
    settings = load_settings(
        environ={"DATAFRAMER_API_KEY": "sdk-key-123456", "DATAFRAMER_BASE_URL": "http://sim:1/"}
    )
    assert resolve_api_key(settings) == "sdk-key-123456"
    assert settings.dataframer.base_url == "http://sim:1"


def test_watcher_variables_win_over_sdk_names(in_tmp: Path) -> None:
    """WATCHER_DATAFRAMER__* beats DATAFRAMER_*."""
    settings = load_settings(
        environ={
            "DATAFRAMER_API_KEY": "sdk-key-123456",
            "WATCHER_DATAFRAMER__API_KEY": "watcher-key-123456",
            "DATAFRAMER_BASE_URL": "http://sdk.example.com",
            "WATCHER_DATAFRAMER__BASE_URL": "http://watcher.example.com",
        }
    )
    assert resolve_api_key(settings) == "watcher-key-123456"
    assert settings.dataframer.base_url == "http://watcher.example.com"


def test_environment_beats_yaml(config_file: WriteConfig) -> None:
    """A variable overrides the file key by key; the file's other keys stay."""
    path = config_file(
        "dataframer:\n  base_url: http://yaml.example.com\n  timeout: 4s\n"
        "poll:\n  interval: 1m\ntrack:\n  runs: [from-yaml]\n"
    )
    settings = load_settings(
        path,
        environ={
            "WATCHER_POLL__INTERVAL": "5s",
            "DATAFRAMER_BASE_URL": "http://env.example.com",
            "WATCHER_TRACK__RUNS": '["from-env"]',
        },
    )
    assert settings.poll.interval == 5.0
    assert settings.dataframer.base_url == "http://env.example.com"
    assert settings.dataframer.timeout == 4.0  # from the file, untouched
    assert settings.track.runs == ["from-env"]


def test_empty_variables_are_ignored(config_file: WriteConfig) -> None:
    """VAR= (as compose files write for "unset") falls through to the file or the default."""
    path = config_file("poll:\n  interval: 1m\n")
    settings = load_settings(
        path, environ={"WATCHER_POLL__INTERVAL": "", "DATAFRAMER_API_KEY": "  "}
    )
    assert settings.poll.interval == 60.0
    assert settings.dataframer.api_key is None


def test_environ_replaces_os_environ(monkeypatch: pytest.MonkeyPatch, in_tmp: Path) -> None:
    """A given environ is the only environment read: os.environ is ignored."""
    monkeypatch.setenv("WATCHER_POLL__INTERVAL", "7s")
    monkeypatch.setenv("DATAFRAMER_API_KEY", "from-os-environ")
    settings = load_settings(environ={})
    assert settings.poll.interval == 30.0
    assert settings.dataframer.api_key is None


def test_os_environ_is_the_default(monkeypatch: pytest.MonkeyPatch, in_tmp: Path) -> None:
    """Without environ=, the process environment is read."""
    for name in list(os.environ):
        if name.startswith(("WATCHER_", "DATAFRAMER_")) or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name)
    monkeypatch.setenv("WATCHER_POLL__INTERVAL", "7s")
    assert load_settings().poll.interval == 7.0


def test_init_arguments_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings(...) keyword arguments have the highest priority."""
    for name in list(os.environ):
        if name.startswith(("WATCHER_", "DATAFRAMER_")) or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name)
    monkeypatch.setenv("WATCHER_POLL__INTERVAL", "7s")
    monkeypatch.setenv("WATCHER_LOG__LEVEL", "error")
    settings = Settings(poll={"interval": "1m"})
    assert settings.poll.interval == 60.0
    assert settings.log.level == "error"


def test_watcher_yaml_in_the_working_directory(config_file: WriteConfig, in_tmp: Path) -> None:
    """Without --config or WATCHER_CONFIG, ./watcher.yaml is read when present."""
    config_file("poll:\n  interval: 42s\n")
    settings = load_settings(environ={})
    assert settings.poll.interval == 42.0
    assert settings.source_path == Path("watcher.yaml")


def test_watcher_config_variable_names_the_file(config_file: WriteConfig, in_tmp: Path) -> None:
    """WATCHER_CONFIG beats ./watcher.yaml; an explicit path beats both."""
    config_file("poll:\n  interval: 1s\n")
    other = config_file("poll:\n  interval: 2s\n", name="other.yaml")
    third = config_file("poll:\n  interval: 3s\n", name="third.yaml")
    environ = {"WATCHER_CONFIG": str(other)}
    assert load_settings(environ=environ).poll.interval == 2.0
    assert load_settings(third, environ=environ).poll.interval == 3.0


def test_empty_file_means_defaults(config_file: WriteConfig) -> None:
    """An empty file (or only comments) is the defaults."""
    for text in ("", "# nothing yet\n", "---\n"):
        settings = load_settings(config_file(text), environ={})
        assert settings.poll.interval == 30.0
        assert settings.source_path is not None


def test_null_values_and_empty_sections_mean_defaults(config_file: WriteConfig) -> None:
    """`poll:` with nothing under it, or `key: null`, keeps the default."""
    path = config_file(
        "poll:\nchannels:\nroutes:\ndataframer:\n  api_key: null\n  base_url: ~\ntrack:\n  runs:\n"
    )
    settings = load_settings(path, environ={})
    assert settings.poll.interval == 30.0
    assert settings.dataframer.base_url == DEFAULT_BASE_URL
    assert settings.track.runs == []
    assert settings.channels == {}


def test_secret_files_fill_what_nothing_else_sets(config_file: WriteConfig, tmp_path: Path) -> None:
    """$CREDENTIALS_DIRECTORY (systemd LoadCredential=) files, named like the variables."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "WATCHER_DATAFRAMER__API_KEY").write_text("cred-key-0123456789\n")
    (credentials / "WATCHER_POLL__INTERVAL").write_text("7s")
    (credentials / "WATCHER_DELIVERY__CONCURRENCY").write_text("9")
    (credentials / "unrelated").write_text("ignored")
    path = config_file("poll:\n  interval: 9s\n")
    environ = {"CREDENTIALS_DIRECTORY": str(credentials), "WATCHER_DELIVERY__CONCURRENCY": "2"}
    settings = load_settings(path, environ=environ)
    assert resolve_api_key(settings) == "cred-key-0123456789"  # stripped
    assert settings.poll.interval == 9.0  # YAML beats the credential
    assert settings.delivery.concurrency == 2  # the environment beats the credential


def test_secret_file_with_the_sdk_name(in_tmp: Path) -> None:
    """A credential named DATAFRAMER_API_KEY (any case) is the key too, below the environment."""
    credentials = in_tmp / "credentials"
    credentials.mkdir()
    (credentials / "dataframer_api_key").write_text("  cred-key-abcdef  \n")
    environ = {"CREDENTIALS_DIRECTORY": str(credentials)}
    assert resolve_api_key(load_settings(environ=environ)) == "cred-key-abcdef"
    environ["DATAFRAMER_API_KEY"] = "env-key-123456"
    assert resolve_api_key(load_settings(environ=environ)) == "env-key-123456"


def test_missing_credentials_directory_is_ignored(in_tmp: Path) -> None:
    """A CREDENTIALS_DIRECTORY that does not exist adds nothing (and warns nothing)."""
    settings = load_settings(environ={"CREDENTIALS_DIRECTORY": str(in_tmp / "absent")})
    assert settings.dataframer.api_key is None


def test_api_key_file(tmp_path: Path, config_file: WriteConfig) -> None:
    """api_key_file is read (whitespace stripped) when no api_key is set."""
    key_file = tmp_path / "key"
    key_file.write_text("\n  file-key-0123456789 \n")
    path = config_file(f"dataframer:\n  api_key_file: {key_file}\n")
    settings = load_settings(path, environ={})
    assert resolve_api_key(settings) == "file-key-0123456789"
    with_env = load_settings(path, environ={"DATAFRAMER_API_KEY": "env-key-123456"})
    assert resolve_api_key(with_env) == "env-key-123456"  # api_key wins over the file


def test_api_key_file_is_read_when_asked_not_at_load(
    tmp_path: Path, config_file: WriteConfig
) -> None:
    """Commands that do not talk to the API load fine without the key file."""
    path = config_file(f"dataframer:\n  api_key_file: {tmp_path / 'absent'}\n")
    settings = load_settings(path, environ={})
    with pytest.raises(ConfigError):
        resolve_api_key(settings)


def test_api_key_file_expands_home(tmp_path: Path, config_file: WriteConfig) -> None:
    """~ in paths is the user's home."""
    path = config_file("dataframer:\n  api_key_file: ~/df-key\nstate:\n  path: ~/w.db\n")
    settings = load_settings(path, environ={})
    assert settings.dataframer.api_key_file == Path.home() / "df-key"
    assert settings.state.path == Path.home() / "w.db"


def test_variable_substitution_in_channel_urls(config_file: WriteConfig) -> None:
    """${VAR}, ${VAR:-default} and $$ are expanded from the given environment at load."""
    path = config_file(
        "channels:\n"
        "  team: slack://${SLACK_A}/${SLACK_B}/${SLACK_C}/#ml-runs\n"
        "  hook: json://${HOOK_HOST:-hooks.example.com}/p?x=$$y&t=${EMPTY:-fallback}\n"
        "  many:\n    - json://${HOOK_HOST:-a.example.com}/1\n    - json://b.example.com/${N}\n"
    )
    environ = {
        "SLACK_A": "T1JJ3T3L2",
        "SLACK_B": "A1BRTD4JD",
        "SLACK_C": "TIiajkdnlazkcOXrIdevi7FQ",
        "EMPTY": "",
        "N": "2",
    }
    settings = load_settings(path, environ=environ)
    assert settings.channels["team"] == [
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ml-runs"
    ]
    assert settings.channels["hook"] == ["json://hooks.example.com/p?x=$y&t=fallback"]
    assert settings.channels["many"] == ["json://a.example.com/1", "json://b.example.com/2"]


def test_substitution_in_channels_from_the_environment(in_tmp: Path) -> None:
    """A channel set by a variable is substituted too."""
    settings = load_settings(
        environ={"WATCHER_CHANNELS__HOOK": "json://${HOST}/x", "HOST": "h.example.com"}
    )
    assert settings.channels["hook"] == ["json://h.example.com/x"]


def test_channel_urls_are_normalized(config_file: WriteConfig) -> None:
    """One URL or a list; surrounding spaces and duplicates dropped."""
    path = config_file(
        "channels:\n  one: ' json://a.example.com '\n"
        "  two: [json://a.example.com, json://a.example.com, json://b.example.com]\n"
    )
    settings = load_settings(path, environ={})
    assert settings.channels == {
        "one": ["json://a.example.com"],
        "two": ["json://a.example.com", "json://b.example.com"],
    }
    with pytest.raises(KeyError):
        settings.channels["three"]


def test_routes_normalize_statuses(config_file: WriteConfig) -> None:
    """Statuses are case-insensitive, CANCELLED is CANCELED, omitted means all three."""
    path = config_file(
        "channels:\n  a: json://a.example.com\nroutes:\n"
        "  - statuses: [' succeeded', FAILED, cancelled]\n    channels: a\n"
        "  - statuses: failed\n    channels: [a, a]\n"
        "  - channels: [a]\n"
    )
    routes = load_settings(path, environ={}).routes
    assert [route.statuses for route in routes] == [ALL, frozenset({"FAILED"}), ALL]
    assert routes[1].channels == ["a"]
    assert all(route.specs is None for route in routes)


@pytest.mark.parametrize(
    ("listen", "host", "port"),
    [
        ("127.0.0.1:9464", "127.0.0.1", 9464),
        ("0.0.0.0:80", "0.0.0.0", 80),
        ("localhost:0", "localhost", 0),
        ("metrics.internal:9100", "metrics.internal", 9100),
        ("[::]:9464", "::", 9464),
        (" [::1]:1 ", "::1", 1),
    ],
)
def test_health_listen(listen: str, host: str, port: int, in_tmp: Path) -> None:
    """host:port, IPv6 in brackets; port 0 picks a free port."""
    health = load_settings(environ={"WATCHER_HEALTH__LISTEN": listen}).health
    assert (health.host, health.port) == (host, port)


def test_durations_dump_as_text(config_file: WriteConfig) -> None:
    """model_dump shows durations as written forms, not float seconds."""
    settings = load_settings(config_file("poll:\n  interval: 90\n"), environ={})
    dumped = settings.model_dump()
    assert dumped["poll"]["interval"] == "1m30s"
    assert dumped["delivery"]["horizon"] == "1d"


def test_repr_shows_no_secret(config_file: WriteConfig) -> None:
    """repr(settings) (as a log line might include) hides the key and the channel URLs."""
    path = config_file(
        "dataframer:\n  api_key: repr-key-0123456789\n"
        "channels:\n  team: slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ\n"
    )
    text = repr(load_settings(path, environ={}))
    assert "repr-key-0123456789" not in text
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in text


def test_the_briefs_example_config_loads(config_file: WriteConfig) -> None:
    """The example in the brief's Configuration section is valid as written."""
    path = config_file(
        """\
dataframer:
  base_url: https://df-api.dataframer.ai   # DATAFRAMER_BASE_URL also honoured
  api_key_file: /run/secrets/dataframer    # or env DATAFRAMER_API_KEY; never inline by default
  timeout: 10s
poll:
  interval: 30s          # durations: a number of seconds, or "500ms", "30s", "5m", "1h"
state:
  path: ./state/watcher.db
track:
  runs: []               # explicit run ids
  all: false             # discover every run of the company through the list endpoint
channels:                # name -> apprise URL (or a list of URLs)
  team: "slack://TokenA/TokenB/TokenC/#ml-runs"
  oncall: "mailtos://user:pass@smtp.example.com?to=oncall@example.com"
routes:                  # which statuses go where
  - statuses: [FAILED, CANCELED]
    channels: [team, oncall]
  - statuses: [SUCCEEDED]
    channels: [team]
"""
    )
    settings = load_settings(path, environ={})
    assert list(settings.channels) == ["team", "oncall"]
    assert [sorted(route.statuses) for route in settings.routes] == [
        ["CANCELED", "FAILED"],
        ["SUCCEEDED"],
    ]


# --- commands that never send import nothing of the sending side -------------------------------

# Runs the command line in a fresh interpreter, then writes the modules it loaded to a file:
# what `python -m watcher ...` imports for that command, and nothing else.
_PROBE = """\
import json, sys
out, args = sys.argv[1], sys.argv[2:]
from watcher.cli import main
try:
    main(args=args, prog_name="dataframer-watcher")
except SystemExit as exc:
    code = exc.code
with open(out, "w") as file:
    json.dump({"code": code, "modules": sorted(sys.modules)}, file)
"""
_SENDER = ("watcher.deliver.sender", "watcher.deliver.drain")
_NEVER_SEND = [
    ("status",),
    ("status", "--json"),
    ("history",),
    ("track", "run-1"),
    ("untrack", "run-1"),
    ("redeliver",),
    ("health", "--timeout", "0.5"),
]


def _modules_loaded(tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    config = tmp_path / "watcher.yaml"
    config.write_text(
        f"state:\n  path: {tmp_path / 'w.db'}\n"
        f"health:\n  listen: 127.0.0.1:{free_port()}\n"
        "channels:\n  team: 'slack://${SLACK_TOKEN}/B/C'\n  hook: json://127.0.0.1:9/hook\n",
        encoding="utf-8",
    )
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), "--config", str(config), *args],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.exists(), done.stderr
    result = json.loads(out.read_text())
    return result["code"], result["modules"]


def _sending_side(modules: list[str]) -> list[str]:
    return [m for m in modules if m.partition(".")[0] == "apprise" or m in _SENDER]


@pytest.mark.parametrize("args", _NEVER_SEND, ids=" ".join)
def test_commands_that_never_send_do_not_import_apprise(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """status, history, track, untrack, redeliver and health load the config without expanding
    channel URLs: apprise and the sender stay unimported (they cost a third of every call)."""
    code, modules = _modules_loaded(tmp_path, *args)
    assert code in (0, 1), (code, args)  # health: 1, no daemon is listening
    assert _sending_side(modules) == []


def test_the_probe_sees_apprise_when_a_command_sends(tmp_path: Path) -> None:
    """The probe's control: check-config expands and checks every URL, through apprise."""
    code, modules = _modules_loaded(tmp_path, "check-config")
    assert code == 2  # SLACK_TOKEN is not set: the URLs were expanded
    assert "apprise" in modules

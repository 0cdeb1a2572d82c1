"""Every kind of bad configuration is one ConfigError: one line, naming the file and the field,
never a secret the input held."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from watcher.config import ConfigError, Settings, load_settings, resolve_api_key
from watcher.errors import WatcherError

SECRET = "sk-live-SECRET0123456789"


def assert_clear(
    error: ConfigError, *, path: Path | None, field: str, secrets: tuple[str, ...]
) -> str:
    """The message is one line, names the file (when there is one) and the field, hides secrets."""
    message = str(error)
    assert "\n" not in message
    assert "\r" not in message
    prefix = f"config error in {path}: " if path is not None else "config error: "
    assert message.startswith(prefix), message
    assert field in message, message
    for secret in secrets:
        assert secret not in message, message
    return message


# id, YAML text, environment, field named, fragment of the reason, secrets in the input
BAD_YAML = [
    (
        "negative-interval",
        "poll:\n  interval: -5s\n",
        {},
        "poll.interval",
        "poll.interval: must be at least 100ms (got '-5s')",
        (),
    ),
    ("interval-too-short", "poll:\n  interval: 10ms\n", {}, "poll.interval", "at least 100ms", ()),
    (
        "zero-timeout",
        "dataframer:\n  timeout: 0\n",
        {},
        "dataframer.timeout",
        "greater than 0s",
        (),
    ),
    (
        "zero-delivery-timeout",
        "delivery:\n  timeout: 0s\n",
        {},
        "delivery.timeout",
        "greater than 0s (got '0s')",
        (),
    ),
    (
        "zero-retention",
        "state:\n  retention: 0d\n",
        {},
        "state.retention",
        "greater than 0s",
        (),
    ),
    (
        "bad-duration-unit",
        "poll:\n  interval: 5 fortnights\n",
        {},
        "poll.interval",
        "invalid duration '5 fortnights'",
        (),
    ),
    (
        "duration-of-wrong-type",
        "delivery:\n  horizon: [1, 2]\n",
        {},
        "delivery.horizon",
        "invalid duration",
        (),
    ),
    (
        "unknown-top-level-key",
        f"polling:\n  interval: 5s\nsecret_thing: {SECRET}\n",
        {},
        "polling",
        "unknown key (did you mean 'poll'?)",
        (SECRET,),
    ),
    (
        "unknown-nested-key",
        f"dataframer:\n  apikey: {SECRET}\n",
        {},
        "dataframer.apikey",
        "unknown key (did you mean 'api_key'?)",
        (SECRET,),
    ),
    (
        "unknown-route-key",
        "channels:\n  a: json://a.example.com\nroutes:\n  - channels: [a]\n    status: [FAILED]\n",
        {},
        "routes[0].status",
        "did you mean 'statuses'?",
        (),
    ),
    (
        "route-names-missing-channel",
        "channels:\n  team: json://a.example.com\n  ops: json://b.example.com\n"
        "routes:\n  - channels: [team]\n  - channels: [team, pager]\n",
        {},
        "routes[1].channels",
        "unknown channel 'pager' (known channels: ops, team)",
        (),
    ),
    (
        "route-without-any-channels-defined",
        "routes:\n  - channels: [team]\n",
        {},
        "routes[0].channels",
        "unknown channel 'team' (known channels: none are defined)",
        (),
    ),
    (
        "route-without-channels",
        "channels:\n  a: json://a.example.com\nroutes:\n  - statuses: [FAILED]\n",
        {},
        "routes[0].channels",
        "is required",
        (),
    ),
    (
        "route-bad-status",
        "channels:\n  a: json://a.example.com\n"
        "routes:\n  - statuses: [RUNNING]\n    channels: [a]\n",
        {},
        "routes[0].statuses",
        "unknown status 'RUNNING'",
        (),
    ),
    (
        "route-empty-statuses",
        "channels:\n  a: json://a.example.com\nroutes:\n  - statuses: []\n    channels: [a]\n",
        {},
        "routes[0].statuses",
        "at least one status",
        (),
    ),
    (
        "route-empty-specs",
        "channels:\n  a: json://a.example.com\nroutes:\n  - specs: []\n    channels: [a]\n",
        {},
        "routes[0].specs",
        "at least one spec pattern",
        (),
    ),
    (
        "non-http-base-url",
        "dataframer:\n  base_url: ftp://files.example.com\n",
        {},
        "dataframer.base_url",
        "must be an http(s) URL",
        (),
    ),
    (
        "base-url-with-password",
        f"dataframer:\n  base_url: ftp://user:{SECRET}@files.example.com\n",
        {},
        "dataframer.base_url",
        "(got 'ftp://user:***@files.example.com', masked where it may hold a secret)",
        (SECRET,),
    ),
    (
        "base-url-no-host",
        "dataframer:\n  base_url: 'https://'\n",
        {},
        "dataframer.base_url",
        "http(s)",
        (),
    ),
    (
        "listen-without-port",
        "health:\n  listen: localhost\n",
        {},
        "health.listen",
        'must be "host:port"',
        (),
    ),
    (
        "listen-port-too-big",
        "health:\n  listen: '127.0.0.1:70000'\n",
        {},
        "health.listen",
        "host:port",
        (),
    ),
    ("listen-bad-host", "health:\n  listen: 'bad host:80'\n", {}, "health.listen", "host:port", ()),
    ("listen-bare-ipv6", "health:\n  listen: '::1:80'\n", {}, "health.listen", "host:port", ()),
    ("listen-empty-host", "health:\n  listen: ':80'\n", {}, "health.listen", "host:port", ()),
    (
        "apprise-unknown-scheme",
        f"channels:\n  team: foo://{SECRET}@example.com/{SECRET}\n",
        {},
        "channels.team",
        "apprise cannot use 'foo://",
        (SECRET,),
    ),
    (
        "apprise-malformed-slack",
        f"channels:\n  team: slack://{SECRET}\n",
        {},
        "channels.team",
        "apprise cannot use",
        (SECRET,),
    ),
    (
        "apprise-bad-url-in-a-list",
        f"channels:\n  team:\n    - json://a.example.com\n    - nope://x:{SECRET}@y\n",
        {},
        "channels.team[1]",
        "channels.team[1]: apprise cannot use 'nope://x:***@y'",
        (SECRET,),
    ),
    ("empty-url", "channels:\n  team: ''\n", {}, "channels.team", "must not be empty", ()),
    (
        "empty-url-list",
        "channels:\n  team: []\n",
        {},
        "channels.team",
        "at least one apprise URL",
        (),
    ),
    (
        "bad-channel-name",
        "channels:\n  'team alerts': json://a.example.com\n",
        {},
        "channels['team alerts']",
        "may only use ASCII letters and digits, '_', '.' and '-'",
        (),
    ),
    (
        "missing-variable",
        "channels:\n  team: slack://${SLACK_TOKEN_A}/${SLACK_TOKEN_B}/C\n",
        {"SLACK_TOKEN_B": SECRET},
        "channels.team",
        "environment variable SLACK_TOKEN_A is not set",
        (SECRET,),
    ),
    (
        "malformed-variable",
        "channels:\n  team: json://example.com/${BROKEN\n",
        {},
        "channels.team",
        "malformed ${...}",
        (),
    ),
    (
        "max-concurrency-too-high",
        "dataframer:\n  max_concurrency: 65\n",
        {},
        "dataframer.max_concurrency",
        "less than or equal to 64 (got 65)",
        (),
    ),
    (
        "max-concurrency-not-a-number",
        "dataframer:\n  max_concurrency: lots\n",
        {},
        "dataframer.max_concurrency",
        "valid integer",
        (),
    ),
    (
        "delivery-concurrency-zero",
        "delivery:\n  concurrency: 0\n",
        {},
        "delivery.concurrency",
        "greater than or equal to 1 (got 0)",
        (),
    ),
    (
        "retry-max-below-initial",
        "delivery:\n  retry_initial: 1h\n  retry_max: 1m\n",
        {},
        "delivery",
        "retry_max (1m) must be at least retry_initial (1h)",
        (),
    ),
    (
        "bad-log-level",
        "log:\n  level: loud\n",
        {},
        "log.level",
        "'debug', 'info', 'warning' or 'error'",
        (),
    ),
    (
        "bad-log-format",
        "log:\n  format: xml\n",
        {},
        "log.format",
        "'auto', 'json' or 'console'",
        (),
    ),
    ("bad-track-all", "track:\n  all: sometimes\n", {}, "track.all", "valid boolean", ()),
    ("track-runs-a-mapping", "track:\n  runs: {a: 1}\n", {}, "track.runs", "list of run ids", ()),
    ("track-runs-empty-id", "track:\n  runs: ['  ']\n", {}, "track.runs", "must not be empty", ()),
    (
        "section-not-a-mapping",
        "poll: 5\n",
        {},
        "poll",
        "must be a mapping of keys to values (got 5)",
        (),
    ),
    (
        "api-key-of-wrong-type",
        f"dataframer:\n  api_key: [{SECRET}]\n",
        {},
        "dataframer.api_key",
        "valid string",
        (SECRET,),
    ),
    (
        "api-key-file-of-wrong-type",
        "dataframer:\n  api_key_file: [a, b]\n",
        {},
        "dataframer.api_key_file",
        "dataframer.api_key_file",
        (),
    ),
]


@pytest.mark.parametrize(
    ("text", "environ", "field", "fragment", "secrets"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_YAML],
)
def test_bad_yaml_values(
    tmp_path: Path,
    text: str,
    environ: dict[str, str],
    field: str,
    fragment: str,
    secrets: tuple[str, ...],
) -> None:
    """Each bad value is one line naming the file, the field and the reason, with no secret."""
    path = tmp_path / "watcher.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=environ)
    message = assert_clear(caught.value, path=path, field=field, secrets=secrets)
    assert fragment in message
    assert caught.value.__cause__ is None  # no chained exception to print inputs in a traceback
    assert caught.value.__suppress_context__


# id, environment, field named (with the variable), fragment, secrets
BAD_ENV = [
    (
        "negative-interval",
        {"WATCHER_POLL__INTERVAL": "-5s"},
        "poll.interval (from WATCHER_POLL__INTERVAL)",
        "must be at least 100ms (got '-5s')",
        (),
    ),
    (
        "bad-duration",
        {"WATCHER_DELIVERY__RETRY_MAX": "10 mins"},
        "delivery.retry_max (from WATCHER_DELIVERY__RETRY_MAX)",
        "invalid duration '10 mins'",
        (),
    ),
    (
        "sdk-base-url",
        {"DATAFRAMER_BASE_URL": "localhost:8080", "DATAFRAMER_API_KEY": SECRET},
        "dataframer.base_url (from DATAFRAMER_BASE_URL)",
        "must be an http(s) URL",
        (SECRET,),
    ),
    (
        "unknown-nested-variable",
        {"WATCHER_POLL__INTERVALL": "5s"},
        "environment variable WATCHER_POLL__INTERVALL sets nothing",
        "(did you mean WATCHER_POLL__INTERVAL?)",
        (),
    ),
    (
        "invalid-json-routes",
        {"WATCHER_ROUTES": "[{broken"},
        "routes (from WATCHER_ROUTES)",
        "is not valid JSON",
        (),
    ),
    (
        "invalid-json-runs",
        {"WATCHER_TRACK__RUNS": '["a",'},
        "track.runs (from WATCHER_TRACK__RUNS)",
        "not a valid JSON list",
        (),
    ),
    (
        "route-from-env-names-missing-channel",
        {"WATCHER_ROUTES": '[{"channels": ["pager"]}]'},
        "routes[0].channels",
        "unknown channel 'pager'",
        (),
    ),
    (
        "bad-channel-from-env",
        {"WATCHER_CHANNELS__TEAM": f"foo://{SECRET}"},
        "channels.team (from WATCHER_CHANNELS__TEAM)",
        "apprise cannot use",
        (SECRET,),
    ),
    (
        "credentials-directory-is-a-file",
        {"CREDENTIALS_DIRECTORY": "/etc/hostname"},
        "CREDENTIALS_DIRECTORY",
        "is not a directory",
        (),
    ),
]


@pytest.mark.parametrize(
    ("environ", "field", "fragment", "secrets"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_ENV],
)
def test_bad_environment_values(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    environ: dict[str, str],
    field: str,
    fragment: str,
    secrets: tuple[str, ...],
) -> None:
    """A bad variable is named with the field it sets; there is no file to name."""
    monkeypatch.chdir(tmp_path)
    if environ.get("CREDENTIALS_DIRECTORY") == "/etc/hostname":
        a_file = tmp_path / "not-a-dir"
        a_file.write_text("x")
        environ = {"CREDENTIALS_DIRECTORY": str(a_file)}
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)
    message = assert_clear(caught.value, path=None, field=field, secrets=secrets)
    assert fragment in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("poll:\n  interval: [5s\n", "line 3, column 1: invalid YAML", id="unclosed"),
        pytest.param("poll:\n\tinterval: 5s\n", "line 2, column 1: invalid YAML", id="tab"),
        pytest.param("a: b: c\n", "line 1, column 5: invalid YAML", id="mapping-in-scalar"),
        pytest.param(
            "poll:\n  interval: 1s\npoll:\n  interval: 2s\n",
            "line 3, column 1: invalid YAML: duplicate key 'poll'",
            id="duplicate-key",
        ),
        pytest.param(
            "!!python/object/apply:os.system ['true']\n",
            "line 1, column 1: invalid YAML",
            id="unsafe-tag",
        ),
        pytest.param("- poll\n- state\n", "top level must be a mapping", id="top-level-list"),
        pytest.param("just a string\n", "(got a string)", id="top-level-scalar"),
        pytest.param("42\n", "(got a number)", id="top-level-number"),
    ],
)
def test_unreadable_yaml(tmp_path: Path, text: str, fragment: str) -> None:
    """Invalid YAML names the file and the line; a non-mapping top level says so."""
    path = tmp_path / "watcher.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert fragment in assert_clear(caught.value, path=path, field="", secrets=())


def test_yaml_error_does_not_echo_the_line(tmp_path: Path) -> None:
    """PyYAML quotes the offending line in its message; ours does not (it may hold a secret)."""
    path = tmp_path / "watcher.yaml"
    path.write_text(f"dataframer:\n  api_key: {SECRET}: oops\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert_clear(caught.value, path=path, field="line 2", secrets=(SECRET,))


def test_not_utf8(tmp_path: Path) -> None:
    """A file that is not UTF-8 text."""
    path = tmp_path / "watcher.yaml"
    path.write_bytes(b"poll:\n  interval: \xff\xfe\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert "not UTF-8" in assert_clear(caught.value, path=path, field="", secrets=())


def test_named_file_missing(tmp_path: Path) -> None:
    """A path named explicitly must exist (pydantic-settings would silently skip it)."""
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert "no such file" in assert_clear(caught.value, path=path, field="", secrets=())


def test_watcher_config_names_a_missing_file(tmp_path: Path) -> None:
    """WATCHER_CONFIG counts as naming the file explicitly."""
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"WATCHER_CONFIG": str(path)})
    assert "no such file" in assert_clear(caught.value, path=path, field="", secrets=())


def test_named_path_is_a_directory(tmp_path: Path) -> None:
    """A directory is not a config file."""
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, environ={})
    assert "is a directory" in assert_clear(caught.value, path=tmp_path, field="", secrets=())


def test_several_errors_join_on_one_line(tmp_path: Path) -> None:
    """All problems are reported at once, separated by "; "."""
    path = tmp_path / "watcher.yaml"
    path.write_text(
        "poll:\n  interval: -1s\ndelivery:\n  timeout: 0\nhealth:\n  listen: nowhere\n"
        f"dataframer:\n  api_key: {SECRET}\n  base_url: gopher://x\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    message = assert_clear(caught.value, path=path, field="poll.interval", secrets=(SECRET,))
    for field in ("delivery.timeout", "health.listen", "dataframer.base_url"):
        assert field in message
    assert message.count("; ") == 3


def test_missing_api_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """resolve_api_key without a key or a key file says how to give one."""
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    with pytest.raises(ConfigError) as caught:
        resolve_api_key(settings)
    assert str(caught.value) == (
        "config error: no Dataframer API key: set DATAFRAMER_API_KEY or dataframer.api_key_file"
    )


def test_missing_api_key_names_the_file(tmp_path: Path) -> None:
    """When settings came from a file, the error names it."""
    path = tmp_path / "watcher.yaml"
    path.write_text("poll:\n  interval: 5s\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        resolve_api_key(load_settings(path, environ={}))
    assert_clear(caught.value, path=path, field="no Dataframer API key", secrets=())


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "blank", "not-utf8"])
def test_unusable_api_key_file(tmp_path: Path, kind: str) -> None:
    """An api_key_file that cannot give a key is named, its content never shown."""
    key_file = tmp_path / "key"
    if kind == "directory":
        key_file.mkdir()  # chmod 000 does not stop root; a directory cannot be read by anyone
    elif kind == "empty":
        key_file.write_text("")
    elif kind == "blank":
        key_file.write_text("  \n\t\n")
    elif kind == "not-utf8":
        key_file.write_bytes(b"\xff" + SECRET.encode() + b"\xfe")
    path = tmp_path / "watcher.yaml"
    path.write_text(f"dataframer:\n  api_key_file: {key_file}\n", encoding="utf-8")
    settings = load_settings(path, environ={})
    with pytest.raises(ConfigError) as caught:
        resolve_api_key(settings)
    message = assert_clear(
        caught.value, path=path, field=f"dataframer.api_key_file: {key_file}", secrets=(SECRET,)
    )
    expected = {
        "missing": "no such file",
        "directory": "is a directory",
        "empty": "is empty",
        "blank": "is empty",
        "not-utf8": "not utf-8",
    }[kind]
    assert expected in message.lower()


def test_config_error_is_a_watcher_error() -> None:
    """The CLI maps WatcherError subclasses to exit codes; ConfigError is one of them."""
    error = ConfigError("poll.interval: bad\nsecond line", path=Path("/etc/watcher.yaml"))
    assert isinstance(error, WatcherError)
    assert str(error) == "config error in /etc/watcher.yaml: poll.interval: bad second line"
    assert error.path == Path("/etc/watcher.yaml")
    assert str(ConfigError("x")) == "config error: x"


def test_validation_errors_hide_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings(...) raised directly (not through load_settings) still prints no input value."""
    for name in list(os.environ):
        if name.startswith(("WATCHER_", "DATAFRAMER_")) or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name)
    with pytest.raises(ValidationError) as caught:
        Settings(dataframer={"api_key": [SECRET], "apikey": SECRET}, health={"enabled": SECRET})
    assert SECRET not in str(caught.value)
    assert "dataframer.apikey" in str(caught.value)

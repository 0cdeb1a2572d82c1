"""`render` prints what each channel would get, as a real send composes it, and sends nothing;
`test-notify` sends a realistic sample through each channel's real templates."""

from __future__ import annotations

from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import API_KEY, SmtpSink, WebhookSink, cli, free_port, run_ids_in, write
from watcher.simulator import SimulatorServer
from watcher.templates.samples import SAMPLE_RUN_ID

SLACK = "slack://TokenA/TokenB/TokenC/#ml-runs"
ENV = {"DATAFRAMER_API_KEY": API_KEY}


def config(tmp_path: Path, **sections: Any) -> Path:
    sections.setdefault("state", {"path": str(tmp_path / "state.db")})
    sections.setdefault("health", {"enabled": False})
    return write(tmp_path / "watcher.yaml", yaml.safe_dump(sections))


def render(path: Path, *args: str) -> Any:
    return cli("--config", str(path), "render", *args, cwd=path.parent, env=ENV)


def sections(output: str) -> dict[str, str]:
    """`--- <format> body for ... ---` headers -> what follows each, up to the next."""
    found: dict[str, str] = {}
    current = None
    for line in output.splitlines():
        if line.startswith("--- ") and line.endswith(" ---"):
            current = line
            found[current] = ""
        elif line.startswith("=== "):
            current = None
        elif current is not None:
            found[current] += line + "\n"
    return {k: v.strip() for k, v in found.items()}


def test_render_a_sample_for_each_channel_sends_nothing(
    tmp_path: Path, webhook: WebhookSink, smtp: SmtpSink
) -> None:
    """Each channel's title, type, and the body each URL's service takes: text for json://,
    Markdown for Slack, HTML (and the text part apprise derives) for email."""
    path = config(
        tmp_path,
        channels={"hook": webhook.url(), "team": SLACK, "mail": smtp.url},
        alerts={"run_url": "https://app.example.com/runs/{{ run.id }}"},
    )
    result = render(path, "--sample", "--status", "failed")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("Title: ❌ Dataframer run FAILED: invoice-extraction v3") == 3
    assert out.count("Type: failure") == 3
    assert [line for line in out.splitlines() if line.startswith("===")] == [
        "=== channel hook ===",
        "=== channel mail ===",
        "=== channel team ===",
    ]
    parts = sections(out)
    text = parts["--- text body for url 1 (JSON) ---"]
    assert text.splitlines()[0] == f"Run: {SAMPLE_RUN_ID}"
    assert "Samples: 412 completed, 88 failed" in text.splitlines()
    assert parts["--- markdown body for url 1 (Slack) ---"].startswith(
        f"**Run:** `{SAMPLE_RUN_ID}`"
    )
    assert parts["--- html body for url 1 (E-Mail) ---"].startswith("<!DOCTYPE html>")
    derived = parts["--- its plain-text part, as apprise derives it ---"].splitlines()
    assert f"Run: {SAMPLE_RUN_ID}" in derived
    assert f"Link: https://app.example.com/runs/{SAMPLE_RUN_ID}" in derived
    assert no_channel_url(out)
    assert webhook.requests == []
    assert smtp.messages == []


def no_channel_url(text: str) -> bool:
    """No channel URL (tokens, passwords) in the output."""
    return "TokenB" not in text and "slack://" not in text and "json://" not in text


def test_render_one_channel_and_its_warnings(tmp_path: Path, webhook: WebhookSink) -> None:
    """--channel shows that channel alone (a STUCK sample: without routes every channel hears
    STUCK alerts); a link template that fails to render is a warning on stderr (the alert goes
    without its link), not a failure."""
    path = config(
        tmp_path,
        channels={"hook": webhook.url(), "other": SLACK},
        alerts={"run_url": "https://x.test/{{ run.nothing - 1 }}"},
    )
    result = render(path, "--sample", "--status", "STUCK", "--channel", "HOOK")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "=== channel hook ===",
        "Title: ⏳ Dataframer run STUCK: invoice-extraction v3",
        "Type: warning",
    ]
    assert "Status: STUCK: PROCESSING with no new sample for 1h 12m" in result.stdout
    assert "Link:" not in result.stdout
    assert "other" not in result.stdout
    [warning] = result.stderr.strip().splitlines()
    assert warning.startswith("warning: alerts.run_url: line 1: UndefinedError")


def test_render_without_channels_shows_every_built_in_format(tmp_path: Path) -> None:
    """No channel configured: the built-in text, Markdown and HTML bodies."""
    result = render(config(tmp_path), "--sample")
    assert result.returncode == 0, result.stderr
    headers = [line for line in result.stdout.splitlines() if line.startswith("--- ")]
    assert headers == [
        "--- text body ---",
        "--- markdown body ---",
        "--- html body ---",
        "--- its plain-text part, as apprise derives it ---",
    ]


def test_render_a_run_from_the_state_file_then_from_the_api(
    tmp_path: Path, simulator: SimulatorServer
) -> None:
    """--run reads the state file when it holds the run (the API is not asked: it is down by
    then), else the API."""
    done, other = simulator.sim.create_runs(outcomes=["FAILED", "SUCCEEDED"], status="FAILED")[:2]
    path = config(
        tmp_path,
        dataframer={"base_url": simulator.url},
        track={"runs": [done.id]},
        log={"format": "json"},
    )
    assert cli("--config", str(path), "once", cwd=tmp_path, env=ENV).returncode == 0
    down = config(tmp_path, dataframer={"base_url": f"http://127.0.0.1:{free_port()}"})
    stored = render(down, "--run", done.id)
    assert stored.returncode == 0, stored.stderr
    assert f"Run: {done.id}" in stored.stdout.splitlines()
    assert "Status: PROCESSING → FAILED" in stored.stdout.splitlines()
    unknown = render(down, "--run", other.id)
    assert unknown.returncode == 1
    assert len(unknown.stderr.strip().splitlines()) == 1
    path = config(tmp_path, dataframer={"base_url": simulator.url})
    fetched = render(path, "--run", other.id)
    assert fetched.returncode == 0, fetched.stderr
    assert set(run_ids_in([fetched.stdout])) == {other.id}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "exactly one of --run RUN_ID and --sample"),
        (("--sample", "--run", SAMPLE_RUN_ID), "exactly one of"),
        (("--run", SAMPLE_RUN_ID, "--status", "FAILED"), "--status goes with --sample"),
        (("--sample", "--channel", "nope"), "no channel named 'nope'"),
        (("--sample", "--status", "GONE"), "invalid value for '--status'"),
    ],
)
def test_render_usage_errors_are_one_line_exit_2(
    tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    """Conflicting or missing options, an unknown channel or status: one line, exit 2."""
    result = render(config(tmp_path, channels={"hook": "json://127.0.0.1:9/x"}), *args)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert says in line


def test_test_notify_sends_the_sample_through_the_real_templates(
    tmp_path: Path, webhook: WebhookSink, smtp: SmtpSink
) -> None:
    """The webhook gets the sample's text with its full id, the email an HTML part and a
    text part, both saying it is a test."""
    path = config(
        tmp_path,
        channels={"hook": webhook.url(), "mail": smtp.url},
        delivery={"timeout": "5s"},
    )
    result = cli("--config", str(path), "test-notify", cwd=tmp_path, env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(result.stdout.splitlines()) == ["hook: ok", "mail: ok"]
    [post] = webhook.posts
    assert post["type"] == "success"
    assert post["title"].startswith("[test] ✅ Dataframer run SUCCEEDED")
    assert run_ids_in([post["message"]]) == [SAMPLE_RUN_ID]
    assert "This is a test alert" in post["message"]
    [mail] = smtp.messages
    assert mail.get_content_type() == "multipart/alternative"
    subject = str(make_header(decode_header(mail["Subject"])))
    assert subject.startswith("[test] ✅ Dataframer run SUCCEEDED")
    assert run_ids_in(smtp.bodies()) == [SAMPLE_RUN_ID]


def test_render_says_when_no_route_sends_the_alert_to_a_channel(
    tmp_path: Path, webhook: WebhookSink
) -> None:
    """A route for FAILED only: a SUCCEEDED sample is shown for the channel all the same, and
    the header says no route sends it there; a FAILED one is sent, plainly."""
    path = config(
        tmp_path,
        channels={"hook": webhook.url()},
        routes=[{"statuses": ["FAILED"], "channels": ["hook"]}],
    )
    quiet = render(path, "--sample", "--status", "SUCCEEDED")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.splitlines()[0] == (
        "=== channel hook (no route sends this alert here; shown as it would read) ==="
    )
    sent = render(path, "--sample", "--status", "FAILED")
    assert sent.stdout.splitlines()[0] == "=== channel hook ==="
    assert webhook.requests == []

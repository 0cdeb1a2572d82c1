"""`templates:` and `alerts.run_url` are compiled when the config loads: a broken one is a
config error naming the file, the template's field and its line (exit 2)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT, cli, write
from watcher.config import ConfigError, load_settings
from watcher.render import render_message
from watcher.templates import Templates
from watcher.templates.samples import SAMPLE_RUN_ID, sample_event

ENV = {"DATAFRAMER_API_KEY": "k" * 24}


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        (
            "templates:\n  short:\n    title: ok\n    body: |\n      first\n      {{ run.id\n",
            "templates.short.body",
            "line 2",
        ),
        (
            "templates:\n  short:\n    html: '<b>{{ run.cost | dollars }}</b>'\n",
            "templates.short.html",
            "no filter named 'dollars'",
        ),
        (
            "templates:\n  x:\n    markdown: '{{ run.__class__.__mro__ }}'\n",
            "templates.x.markdown",
            "the sandbox refuses the attribute",
        ),
        ("alerts:\n  run_url: 'https://x/{{ run.id '\n", "alerts.run_url", "line 1"),
    ],
)
def test_a_broken_template_is_a_config_error_naming_it_and_its_line(
    tmp_path: Path, text: str, field: str, line: str
) -> None:
    """load_settings raises one ConfigError; check-config prints it as one line, exit 2."""
    config = write(tmp_path / "watcher.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ=ENV)
    message = str(caught.value)
    assert str(config) in message
    assert f"{field}: the template does not compile: " in message
    assert line in message
    result = cli("--config", str(config), "check-config", cwd=tmp_path, env=ENV)
    assert result.returncode == 2
    [printed] = result.stderr.strip().splitlines()
    assert field in printed
    assert "Traceback" not in result.stderr


def test_the_example_configs_templates_compile_and_render(tmp_path: Path) -> None:
    """The commented `templates` and `alerts.run_url` examples of config/watcher.example.yaml,
    uncommented, load and render what they promise."""
    example = (ROOT / "config" / "watcher.example.yaml").read_text(encoding="utf-8")
    block = re.search(r"^templates: \{\}\n((?:  #.*\n)+)", example, re.MULTILINE)
    assert block is not None
    lines = [re.sub(r"^  # ", "  ", line) for line in block.group(1).splitlines()]
    text = "templates:\n" + "\n".join(line.split("# example")[0].rstrip() for line in lines)
    url = re.search(r'^  # run_url: ("[^"]+")', example, re.MULTILINE)
    assert url is not None
    text += f"\nalerts:\n  run_url: {url.group(1)}\n"
    settings = load_settings(write(tmp_path / "watcher.yaml", text), environ=ENV)
    assert yaml.safe_load(text)["templates"]["short"]["title"] == settings.templates["short"].title
    built = Templates.build(
        {name: t.model_dump() for name, t in settings.templates.items()}, settings.alerts.run_url
    )
    event = sample_event("FAILED", now=datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    rendered = render_message([event], templates=built, template="short")
    assert rendered.notes == ()
    assert rendered.title == "❌ invoice-extraction FAILED"
    assert rendered.bodies["text"] == f"{SAMPLE_RUN_ID} after 42m 17s"
    assert rendered.bodies["markdown"] == f"**invoice-extraction** FAILED: `{SAMPLE_RUN_ID}`"
    assert (
        rendered.bodies["html"] == f"<b>invoice-extraction</b> FAILED: <code>{SAMPLE_RUN_ID}</code>"
    )
    plain = render_message([event], templates=built)
    assert f"Link: https://app.example.com/runs/{SAMPLE_RUN_ID}" in plain.body.splitlines()

"""Render the README's samples of the built-in messages from the real templates.

    .venv/bin/python scripts/readme_samples.py docs/

writes `email.html` (the default HTML email of a sample success), `slack.md` (the Markdown
body Slack gets) and `text.txt` (the plain-text body every other service gets), then, with
Debian's `chromium` installed, `email.png`: the email as headless Chromium draws it. The
README's picture and text blocks are these files.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from watcher.render import render_message
from watcher.templates import Templates
from watcher.templates.samples import sample_event

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
LINK = "https://app.dataframer.ai/runs/{{ run.id }}"


def main(out: Path, *, screenshot: bool = True) -> None:
    """Write the samples (and the screenshot, when Chromium is there) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    rendered = render_message(
        [sample_event("SUCCEEDED", now=NOW)], templates=Templates.build({}, LINK), channel="team"
    )
    (out / "email.html").write_text(rendered.bodies["html"], encoding="utf-8")
    (out / "slack.md").write_text(f"{rendered.title}\n\n{rendered.bodies['markdown']}\n")
    (out / "text.txt").write_text(f"{rendered.title}\n\n{rendered.body}\n", encoding="utf-8")
    chromium = shutil.which("chromium")
    if not screenshot:
        return
    if chromium is None:
        print("chromium not found (apt-get install -y chromium): no email.png", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={out / 'email.png'}",
                "--window-size=680,660",
                (out / "email.html").resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))

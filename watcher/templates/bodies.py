"""A message's body in each format: the template's part or the built-in one, within limits.

`bodies_for` renders one message's context in every format its channel takes; a user's template
that fails to render is noted and replaced by the built-in one, never lost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Template

from watcher.events import MessageLimits
from watcher.templates.engine import (
    FORMATS,
    HTML,
    TEXT,
    TemplateProblem,
    builtin,
    render_template,
)
from watcher.templates.library import NamedTemplate

__all__ = ["Rendered", "bodies_for", "cut", "render_part"]

_TAG_GAP = re.compile(r">\s+<")
_CUT_NOTE = "\n… (cut to fit the channel; `dataframer-watcher history RUN_ID` has it all)"


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message's text: its title, its body per format (text always), and the notes."""

    title: str
    bodies: Mapping[str, str]
    notes: tuple[str, ...] = ()

    @property
    def body(self) -> str:
        """The plain-text body."""
        return self.bodies[TEXT]


def render_part(
    template: Template, context: Mapping[str, Any], where: str, notes: list[str]
) -> str | None:
    """A user's template rendered, or None when it fails (noted, with why)."""
    try:
        text, blanks = render_template(template, {**context, "alert": context})
    except TemplateProblem as exc:
        notes.append(f"{where}: {exc}; the built-in one was used")
        return None
    notes.extend(f"{where}: {name!r} is undefined and rendered empty" for name in blanks)
    return text


def bodies_for(
    kind: str,
    context: Mapping[str, Any],
    chosen: NamedTemplate | None,
    limits: MessageLimits,
    notes: list[str],
) -> dict[str, str]:
    """The body per format the channel takes. A format the template leaves out is the
    built-in one, except that its `body` stands in for `markdown` and `html`."""
    bodies: dict[str, str] = {}
    for fmt in FORMATS:
        if fmt != TEXT and fmt not in limits.formats:
            continue
        text = None
        if chosen is not None:
            own = chosen.bodies.get(fmt)
            if own is None and fmt != TEXT and TEXT in chosen.bodies:
                continue  # the template's plain body goes to this service instead
            if own is not None:
                part = {TEXT: "body"}.get(fmt, fmt)
                text = render_part(own, context, f"templates.{chosen.name}.{part}", notes)
        if text is None:
            text, _ = render_template(builtin(kind, fmt), context)
            if fmt == HTML:
                text = _TAG_GAP.sub("><", text)
        if fmt == HTML and len(text) > limits.body:
            continue  # cut HTML is broken HTML: the text body goes instead
        bodies[fmt] = cut(text, limits.body)
    return bodies


def cut(body: str, limit: int) -> str:
    if len(body) <= limit:
        return body
    room = max(0, limit - len(_CUT_NOTE))
    kept = body[:room].rsplit("\n", 1)[0] if "\n" in body[:room] else body[:room]
    return (kept + _CUT_NOTE)[:limit]

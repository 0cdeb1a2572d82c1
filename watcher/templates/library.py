"""The templates a config names, compiled once: `Templates`, what the pipeline renders with.

Built from plain values (`templates:` and `alerts.run_url` as the config holds them), so this
package needs nothing from `watcher.config`, which calls `check_template` to validate them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from jinja2 import Template

from watcher.templates.engine import HTML, MARKDOWN, TEXT, TemplateProblem, compile_template

__all__ = ["TEMPLATE_PARTS", "NamedTemplate", "Templates", "check_template"]

# A template's parts (`templates.NAME.PART`) and the format each is written in: `body` is
# plain text, the body every channel can take.
TEMPLATE_PARTS: Mapping[str, str] = {
    "title": TEXT,
    "body": TEXT,
    "markdown": MARKDOWN,
    "html": HTML,
}


def check_template(source: str, part: str) -> str:
    """`source` if it compiles as `part` (title, body, markdown, html, or run_url);
    else ValueError naming the line (pydantic puts the field's name before it)."""
    try:
        compile_template(source, TEMPLATE_PARTS.get(part, TEXT))
    except TemplateProblem as exc:
        raise ValueError(f"the template does not compile: {exc}") from None
    return source


@dataclass(frozen=True, slots=True)
class NamedTemplate:
    """One template of `templates:`: its title, and its body per format (what it gives)."""

    name: str
    title: Template | None = None
    bodies: Mapping[str, Template] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Templates:
    """Every named template, compiled, and the `alerts.run_url` template (None: no link)."""

    named: Mapping[str, NamedTemplate] = field(default_factory=dict)
    run_url: Template | None = None

    @classmethod
    def build(
        cls, templates: Mapping[str, Mapping[str, str | None]], run_url: str | None = None
    ) -> Templates:
        """Compile `templates` (name -> part -> source) and `run_url`; TemplateProblem when
        one does not compile (the config has checked them already)."""
        named = {}
        for name, parts in templates.items():
            title = parts.get("title")
            named[name] = NamedTemplate(
                name=name,
                title=compile_template(title, TEXT) if title else None,
                bodies={
                    fmt: compile_template(source, fmt)
                    for part, fmt in TEMPLATE_PARTS.items()
                    if part != "title" and (source := parts.get(part))
                },
            )
        return cls(named, compile_template(run_url, TEXT) if run_url else None)

    def get(self, name: str | None) -> NamedTemplate | None:
        """The named template, or None for the built-in ones (an unknown name too)."""
        return None if name is None else self.named.get(name)


BUILTIN = Templates()
"""No named templates and no link: the built-in templates alone."""

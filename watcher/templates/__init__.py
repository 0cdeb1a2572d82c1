"""Alert templates: Jinja2 in its sandbox, the built-in templates, and what templates see.

- `engine`: the sandboxed environments (one per format), compiling with every check that can
  run at config load, rendering that never raises past `TemplateProblem`, `Blank` for what is
  missing;
- `helpers`: durations, sizes, money, percentages, times (also the templates' filters);
- `context`: one alert's variables, from its Event;
- `library`: `Templates`, the config's named templates and `alerts.run_url`, compiled;
- `samples`: realistic sample alerts (`render --sample`, `test-notify`);
- `builtin/`: the built-in templates (package data): `alert`, `group` (several runs in one
  message), `digest` (held alerts) and `ops`, each as `.txt`, `.md` and `.html`.

`watcher.render`, the pipeline's stage, composes messages with these.
"""

from watcher.templates.engine import (
    FORMATS,
    HTML,
    MARKDOWN,
    TEXT,
    Blank,
    TemplateProblem,
    builtin,
    compile_template,
    render_template,
)
from watcher.templates.library import (
    BUILTIN,
    TEMPLATE_PARTS,
    NamedTemplate,
    Templates,
    check_template,
)

__all__ = [
    "BUILTIN",
    "FORMATS",
    "HTML",
    "MARKDOWN",
    "TEMPLATE_PARTS",
    "TEXT",
    "Blank",
    "NamedTemplate",
    "TemplateProblem",
    "Templates",
    "builtin",
    "check_template",
    "compile_template",
    "render_template",
]

"""Jinja2 in its sandbox: compiling a template (every check that can run before a send) and
rendering one (never raising an error its caller has to guess at).

Compiling (`compile_template`) is what the config does when it loads: a syntax error, an
unknown filter or test, or an attribute the sandbox would refuse (`_private`, `__class__`,
`mro`, a function's globals) is a `TemplateProblem` with the template's line, so a broken
template stops the watcher at start (or keeps the old config on SIGHUP) instead of at the
first alert.

Rendering (`render_template`) uses `Blank` for what is not there: an unknown variable, a
missing key, an attribute of None renders as "" instead of raising. A send must never fail
because a template named a field the API left out (every run field is optional), or because
of a typo nobody saw; an alert with one blank is far better than no alert. The names that
rendered blank are returned, so `render` and the daemon's log can point at a typo. What still
fails (arithmetic on a missing value, a call the sandbox refuses) raises `TemplateProblem`, and
the caller falls back to the built-in template for that part.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from importlib import resources
from typing import Any

from jinja2 import (
    ChainableUndefined,
    FunctionLoader,
    Template,
    TemplateError,
    TemplateSyntaxError,
    Undefined,
    nodes,
)
from jinja2.sandbox import (
    UNSAFE_FUNCTION_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    UNSAFE_METHOD_ATTRIBUTES,
    SandboxedEnvironment,
)

from watcher.templates.helpers import FILTERS

__all__ = [
    "FORMATS",
    "Blank",
    "TemplateProblem",
    "builtin",
    "compile_template",
    "render_template",
]

# The body formats a message can carry, as apprise names them (`apprise.NotifyFormat`).
TEXT, MARKDOWN, HTML = "text", "markdown", "html"
FORMATS = (TEXT, MARKDOWN, HTML)
_EXTENSION = {TEXT: "txt", MARKDOWN: "md", HTML: "html"}
_UNSAFE = (
    frozenset(UNSAFE_FUNCTION_ATTRIBUTES)
    | frozenset(UNSAFE_METHOD_ATTRIBUTES)
    | frozenset(UNSAFE_GENERATOR_ATTRIBUTES)
    | {"mro", "format", "format_map"}  # str.format reaches attributes the sandbox would refuse
)

_blanks: ContextVar[list[str] | None] = ContextVar("watcher_template_blanks", default=None)


class TemplateProblem(ValueError):
    """A template that cannot compile, or a render that failed: `line` in the template."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}" if line else reason)


class Blank(ChainableUndefined):
    """What a missing value renders as: "" (and chains: `run.runtime_params.model` too).

    It notes its name, for the render that printed it to report."""

    __slots__ = ()

    def __str__(self) -> str:
        noted = _blanks.get()
        if noted is not None and self._undefined_name is not None:
            noted.append(str(self._undefined_name))
        return ""


def _lenient(helper: Callable[..., Any]) -> Callable[..., Any]:
    """A helper that takes a missing value (Blank) as None, as it takes the API's nulls."""

    @functools.wraps(helper)
    def call(*args: Any, **kwargs: Any) -> Any:
        args = tuple(None if isinstance(a, Undefined) else a for a in args)
        return helper(*args, **kwargs)

    return call


def _load_builtin(name: str) -> str | None:
    """A built-in template file (package data, read on first use): `{% include "x" %}`."""
    path = resources.files("watcher.templates") / "builtin" / name
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


@functools.cache
def _environment(fmt: str) -> SandboxedEnvironment:
    """The sandbox for one format: HTML escapes every value, the others take them as written.
    Built once per format, on first use (no work at import time)."""
    env = SandboxedEnvironment(
        autoescape=fmt == HTML,
        undefined=Blank,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        loader=FunctionLoader(_load_builtin),
        auto_reload=False,
    )
    env.filters.update({name: _lenient(helper) for name, helper in FILTERS.items()})
    return env


def _walk(node: nodes.Node) -> Iterator[nodes.Node]:
    yield node
    for child in node.iter_child_nodes():
        yield from _walk(child)


def _refused_attribute(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr):
        name: object = node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        name = node.arg.value
    else:
        return None
    if isinstance(name, str) and (name.startswith("_") or name in _UNSAFE):
        return name
    return None


def _check(env: SandboxedEnvironment, tree: nodes.Template) -> None:
    """What the sandbox and Jinja would only find while rendering, found now."""
    for node in _walk(tree):
        line = getattr(node, "lineno", None)
        if isinstance(node, nodes.Filter) and node.name not in env.filters:
            raise TemplateProblem(f"no filter named {node.name!r}", line)
        if isinstance(node, nodes.Test) and node.name not in env.tests:
            raise TemplateProblem(f"no test named {node.name!r}", line)
        refused = _refused_attribute(node)
        if refused is not None:
            raise TemplateProblem(f"the sandbox refuses the attribute {refused!r}", line)


@functools.lru_cache(maxsize=512)
def compile_template(source: str, fmt: str = TEXT) -> Template:
    """`source` compiled for `fmt` (text, markdown or html); raises TemplateProblem.

    Cached: the config's validation compiles each template, and the pipeline finds it here.
    """
    env = _environment(fmt)
    try:
        tree = env.parse(source)
        _check(env, tree)
        return env.from_string(tree)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or "syntax error", exc.lineno) from None
    except TemplateError as exc:  # TemplateAssertionError and kin
        raise TemplateProblem(
            str(exc) or type(exc).__name__, getattr(exc, "lineno", None)
        ) from None


def builtin(kind: str, fmt: str) -> Template:
    """A built-in template: `kind` is alert, group, digest or ops."""
    return _environment(fmt).get_template(f"{kind}.{_EXTENSION[fmt]}")


def render_template(template: Template, context: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The rendered text, stripped, and the names that rendered blank (each once).

    Raises TemplateProblem (with the template's line when Jinja tells it) when rendering
    fails; never anything else.
    """
    noted: list[str] = []
    token = _blanks.set(noted)
    try:
        text = template.render(context)
    except Exception as exc:  # any failure inside a user's template is that template's
        raise TemplateProblem(_reason(exc), _template_line(exc)) from None
    finally:
        _blanks.reset(token)
    return text.strip(), tuple(dict.fromkeys(noted))


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _template_line(exc: BaseException) -> int | None:
    """The template line a render failed on: Jinja rewrites its traceback frames to point
    into the template, whose code is named "<template>"."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line

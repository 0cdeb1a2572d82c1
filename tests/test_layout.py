"""The package's shape, as the README's architecture section promises it: checked, not hoped.

The import graph is read from the source (module-level imports; those under `TYPE_CHECKING`
and inside functions are lazy on purpose and left out), so the rules hold for every module
without importing any of them.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGE = ROOT / "watcher"
PURE_STAGES = (
    "watcher.detect",
    "watcher.stuck",
    "watcher.eta",
    "watcher.slow",
    "watcher.assess",
    "watcher.route",
    "watcher.hold",
    "watcher.render",
    "watcher.ops",
    "watcher.wait",
    "watcher.actions.plan",
)
# What a pure stage may import: its own values and the standard library's pure parts.
IO_LIBRARIES = ("httpx", "apprise", "sqlite3", "socket", "apscheduler", "structlog", "asyncio")
IMPURE_PACKAGES = ("watcher.state", "watcher.deliver", "watcher.service", "watcher.cli")
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _top_level_imports(path: Path) -> Iterator[str]:
    """Every module named by an import at module level (not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    here = _module_name(path).split(".")
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here if is_package else here[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _ours(name: str) -> str | None:
    """The module of ours that `name` is, or is in (a name imported from it)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


@functools.cache
def graph() -> dict[str, frozenset[str]]:
    """Module -> the modules of ours it imports at module level."""
    edges: dict[str, frozenset[str]] = {}
    for name, path in MODULES.items():
        targets = {_ours(target) for target in _top_level_imports(path)}
        edges[name] = frozenset(t for t in targets if t is not None and t != name)
    return edges


def _reaches(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph()[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_import_graph_has_no_cycle() -> None:
    """No module reaches itself through module-level imports."""
    cyclic = sorted(name for name in MODULES if name in _reaches(name))
    assert cyclic == []


@pytest.mark.parametrize("stage", PURE_STAGES)
def test_pure_stages_import_no_io_and_nothing_around_the_pipeline(stage: str) -> None:
    """detect, assess, route and render import no I/O library and nothing from state, deliver,
    service or cli, directly or through what they import."""
    reached = {stage} | _reaches(stage)
    for module in reached:
        raw = set(_top_level_imports(MODULES[module]))
        assert not [lib for lib in IO_LIBRARIES if lib in raw], (module, stage)
    assert not [m for m in reached if m.startswith(IMPURE_PACKAGES)]


def test_nothing_but_main_imports_the_cli() -> None:
    """The command line sits on top: no module outside watcher.cli imports it."""
    importers = sorted(
        name
        for name, targets in graph().items()
        if not name.startswith("watcher.cli")
        and any(t == "watcher.cli" or t.startswith("watcher.cli.") for t in targets)
    )
    assert importers == ["watcher.__main__"]


def test_no_module_is_over_400_lines() -> None:
    """A module past ~400 lines has become two concerns."""
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_asyncio_run_appears_in_at_most_two_places() -> None:
    """One event loop per command, started in one place (the CLI's run_async)."""
    places = [
        f"{name}:{node.lineno}"
        for name, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "asyncio.run"
    ]
    assert len(places) <= 2, places


def test_the_readme_architecture_names_every_module_and_package() -> None:
    """A newcomer finds any behaviour in one hop: the architecture section names every
    top-level module and every package by its path."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    top_level = [p for p in PACKAGE.iterdir() if p.suffix == ".py" and p.name != "__init__.py"]
    packages = [p for p in PACKAGE.iterdir() if (p / "__init__.py").exists()]
    missing = [f"watcher/{p.name}" for p in top_level if f"watcher/{p.name}" not in section]
    missing += [f"watcher/{p.name}/" for p in packages if f"watcher/{p.name}/" not in section]
    assert missing == []

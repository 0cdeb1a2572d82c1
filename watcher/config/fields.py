"""The walk over the settings model's fields, and the guess at what a misspelt name meant.

One walk serves both places that must say what a name reaches: `watcher.config.messages`,
which answers an unknown YAML key with "did you mean 'api_key'?", and `watcher.config.env`,
which decides whether a ``WATCHER_*`` variable sets anything and, if not, which one was meant.
Both take the root model as an argument (`watcher.config.Settings`), so this module imports
none of the configuration.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any, get_args, get_origin

from pydantic import BaseModel

__all__ = ["did_you_mean", "holds_mapping", "model_at"]


def model_at(
    root: type[BaseModel], path: Sequence[str | int], *, into_lists: bool = True
) -> type[BaseModel] | None:
    """The model whose fields are the keys found under ``path``, walking from ``root``.

    ``()`` is ``root`` itself, ``("poll",)`` the poll section and ``("routes", 0)`` a route:
    list positions are skipped and a list of models is entered, unless ``into_lists`` is false
    (an environment variable cannot set one item of a list). None when ``path`` reaches
    anything but a model: an unknown key, a plain value, a mapping.
    """
    model = root
    for part in path:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        annotation = info.annotation if info is not None else None
        if into_lists and get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def holds_mapping(model: type[BaseModel], name: str) -> bool:
    """Whether field ``name`` of ``model`` is a mapping, whose keys are the user's to choose
    (``channels``: a channel name to its URLs)."""
    info = model.model_fields.get(name)
    return info is not None and _is_mapping(info.annotation)


def _is_mapping(annotation: Any) -> bool:
    return get_origin(annotation) is dict or any(_is_mapping(a) for a in get_args(annotation))


def did_you_mean(word: str, known: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The one of ``known`` that ``word`` most likely misspells, or None when none is close:
    difflib's similarity ratio of at least ``cutoff`` (0 to 1)."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=cutoff)
    return close[0] if close else None

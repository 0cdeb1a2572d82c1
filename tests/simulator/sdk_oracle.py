"""The official SDK's models as the oracle: what they declare, and checks against them.

Shared by the contract tests (``test_contract*.py``): the SDK drives the simulator over real
HTTP, and whatever the simulator sends must carry every field the SDK's model declares (under
its wire name: ``model_name`` is ``api_model_name`` in Python), with enum values the SDK knows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel


def fields(model: type[BaseModel]) -> set[str]:
    """The wire names of the fields a model declares (aliases where it has them)."""
    return {info.alias or name for name, info in model.model_fields.items()}


def literal_values(model: type[BaseModel], name: str) -> set[Any]:
    """The values of a field typed Optional[Literal[...]] in the SDK."""
    found = literal_of(model.model_fields[name].annotation)
    if found is None:
        raise AssertionError(f"{model.__name__}.{name} is not a Literal")
    return found


def literal_of(annotation: Any) -> set[Any] | None:
    """The values of the Literal inside an annotation (Optional, Required...), or None."""
    if get_origin(annotation) is Literal:
        return set(get_args(annotation))
    for arg in get_args(annotation):
        found = literal_of(arg)
        if found is not None:
            return found
    return None


def assert_complete(instance: BaseModel) -> None:
    """The SDK parsed every field it declares from the response: none was missing."""
    assert instance.model_fields_set == set(type(instance).model_fields), type(instance).__name__


def _models_in(value: object) -> Iterator[BaseModel]:
    if isinstance(value, BaseModel):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _models_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _models_in(item)


def assert_complete_deep(instance: BaseModel) -> None:
    """``assert_complete`` for the model and for every model nested in it."""
    assert_complete(instance)
    for name in type(instance).model_fields:
        for nested in _models_in(getattr(instance, name)):
            assert_complete_deep(nested)


def assert_wire(model: type[BaseModel], body: dict[str, Any]) -> None:
    """A raw body has exactly the model's fields; each enum value is one the SDK knows;
    each datetime the SDK parses carries a time zone."""
    assert set(body) == fields(model), model.__name__
    for name, info in model.model_fields.items():
        value = body[info.alias or name]
        allowed = literal_of(info.annotation)
        if allowed is not None and value is not None:
            assert value in allowed, f"{model.__name__}.{name} = {value!r}"
    parsed = model.model_validate(body)
    for name in model.model_fields:
        value = getattr(parsed, name)
        if isinstance(value, datetime):
            assert value.tzinfo is not None, f"{model.__name__}.{name} has no time zone"

"""Create-request bodies checked the way Django REST framework checks them.

Each ``*_errors`` function returns ``{field: [message, ...]}``, empty when the body is valid:
the same shape and wording as the API's 400 answers. The allowed values are the ones the
official SDK's types list (the contract tests compare them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .catalog import DETECTION_METHODS, EVALUATION_MODELS, RED_TEAM_MODELS

Errors = dict[str, list[str]]

_REQUIRED = "This field is required."
_BOOL_FIELDS = ("enable_revisions", "skip_outline", "unified_multifield")
_INT_FIELDS = (
    "generation_thinking_budget",
    "max_examples_in_prompt",
    "max_revision_cycles",
    "outline_thinking_budget",
    "revision_thinking_budget",
    "spec_version",
)
_STR_FIELDS = ("generation_model", "outline_model", "revision_model")
_LIST_FIELDS = ("filtering_types", "revision_types", "tools")
_SHUFFLING = ("none", "sample", "field", "prompt")


def not_an_object(body: object) -> Errors:
    """DRF's answer to a body that is JSON but not an object."""
    kind = type(body).__name__
    return {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}


def _required(body: dict[str, Any], errors: Errors, *names: str) -> None:
    for name in names:
        if body.get(name) is None:
            errors[name] = [_REQUIRED]


def _string(body: dict[str, Any], errors: Errors, name: str) -> None:
    if name not in errors and name in body and (not isinstance(body[name], str) or not body[name]):
        errors[name] = ["Not a valid string."]


def _positive(body: dict[str, Any], errors: Errors, name: str) -> None:
    value = body.get(name)
    if name in errors or name not in body:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        errors[name] = ["A valid integer is required."]
    elif value < 1:
        errors[name] = ["Ensure this value is greater than or equal to 1."]


def _choice(body: dict[str, Any], errors: Errors, name: str, allowed: Sequence[str]) -> None:
    if name not in errors and name in body and body[name] not in allowed:
        errors[name] = [f'"{body[name]}" is not a valid choice.']


def run_errors(body: dict[str, Any]) -> Errors:
    """Errors of a ``POST /api/dataframer/runs/`` body."""
    errors: Errors = {}
    _required(body, errors, "spec_id", "number_of_samples")
    _string(body, errors, "spec_id")
    _positive(body, errors, "number_of_samples")
    for name, value in body.items():
        if name in _BOOL_FIELDS and not isinstance(value, bool):
            errors[name] = ["Must be a valid boolean."]
        elif name in _INT_FIELDS and (isinstance(value, bool) or not isinstance(value, int)):
            errors[name] = ["A valid integer is required."]
        elif name in _STR_FIELDS and not isinstance(value, str):
            errors[name] = ["Not a valid string."]
        elif name in _LIST_FIELDS and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            errors[name] = ["Expected a list of strings."]
    _choice(body, errors, "seed_shuffling_level", _SHUFFLING)
    return errors


def evaluation_errors(body: dict[str, Any]) -> Errors:
    """Errors of a ``POST /api/dataframer/evaluations/`` body."""
    errors: Errors = {}
    _required(body, errors, "run_id")
    _string(body, errors, "run_id")
    _choice(body, errors, "evaluation_model", EVALUATION_MODELS)
    return errors


def red_team_errors(body: dict[str, Any]) -> Errors:
    """Errors of a ``POST /api/dataframer/red-team-runs/`` body."""
    errors: Errors = {}
    names = ("model_name", "number_of_behaviors", "number_of_prompts_per_behavior")
    _required(body, errors, *names, "red_team_spec_id")
    _string(body, errors, "red_team_spec_id")
    _choice(body, errors, "model_name", RED_TEAM_MODELS)
    _positive(body, errors, "number_of_behaviors")
    _positive(body, errors, "number_of_prompts_per_behavior")
    return errors


def anonymization_errors(body: dict[str, Any]) -> Errors:
    """Errors of a ``POST /api/dataframer/anonymization-runs/`` body."""
    errors: Errors = {}
    _required(body, errors, "dataset_id", "detection_method", "pii_types")
    _string(body, errors, "dataset_id")
    _choice(body, errors, "detection_method", DETECTION_METHODS)
    types = body.get("pii_types")
    if "pii_types" not in errors:
        if not isinstance(types, list) or not all(isinstance(t, str) and t for t in types):
            errors["pii_types"] = ["Expected a list of strings."]
        elif not types:
            errors["pii_types"] = ["This list may not be empty."]
        elif any(t != t.lower() for t in types):
            errors["pii_types"] = ["All PII types must be lowercase."]
    _string(body, errors, "llm_model_name")
    if (
        body.get("detection_method") in ("llm", "all")
        and body.get("llm_model_name") is None
        and "detection_method" not in errors
    ):
        errors["llm_model_name"] = ["Required when detection_method includes llm."]
    mask = body.get("mask_config")
    if mask is not None and not (
        isinstance(mask, dict) and all(isinstance(v, str) for v in mask.values())
    ):
        errors["mask_config"] = ["Expected a mapping of entity types to strings."]
    threshold = body.get("threshold")
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0.0 <= threshold <= 1.0
    ):
        errors["threshold"] = ["Ensure this value is a number between 0 and 1."]
    return errors

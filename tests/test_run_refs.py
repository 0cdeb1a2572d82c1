"""One rule for run ids everywhere: stripped, UUIDs lower-cased, junk refused."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.run_refs import normalize_run_id


def test_uuids_are_stripped_and_lower_cased() -> None:
    """A UUID pasted in capitals with spaces is the same run."""
    assert (
        normalize_run_id(" 3C90C3CC-0D44-4B50-8888-8DD25736052A\n")
        == "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    )


def test_plain_tokens_are_kept_as_written() -> None:
    """Non-UUID ids (other deployments, tests) are accepted and keep their case."""
    assert normalize_run_id("Run-42") == "Run-42"


@pytest.mark.parametrize("bad", ["", "   ", "a b", "../x", "ünï", "x/y", "-lead", "a" * 129])
def test_junk_is_refused_with_the_value_quoted(bad: str) -> None:
    """Anything that cannot be a run id is a ValueError quoting it."""
    with pytest.raises(ValueError, match="not a run id"):
        normalize_run_id(bad)


@given(st.uuids())
def test_every_uuid_in_any_case_normalizes_to_its_canonical_form(value: uuid.UUID) -> None:
    """Case and surrounding whitespace never make two ids of one run."""
    assert normalize_run_id(f"  {str(value).upper()} ") == str(value)
    assert normalize_run_id(normalize_run_id(str(value))) == str(value)

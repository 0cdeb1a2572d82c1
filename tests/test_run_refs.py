"""One rule for run ids everywhere: stripped, UUIDs lower-cased, junk refused, each run once."""

from __future__ import annotations

import uuid
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.run_refs import (
    kind_name,
    kind_of,
    normalize_run_id,
    normalize_run_ids,
    parse_ref,
    split_key,
)


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


TOKENS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(st.lists(st.one_of(st.uuids().map(str), TOKENS), max_size=8), st.randoms())
def test_a_list_of_ids_keeps_its_order_and_each_run_once(ids: list[str], rnd: Random) -> None:
    """However a list is pasted (UUIDs in any case, spaces, repeats), each run appears once,
    where it first appeared; the config, the CLI and the state file all read lists so."""
    pasted = [f" {i.upper() if len(i) == 36 and rnd.random() < 0.5 else i}\t" for i in ids * 2]
    result = normalize_run_ids(pasted)
    assert result == list(dict.fromkeys(normalize_run_id(i) for i in ids))
    assert normalize_run_ids(result) == result


def test_a_list_with_junk_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="not a run id: 'a b'"):
        normalize_run_ids(["good-1", "a b"])


def test_36_characters_that_are_no_uuid_are_a_plain_token() -> None:
    """Only a real UUID is lower-cased; a 36-character token keeps its case."""
    token = "Run-" + "X" * 32
    assert normalize_run_id(token) == token


# --- every job kind ---------------------------------------------------------------------------

UUID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


@pytest.mark.parametrize(
    ("typed", "kind", "key"),
    [
        (UUID, "run", UUID),
        (f"run:{UUID}", "run", UUID),
        (f"evaluation:{UUID.upper()}", "evaluation", f"evaluation:{UUID}"),
        (f" Evaluation : {UUID} ", "evaluation", f"evaluation:{UUID}"),
        (f"red-team:{UUID}", "red_team", f"red-team:{UUID}"),
        (f"red_team:{UUID}", "red_team", f"red-team:{UUID}"),
        (f"RED-TEAM:{UUID}", "red_team", f"red-team:{UUID}"),
        ("anonymization:anon-7", "anonymization", "anonymization:anon-7"),
    ],
)
def test_each_kind_has_one_canonical_reference(typed: str, kind: str, key: str) -> None:
    """A bare id is a generation run; a prefix names the other kinds, in any spelling the
    brief allows, and always comes back as one canonical key."""
    ref = parse_ref(typed)
    assert (ref.kind, ref.key) == (kind, key)
    assert normalize_run_id(typed) == key
    assert kind_of(key) == kind
    assert split_key(key) == ref


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("evaluation:", "no id after evaluation:"),
        ("red-team:  ", "no id after red-team:"),
        (f"foo:{UUID}", "unknown kind 'foo'"),
        ("run:evaluation:x", "not a run id"),
        ("evaluation:a b", "not a run id"),
        (":x", "unknown kind ''"),
    ],
)
def test_a_bad_reference_is_one_line_naming_the_value(bad: str, words: str) -> None:
    """A prefix that names no kind, a kind without an id, or a bad id after a good prefix:
    one line that quotes what was typed and says what is wrong."""
    with pytest.raises(ValueError, match="not a run") as caught:
        parse_ref(bad)
    message = str(caught.value)
    assert words in message
    assert repr(bad) in message
    assert "\n" not in message


KIND_PREFIXES = st.sampled_from(
    ["", "run:", "evaluation:", "Evaluation:", "red-team:", "red_team:", "anonymization:"]
)


@given(KIND_PREFIXES, st.one_of(st.uuids().map(str), TOKENS))
def test_a_canonical_key_reads_back_as_itself(prefix: str, job_id: str) -> None:
    """Whatever was typed, its canonical key is a fixed point, names the same kind, and
    splits back into the same id: the state file and the CLI never disagree about a job."""
    key = normalize_run_id(f" {prefix}{job_id.upper() if len(job_id) == 36 else job_id} ")
    assert normalize_run_id(key) == key
    ref = split_key(key)
    assert ref == parse_ref(key)
    assert ref.key == key
    expected = kind_name(prefix.rstrip(":")) if prefix else "run"
    assert ref.kind == expected == kind_of(key)

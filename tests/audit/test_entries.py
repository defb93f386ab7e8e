"""The leaf format: canonical bytes, and what it refuses."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from clipwarden.audit.entries import make_leaf, parse_leaf

AT = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)


def test_a_leaf_is_canonical_json_with_its_index_time_and_kind() -> None:
    fields = {"resource": {"type": "clip", "id": "c1"}, "allow": False, "reason": "no consent: é"}
    leaf = make_leaf(7, "decision", AT, fields)
    assert (
        leaf
        == (
            '{"allow":false,"at":"2025-01-01T08:00:00Z","index":7,"kind":"decision",'
            '"reason":"no consent: é","resource":{"id":"c1","type":"clip"}}'
        ).encode()
    )
    assert parse_leaf(leaf) == {**fields, "index": 7, "at": "2025-01-01T08:00:00Z", "kind": "decision"}


def test_the_same_entry_gives_the_same_bytes_whatever_the_field_order_or_time_zone() -> None:
    paris = timezone(timedelta(hours=1))
    first = make_leaf(1, "label", AT, {"a": 1, "b": [1, 2]})
    second = make_leaf(1, "label", AT.astimezone(paris), {"b": [1, 2], "a": 1})
    assert first == second


@pytest.mark.parametrize("kind", ["", "Decision", "consent-given", "x" * 65, "décision"])
def test_bad_kinds_are_refused(kind: str) -> None:
    with pytest.raises(ValueError, match="kind"):
        make_leaf(0, kind, AT, {})


@pytest.mark.parametrize("name", ["index", "at", "kind"])
def test_fields_may_repeat_the_envelope_but_not_contradict_it(name: str) -> None:
    envelope = {"index": 0, "at": "2025-01-01T08:00:00Z", "kind": "label"}
    assert make_leaf(0, "label", AT, {name: envelope[name]}) == make_leaf(0, "label", AT, {})
    with pytest.raises(ValueError, match=name):
        make_leaf(0, "label", AT, {name: 1})


def test_unportable_fields_and_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        make_leaf(0, "label", AT, {"score": math.nan})
    with pytest.raises(TypeError):
        make_leaf(0, "label", AT, {"when": AT})
    with pytest.raises(ValueError, match="naive"):
        make_leaf(0, "label", datetime(2025, 1, 1), {})


@pytest.mark.parametrize(
    "leaf",
    [
        b"\xff",
        b"not json",
        b"[1]",
        b'{"at":"x","kind":"label"}',
        b'{"index":"1","at":"x","kind":"label"}',
        b'{"index":1,"at":"x","kind":"Bad"}',
        b'{"index":true,"at":"x","kind":"label"}',
    ],
)
def test_leaves_that_are_not_entries_are_refused(leaf: bytes) -> None:
    with pytest.raises(ValueError):
        parse_leaf(leaf)

"""The pure part of dataset snapshots: which clips become items, why the others do not, and a manifest whose
bytes depend on the items alone."""

from __future__ import annotations

import json
from dataclasses import replace

from clipwarden.learn.snapshots import Candidate, Consented, Label, choose, gate_exclusion, manifest, manifest_sha256

CONSENTED = Consented("c-1", "human_review_for_model_improvement", 2, "ab" * 32, unredacted=False)
SURE = Label("pet", 0.97, settled=True, annotation_ids=("ann_1", "ann_2"), adjudicated=False, gold=False)
ITEM = Candidate("clip_1", "item_b", "cd" * 32, "US", "consent c-1 covers automated_training", CONSENTED, SURE)


def test_allowed_settled_sure_labels_are_items_with_their_lineage() -> None:
    chosen = choose([ITEM], 0.9)
    assert chosen.excluded == {}
    assert chosen.clip_records == (
        (
            "clip_1",
            {
                "item_id": "item_b",
                "clip_sha256": "cd" * 32,
                "consent_id": "c-1",
                "purpose": "human_review_for_model_improvement",
                "notice_version": 2,
                "receipt_sha256": "ab" * 32,
                "label": "pet",
                "confidence": 0.97,
                "provenance": {"annotation_ids": ["ann_1", "ann_2"], "adjudicated": False, "gold": False},
                "residency": "US",
                "redacted": True,
            },
        ),
    )


def test_labels_that_are_unsure_unsettled_or_missing_stay_out_and_gold_always_counts() -> None:
    unsure = replace(ITEM, item_id="item_u", label=replace(SURE, confidence=0.6))
    unsettled = replace(ITEM, item_id="item_s", label=replace(SURE, settled=False))
    unlabelled = replace(ITEM, item_id="item_n", label=None)
    gold = replace(ITEM, item_id="item_g", label=replace(SURE, confidence=1.0, gold=True))
    chosen = choose([unsure, unsettled, unlabelled, gold, ITEM], 0.9)
    assert [record["item_id"] for record in chosen.records] == ["item_b", "item_g"]
    assert chosen.excluded == {"below_min_confidence": 1, "label_unsettled": 1, "unlabelled": 1}
    assert [record["item_id"] for record in choose([unsure], 0.5).records] == ["item_u"]


def test_the_gates_reasons_are_counted_in_few_words() -> None:
    reasons = {
        "clip is deleted": "deleted",
        "clip is expired": "expired",
        "clip expired at 2026-01-05T12:00:00Z: its retention ended and the owner's copy is gone": "expired",
        "clip is quarantined": "quarantined",
        "held: the screen flagged a likely private scene; the owner has not confirmed": "held_by_screen",
        "no valid consent covers automated_training": "no_training_consent",
        "no valid consent covers automated_training: the owner withdrew their share of this clip at "
        "2026-01-05T12:00:00Z, which excludes it from every consent of the household until they share it again": (
            "withdrawn"
        ),
    }
    assert {reason: gate_exclusion(reason) for reason in reasons} == reasons
    denied = [replace(ITEM, item_id=str(n), gate_reason=reason, consented=None) for n, reason in enumerate(reasons)]
    assert choose(denied, 0.9).excluded == {
        "deleted": 1,
        "expired": 2,
        "held_by_screen": 1,
        "no_training_consent": 1,
        "quarantined": 1,
        "withdrawn": 1,
    }


def test_the_manifest_is_canonical_json_of_the_items_in_item_order() -> None:
    other = replace(ITEM, clip_id="clip_2", item_id="item_a", label=replace(SURE, label="intruder"))
    forwards, backwards = choose([ITEM, other], 0.9), choose([other, ITEM], 0.9)
    assert manifest(forwards.records, 0.9) == manifest(backwards.records, 0.9)
    document = json.loads(manifest(forwards.records, 0.9))
    assert [item["item_id"] for item in document["items"]] == ["item_a", "item_b"]
    assert manifest(forwards.records, 0.9) == json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    assert manifest_sha256(forwards.records, 0.9) != manifest_sha256(forwards.records, 0.8)

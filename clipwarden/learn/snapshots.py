"""Dataset snapshots, the pure part: which of the clips considered become items, each item's lineage record,
and the canonical manifest whose SHA-256 names the snapshot.

Nothing here reads a database or a clock: ``learn/datasets.py`` asks the gate about each clip, gathers its
consent and label facts, and calls ``choose`` and ``manifest``. The manifest holds no time and no clip id, so
the same clips, consents and labels give the same bytes and the same hash.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from clipwarden.audit.entries import canonical_json

MANIFEST_FORMAT = "clipwarden-dataset/1"
# A consolidated label less sure than this stays out (Dawid-Skene posterior); review consolidation sends
# clips below the same 0.9 to adjudication. Gold labels are known answers and always count.
DEFAULT_MIN_CONFIDENCE = 0.9

# The gate's reasons, folded into the few that `excluded` counts; checked in order (a withdrawn share is
# also "no valid consent"). A reason not listed here is counted as the gate gave it.
_GATE_REASONS = (
    ("withdrew their share", "withdrawn"),
    ("no valid consent covers", "no_training_consent"),
    ("clip is deleted", "deleted"),
    ("clip is expired", "expired"),
    ("clip expired at", "expired"),
    ("clip is quarantined", "quarantined"),
    ("held: the screen flagged", "held_by_screen"),
    ("has not been through the sensitive-content screen", "not_screened"),
)


@dataclass(frozen=True)
class Label:
    """A clip's consolidated label and where it came from."""

    label: str
    confidence: float  # 1.0 for a gold answer
    settled: bool  # consolidation asks for no further review
    annotation_ids: tuple[str, ...]
    adjudicated: bool
    gold: bool


@dataclass(frozen=True)
class Consented:
    """What the allowing decision rests on: the consent, the notice version agreed to, the receipt."""

    consent_id: str
    purpose: str
    notice_version: int
    receipt_sha256: str
    unredacted: bool


@dataclass(frozen=True)
class Candidate:
    """One clip considered: the gate's answer for training, and its facts where the gate allowed it."""

    clip_id: str  # kept beside the item, never in the manifest
    item_id: str  # a keyed pseudonym of the clip
    clip_sha256: str
    residency: str  # the jurisdiction the clip's household is in
    gate_reason: str
    consented: Consented | None  # None: the gate denied
    label: Label | None  # None: never consolidated


@dataclass(frozen=True)
class Selection:
    clip_records: tuple[tuple[str, dict[str, Any]], ...]  # (clip id, lineage record), by item id
    excluded: dict[str, int]  # reason -> clips

    @property
    def records(self) -> tuple[dict[str, Any], ...]:
        return tuple(record for _, record in self.clip_records)


def choose(candidates: list[Candidate], min_confidence: float) -> Selection:
    """The items: clips the gate allowed whose label is settled and sure enough; the rest counted by reason."""
    chosen, excluded = [], Counter[str]()
    for candidate in candidates:
        reason = exclusion(candidate, min_confidence)
        if reason is None:
            chosen.append((candidate.clip_id, lineage_record(candidate)))
        else:
            excluded[reason] += 1
    chosen.sort(key=lambda pair: str(pair[1]["item_id"]))
    return Selection(tuple(chosen), dict(sorted(excluded.items())))


def exclusion(candidate: Candidate, min_confidence: float) -> str | None:
    """Why the clip is not an item, or None if it is."""
    if candidate.consented is None:
        return gate_exclusion(candidate.gate_reason)
    label = candidate.label
    if label is None:
        return "unlabelled"
    if label.gold:
        return None
    if not label.settled:
        return "label_unsettled"
    return "below_min_confidence" if label.confidence < min_confidence else None


def gate_exclusion(reason: str) -> str:
    return next((short for phrase, short in _GATE_REASONS if phrase in reason), reason)


def lineage_record(candidate: Candidate) -> dict[str, Any]:
    consented, label = candidate.consented, candidate.label
    assert consented is not None and label is not None
    return {
        "item_id": candidate.item_id,
        "clip_sha256": candidate.clip_sha256,
        "consent_id": consented.consent_id,
        "purpose": consented.purpose,
        "notice_version": consented.notice_version,
        "receipt_sha256": consented.receipt_sha256,
        "label": label.label,
        "confidence": label.confidence,
        "provenance": {
            "annotation_ids": list(label.annotation_ids),
            "adjudicated": label.adjudicated,
            "gold": label.gold,
        },
        "residency": candidate.residency,
        "redacted": not consented.unredacted,
    }


def manifest(records: tuple[dict[str, Any], ...], min_confidence: float) -> bytes:
    """The canonical JSON (sorted keys, no spaces, UTF-8) that the snapshot's hash is taken over."""
    return canonical_json({"format": MANIFEST_FORMAT, "min_confidence": min_confidence, "items": list(records)})


def manifest_sha256(records: tuple[dict[str, Any], ...], min_confidence: float) -> str:
    return hashlib.sha256(manifest(records, min_confidence)).hexdigest()


def snapshot_id(sha256: str) -> str:
    return f"ds_{sha256[:16]}"

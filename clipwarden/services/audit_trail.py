"""What every state change leaves behind: an audit entry in the change's own transaction (invariant 3),
and the withdrawal of derived copies (queued review tasks, training set items and the models that learned
them, screen results) and of the consents an erasure takes the ground from, when a clip may no longer be
processed (invariant 6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete

from clipwarden.audit import log as audit
from clipwarden.consent import service as consent_service
from clipwarden.consent.vocabulary import VALID_STATES
from clipwarden.policy.decision import COVERED_BY
from clipwarden.review import queue, renditions
from clipwarden.store import Store, datasets
from clipwarden.store.erasure_steps import ALL_SUBJECTS, Artefact, ErasureScope, ErasureStep, register_erasure_step
from clipwarden.store.schema import clip_controls

# The consents under which a clip may be queued for human review (a share for it, the tester program), in
# a fixed order: the enforcement point's own rule.
_REVIEW_CONSENTS = sorted(COVERED_BY["human_review_for_model_improvement"])


def consent_changed(conn: Connection, state: str, fields: dict[str, Any]) -> None:
    """The consent ledger's on_change hook: log the change; a consent that stops being valid takes its
    clips out of the review queue at once. Withdrawing the share of one clip takes that clip out under
    every consent of the household, the tester program's too: the owner's most specific word wins."""
    at = datetime.fromisoformat(fields["at"])
    audit.append(conn, "consent", at, fields)
    if state == "ConsentWithdrawn" and fields["clip_id"] is not None:
        queue.remove_for_clips(conn, [fields["clip_id"]], at, "the owner withdrew the clip's share")
        datasets.retract_clips(conn, [fields["clip_id"]], at, "the owner withdrew the clip's share")
    elif state not in VALID_STATES:
        _move_to_covering_consents(conn, fields["consent_id"], fields["household_id"], at)
        queue.remove_for_consent(conn, fields["consent_id"], at, f"consent {state}")
        datasets.retract_consent(conn, fields["consent_id"], at, f"consent {fields['consent_id']} {state}")


def _move_to_covering_consents(conn: Connection, ending: str, household_id: str, at: datetime) -> None:
    """A task queued under the ending consent stays queued where another consent still lets people review
    its clip (the queue holds one task per clip: a tester clip its owner also shared is queued once)."""
    for task_id, clip_id in queue.queued_under(conn, ending):
        covering = [
            valid.consent_id
            for purpose in _REVIEW_CONSENTS
            for valid in consent_service.valid_consents_for_clip(conn, clip_id, household_id, purpose, at)
            if valid.consent_id != ending
        ]
        if covering:
            queue.move_to_consent(conn, task_id, covering[0])
            fields = {"task_id": task_id, "clip_id": clip_id, "from_consent": ending, "to_consent": covering[0]}
            audit.append(conn, "review_task_moved", at, fields)


def after_retraction(store: Store, at: datetime) -> None:
    """Once a withdrawal, a consent's expiry or a quarantine committed: the renditions of the leases it ended
    are deleted, and the models that learned from its clips are retrained without them."""
    renditions.purge_ended(store)
    datasets.settle(store, at)


def log_change(conn: Connection, kind: str, at: datetime, fields: dict[str, Any]) -> int:
    return audit.append(conn, kind, at, fields)


def _log_erasure(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    index = audit.append(
        conn,
        "erasure",
        scope.at,
        {"subject": {"type": scope.subject_type, "id": scope.subject_id}, "clip_ids": list(scope.clip_ids)},
    )
    return [{"kind": "audit_entry", "index": index}]


def _erase_screen_results(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    removed: list[str] = []
    ids = list(scope.clip_ids)
    for start in range(0, len(ids), 500):
        removed += conn.execute(
            delete(clip_controls)
            .where(clip_controls.c.clip_id.in_(ids[start : start + 500]), clip_controls.c.screened_at.is_not(None))
            .returning(clip_controls.c.clip_id)
        ).scalars()
    return [{"kind": "screen_result", "clip_id": clip_id} for clip_id in sorted(removed)]


def _revoke_consents(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    household_id = scope.subject_id if scope.subject_type == "household" else None
    clip_id = scope.subject_id if scope.subject_type == "clip" else None
    ended = consent_service.revoke_for_erasure(conn, household_id, clip_id, scope.at, consent_changed)
    return [{"kind": "consent_revoked", "consent_id": consent_id} for consent_id in ended]


register_erasure_step(ErasureStep("consents", frozenset({"clip", "household"}), _revoke_consents, order=42))
register_erasure_step(ErasureStep("screen_results", ALL_SUBJECTS, _erase_screen_results, order=45))
register_erasure_step(ErasureStep("audit_entry", ALL_SUBJECTS, _log_erasure, order=90))

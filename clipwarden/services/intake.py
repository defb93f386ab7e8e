"""Review intake for the tester program: a clip of an enrolled household goes through the sensitive-content
screen and, unless held, into the review queue under the account-wide consent."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from clipwarden.consent import service as consent_service
from clipwarden.review import queue
from clipwarden.services import clips as clip_service
from clipwarden.services import screening
from clipwarden.store import Store

HUMAN_REVIEW = "human_review_for_model_improvement"
Intake = Literal["queued", "held", "not enrolled", "not stored"]


def queue_if_enrolled(store: Store, clip_id: str, at: datetime) -> Intake:
    """Queue the clip for human review if a tester-program consent covers it at ``at`` and the screen does
    not hold it. Says what happened."""
    clip = clip_service.get_clip(store, clip_id)
    if clip["status"] != "stored":
        return "not stored"
    with store.connect() as conn:
        enrolled = consent_service.valid_consents_for_clip(conn, clip_id, clip["household_id"], "tester_program", at)
    if not enrolled:
        return "not enrolled"
    screening.ensure_screened(store, clip_id, at)
    with store.begin() as conn:
        if not screening.releasable(conn, clip_id):
            return "held"
        queue.enqueue(conn, clip_id, enrolled[0].consent_id, HUMAN_REVIEW, at)
    return "queued"

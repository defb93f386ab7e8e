"""Quality control over the answers: consolidation by Dawid-Skene, agreement, gold accuracy, and the
adjudication stage for clips the answers do not settle.

Items are clips: every answer on a clip (its annotation tasks, a gold task, an adjudicator's) counts once
per reviewer. Gold clips are clamped to their known answer. A clip whose answers disagree, or whose
consolidated label is less sure than ``min_confidence``, gets one adjudication task for a reviewer who has
not seen it yet; its answer joins the others at the next run. The maths is `clipwarden.review.quality`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select

from clipwarden.domain import LABELS
from clipwarden.errors import Conflict, NotFound
from clipwarden.review import quality, queue
from clipwarden.services.audit_trail import log_change
from clipwarden.store import Store
from clipwarden.store.schema import consolidations, review_annotations, review_tasks, users
from clipwarden.store.sql import upsert

_tasks, _answers = review_tasks.c, review_annotations.c


def consolidate(store: Store, at: datetime, min_confidence: float = 0.9) -> dict[str, Any]:
    """Consolidate every answered clip, queue adjudication where needed, and report agreement and each
    reviewer's accuracy on gold clips (by pseudonym)."""
    with store.begin() as conn:
        answers = conn.execute(
            select(
                _answers.clip_id, _answers.reviewer_id, _answers.label, _answers.gold, users.c.pseudonym, _tasks.stage
            )
            .join(users, users.c.id == _answers.reviewer_id)
            .join(review_tasks, review_tasks.c.id == _answers.task_id)
        ).all()
        gold = dict(conn.execute(select(_tasks.clip_id, _tasks.gold_label).where(_tasks.gold_label.is_not(None))).all())
        triples = [(row.clip_id, row.reviewer_id, row.label) for row in answers]
        if not triples:
            return _summary(0, 0, None, {}, 0)
        answered = {item for item, _, _ in triples}
        result = quality.dawid_skene(triples, LABELS, gold={c: g for c, g in gold.items() if c in answered})
        needs = {
            need.item_id: need
            for need in quality.needing_review(result, min_confidence, min_answers=2)
            if not _settled_by_adjudication(conn, need, min_confidence)
        }
        adjudications = _record(conn, result, needs, at)
        pseudonyms = {row.reviewer_id: row.pseudonym for row in answers}
        summary = _summary(
            len(result.items),
            len(needs),
            _first_answers_kappa(answers, gold),
            _by_pseudonym(_gold_scores(answers, gold), pseudonyms),
            adjudications,
        )
        log_change(conn, "consolidation", at, {k: v for k, v in summary.items() if k != "gold_accuracy"})
    return summary


def _record(conn: Any, result: quality.Consolidation, needs: dict[str, quality.ReviewNeed], at: datetime) -> int:
    """Store each answered task's consolidated label; queue adjudication once per unsettled clip."""
    done = conn.execute(
        select(_tasks.id, _tasks.clip_id, _tasks.consent_id, _tasks.purpose).where(
            _tasks.status == "done", _tasks.stage == "annotate", _tasks.gold_label.is_(None)
        )
    ).all()
    adjudications = 0
    for task in done:
        item = result.items.get(task.clip_id)
        if item is None:
            continue
        need = needs.get(task.clip_id)
        _store(conn, task.id, task.clip_id, item, need, at)
        if need is not None and not _adjudicated(conn, task.clip_id):
            queue.enqueue_adjudication(conn, task.clip_id, task.consent_id, task.purpose, at)
            adjudications += 1
    return adjudications


def _gold_scores(answers: Any, gold: dict[str, str]) -> dict[str, quality.GoldScore]:
    """Each reviewer's answers on gold tasks, against the known answer. The answers that settled a clip
    before it became gold are not a test of anyone."""
    on_gold = [(row.clip_id, row.reviewer_id, row.label) for row in answers if row.gold]
    return quality.gold_accuracy(on_gold, gold, LABELS) if on_gold else {}


def _first_answers_kappa(answers: Any, gold: dict[str, str]) -> float | None:
    """Fleiss' kappa over the first answers (the annotation stage) of the clips that are not gold; None if no
    clip has two. Adjudicators answer only where the first answers disagreed: counting theirs would leave
    mostly the clips that agreed at once among those with the usual number of answers."""
    triples = [
        (row.clip_id, row.reviewer_id, row.label)
        for row in answers
        if row.stage == "annotate" and row.clip_id not in gold
    ]
    per_clip = Counter(item for item, _, _ in triples)
    if max(per_clip.values(), default=0) < 2:
        return None
    return quality.fleiss_kappa(triples, LABELS).value


def _store(
    conn: Any, task_id: str, clip_id: str, item: quality.ItemResult, need: quality.ReviewNeed | None, at: datetime
) -> None:
    upsert(
        conn,
        consolidations,
        {
            "task_id": task_id,
            "clip_id": clip_id,
            "label": item.label,
            "confidence": round(item.confidence, 4),
            "answers": item.answers,
            "needs_review": need is not None,
            "reasons": list(need.reasons) if need is not None else [],
            "decided_at": at,
        },
        key=["task_id"],
    )


def _settled_by_adjudication(conn: Any, need: quality.ReviewNeed, min_confidence: float) -> bool:
    """An adjudicated clip whose answers still differ, but whose label is now sure enough, is settled."""
    return (
        need.confidence >= min_confidence
        and set(need.reasons) == {quality.DISAGREEMENT}
        and _adjudicated(conn, need.item_id)
    )


def _adjudicated(conn: Any, clip_id: str) -> bool:
    query = select(_tasks.id).where(_tasks.clip_id == clip_id, _tasks.stage == "adjudicate").limit(1)
    return conn.execute(query).first() is not None


def _by_pseudonym(scores: dict[str, quality.GoldScore], pseudonyms: dict[str, str]) -> dict[str, Any]:
    return {
        pseudonyms[worker]: {"correct": score.correct, "answered": score.answered, "accuracy": round(score.accuracy, 3)}
        for worker, score in sorted(scores.items())
    }


def _summary(
    clips: int, needing_review: int, kappa: float | None, gold: dict[str, Any], adjudications: int
) -> dict[str, Any]:
    return {
        "clips_consolidated": clips,
        "needing_review": needing_review,
        "adjudications_queued": adjudications,
        "fleiss_kappa": None if kappa is None else round(kappa, 3),
        "gold_accuracy": gold,
    }


def promote_to_gold(store: Store, clip_id: str, at: datetime, min_confidence: float = 0.99) -> dict[str, Any]:
    """Make a settled clip a gold clip: its consolidated label, held with ``min_confidence`` or more and
    needing no further review, becomes the known answer that later reviewers are checked against. The clip must
    still be covered by its review consent (a gold task is shown to people like any other)."""
    with store.begin() as conn:
        row = conn.execute(
            select(consolidations, _tasks.consent_id, _tasks.purpose, _tasks.status)
            .join(review_tasks, _tasks.id == consolidations.c.task_id)
            .where(consolidations.c.clip_id == clip_id)
            .order_by(consolidations.c.decided_at.desc())
        ).first()
        if row is None:
            raise NotFound(f"clip {clip_id} has no consolidated label")
        if row.needs_review or row.confidence < min_confidence:
            raise Conflict(f"clip {clip_id} is not settled enough for gold (confidence {row.confidence:.3f})")
        task_id = queue.enqueue(conn, clip_id, row.consent_id, row.purpose, at, answers_needed=0, gold_label=row.label)
        log_change(conn, "gold", at, {"clip_id": clip_id, "task_id": task_id, "label": row.label})
    return {"clip_id": clip_id, "task_id": task_id, "gold_label": row.label}


def consolidated_labels(store: Store) -> dict[str, dict[str, Any]]:
    """Each consolidated clip's label, confidence and number of answers."""
    with store.connect() as conn:
        rows = conn.execute(select(consolidations).order_by(consolidations.c.decided_at)).all()
    return {row.clip_id: {"label": row.label, "confidence": row.confidence, "answers": row.answers} for row in rows}

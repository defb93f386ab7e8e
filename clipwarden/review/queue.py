"""The review queue: a task per clip shared for human review, removed the moment it may no longer be seen.

A task's id is the only handle a reviewer gets (DESIGN invariant 4). Tasks leave the queue, in the same
transaction as the change that ends them, when consent is withdrawn or lapses, when the clip is deleted,
expires or its household is erased, and when the clip is quarantined.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from clipwarden.review import leases
from clipwarden.store import Store
from clipwarden.store.erasure_steps import ALL_SUBJECTS, Artefact, ErasureScope, ErasureStep, register_erasure_step
from clipwarden.store.schema import review_annotations, review_tasks

_tasks = review_tasks.c
_IN_BATCH = 500  # ids per IN (...), within both backends' parameter limits


def enqueue(
    conn: Connection,
    clip_id: str,
    consent_id: str,
    purpose: str,
    at: datetime,
    answers_needed: int = 2,
    gold_label: str | None = None,
) -> str:
    """Queue the clip for review under `consent_id`, for `answers_needed` different reviewers (a gold
    task, with its known answer, for any number). A clip already queued or reviewed for `purpose`, under
    this consent or another (a tester clip its owner then shares), is not queued again: its answers stand
    and nobody else watches it for them; the task found is returned. A gold task already open for the clip
    under this consent is reused."""
    if gold_label is None:
        found = select(_tasks.id).where(
            _tasks.clip_id == clip_id,
            _tasks.purpose == purpose,
            _tasks.stage == "annotate",
            _tasks.gold_label.is_(None),
            _tasks.status.in_(("queued", "done")),
        )
    else:
        found = select(_tasks.id).where(
            _tasks.clip_id == clip_id,
            _tasks.consent_id == consent_id,
            _tasks.status == "queued",
            _tasks.gold_label.is_not(None),
        )
    existing = conn.execute(found.limit(1)).scalar()
    if existing is not None:
        return str(existing)
    return _insert_task(conn, clip_id, consent_id, purpose, at, answers_needed=answers_needed, gold_label=gold_label)


def enqueue_adjudication(conn: Connection, clip_id: str, consent_id: str, purpose: str, at: datetime) -> str:
    """One more answer on a clip its answers did not settle, from a reviewer who has not seen it."""
    return _insert_task(conn, clip_id, consent_id, purpose, at, answers_needed=1, stage="adjudicate")


def _insert_task(conn: Connection, clip_id: str, consent_id: str, purpose: str, at: datetime, **kind: Any) -> str:
    task_id = f"task_{secrets.token_urlsafe(16)}"
    values = {"clip_id": clip_id, "consent_id": consent_id, "purpose": purpose, "status": "queued", "created_at": at}
    conn.execute(review_tasks.insert().values(id=task_id, **values, **kind))
    return task_id


def queued_tasks(conn: Connection, clip_id: str | None = None) -> list[str]:
    query = leases.in_queue_order(select(_tasks.id).where(_tasks.status == "queued"))
    if clip_id is not None:
        query = query.where(_tasks.clip_id == clip_id)
    return list(conn.execute(query).scalars())


def answers_wanted(conn: Connection) -> int:
    """Answers the queued tasks still want (gold tasks, answered without end, left out)."""
    open_tasks = select(_tasks.id).where(_tasks.status == "queued", _tasks.gold_label.is_(None))
    needed = select(func.coalesce(func.sum(_tasks.answers_needed), 0)).where(_tasks.id.in_(open_tasks))
    given = select(func.count()).select_from(review_annotations).where(review_annotations.c.task_id.in_(open_tasks))
    return max(0, int(conn.execute(needed).scalar_one()) - int(conn.execute(given).scalar_one()))


def summary(store: Store) -> dict[str, Any]:
    """Tasks by status, why removed ones left, and every clip that was ever queued."""
    with store.connect() as conn:
        by_status = conn.execute(select(_tasks.status, func.count()).group_by(_tasks.status)).all()
        removed = conn.execute(
            select(_tasks.closed_reason, func.count()).where(_tasks.status == "removed").group_by(_tasks.closed_reason)
        ).all()
        clips = conn.execute(select(_tasks.clip_id).distinct()).scalars().all()
    return {
        "tasks": {status: count for status, count in sorted(by_status)},
        "removed_because": {reason: count for reason, count in sorted(removed)},
        "clips_ever_queued": sorted(clips),
    }


def queued_under(conn: Connection, consent_id: str) -> list[tuple[str, str]]:
    """(task id, clip id) of the tasks queued under the consent."""
    query = select(_tasks.id, _tasks.clip_id).where(_tasks.consent_id == consent_id, _tasks.status == "queued")
    return [(row.id, row.clip_id) for row in conn.execute(query.order_by(_tasks.id))]


def move_to_consent(conn: Connection, task_id: str, consent_id: str) -> None:
    conn.execute(update(review_tasks).where(_tasks.id == task_id).values(consent_id=consent_id))


def remove_for_consent(conn: Connection, consent_id: str, at: datetime, reason: str) -> list[str]:
    return _remove(conn, _tasks.consent_id == consent_id, at, reason)


def remove_for_clips(conn: Connection, clip_ids: Sequence[str], at: datetime, reason: str) -> list[str]:
    removed = []
    for start in range(0, len(clip_ids), _IN_BATCH):
        removed += _remove(conn, _tasks.clip_id.in_(clip_ids[start : start + _IN_BATCH]), at, reason)
    return sorted(removed)


def _remove(conn: Connection, criterion: object, at: datetime, reason: str) -> list[str]:
    """Take the matching queued tasks out, and end every lease running on them (a clip being watched
    stops being served at once)."""
    removed = sorted(
        conn.execute(
            update(review_tasks)
            .where(criterion, _tasks.status == "queued")  # type: ignore[arg-type]
            .values(status="removed", closed_at=at, closed_reason=reason)
            .returning(_tasks.id)
        ).scalars()
    )
    leases.revoke_for_tasks(conn, removed, at)
    return removed


def _erase_tasks(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    removed = remove_for_clips(conn, scope.clip_ids, scope.at, f"clip {scope.clip_status}")
    return [{"kind": "review_task", "task_id": task_id} for task_id in removed]


register_erasure_step(ErasureStep("review_tasks", ALL_SUBJECTS, _erase_tasks, order=40))

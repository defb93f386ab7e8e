"""Tasks queued at one instant wait, and are offered, in the order of their recordings, never in that of
their random ids: the order decides who answers which clip, and one seed must give one run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from clipwarden.policy.decision import Actor
from clipwarden.review import leases, queue
from clipwarden.review.leases import ReviewSettings
from clipwarden.services import owner
from clipwarden.services.users import add_user
from clipwarden.store import Store
from clipwarden.store.schema import clips, review_tasks

REVIEW = "human_review_for_model_improvement"


def _share_everything(store: Store, fleet: Any, at: Any) -> None:
    for household in (fleet.free, fleet.plus):
        account = add_user(store, "owner", household.id, None, at)["user_id"]
        actor = Actor(account, "owner", household_id=household.id)
        for clip_id in fleet.clip_ids[household.id]:
            owner.share_clip(store, actor, clip_id, [REVIEW], None, False, None, at)


def test_tasks_queued_at_one_instant_keep_the_order_of_their_recordings(store: Store, fleet: Any) -> None:
    at = fleet.start + timedelta(hours=4)
    _share_everything(store, fleet, at)  # six tasks, all created at `at`, on two cameras recording together
    with store.connect() as conn:
        assert set(conn.execute(select(review_tasks.c.created_at)).scalars()) == {at}
        recordings = conn.execute(select(clips.c.id).order_by(clips.c.started_at, clips.c.camera_id)).scalars()
        by_recording = list(recordings)
        queued = queue.queued_tasks(conn)
        clip_of = dict(conn.execute(select(review_tasks.c.id, review_tasks.c.clip_id)).all())
    assert len(by_recording) == 6 and [clip_of[task] for task in queued] == by_recording


def test_offers_follow_the_recordings_among_tasks_queued_together(store: Store, fleet: Any) -> None:
    at = fleet.start + timedelta(hours=4)
    _share_everything(store, fleet, at)
    reviewer = Actor(add_user(store, "reviewer", None, "us-sea", at)["user_id"], "reviewer", site="us-sea")
    offered = []
    with store.begin() as conn:
        for _ in range(3):
            lease = leases.offer(conn, reviewer, at, ReviewSettings(max_active=3), [lease.token for lease in offered])
            assert lease is not None
            offered.append(lease)
    # The US household's clips, oldest first (the EU household's are not for a US site).
    assert [lease.clip_id for lease in offered] == fleet.clip_ids["hh-plus"]

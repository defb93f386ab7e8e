"""Concurrent offers: however many reviewers ask at once, no task gets more leases than it wants answers,
and no free slot is passed over while the queue has work (on both backends)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from clipwarden.policy.decision import Actor
from clipwarden.review import leases
from clipwarden.review.leases import ReviewSettings
from clipwarden.services import owner
from clipwarden.services.users import add_user
from clipwarden.store import Store
from clipwarden.store.schema import review_leases

REVIEW = "human_review_for_model_improvement"


def test_concurrent_offers_never_over_lease_a_task(store: Store, fleet: Any) -> None:
    at = fleet.start + timedelta(hours=4)
    owner_actor = Actor(add_user(store, "owner", "hh-plus", None, at)["user_id"], "owner", household_id="hh-plus")
    for clip_id in fleet.clip_ids["hh-plus"]:
        owner.share_clip(store, owner_actor, clip_id, [REVIEW], None, False, ["us-sea"], at)
    reviewers = [
        Actor(add_user(store, "reviewer", None, "us-sea", at)["user_id"], "reviewer", site="us-sea") for _ in range(12)
    ]
    start = threading.Barrier(len(reviewers))
    granted: list[leases.Lease | None] = []

    def ask(reviewer: Actor) -> None:
        start.wait()
        with store.begin() as conn:
            granted.append(leases.offer(conn, reviewer, at, ReviewSettings()))

    threads = [threading.Thread(target=ask, args=(reviewer,)) for reviewer in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with store.connect() as conn:
        per_task = Counter(conn.execute(select(review_leases.c.task_id)).scalars())
    assert len(per_task) == 3 and max(per_task.values()) == 2  # 3 clips x k = 2 answers
    assert sum(lease is not None for lease in granted) == 6

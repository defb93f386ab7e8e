"""The demo, end to end: the fleet records, the owners share, withdraw and delete, the screen holds what
may be private, the tester program feeds the queue, simulated reviewers annotate through the reviewer API,
the answers are consolidated, retention runs, the labels train a camera AI that is deployed and scored
against the rules on a held-out day, and the audit log is checked. Returns the report the command line
prints and writes."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from clipwarden import services
from clipwarden.audit import AuditLog
from clipwarden.audit.replay import replay
from clipwarden.domain import LABELS
from clipwarden.learn.evaluate import evaluate_review, evaluate_run, evaluate_screen
from clipwarden.pipeline.days import live_days
from clipwarden.pipeline.fleet_run import FleetRun, Progress, cpu_seconds, run_fleet
from clipwarden.pipeline.loop import HeldOutDay, close_loop
from clipwarden.review import queue
from clipwarden.services import erasure_requests, retention, users
from clipwarden.sim import SimConfig, build_fleet
from clipwarden.sim.owners import OwnerBehaviour
from clipwarden.sim.reviewers import SITE_DEFAULTS
from clipwarden.store import Store
from clipwarden.store.schema import households
from clipwarden.times import iso_utc

# The simulated reviewers work their sites' shifts as the clips come in, then a closing shift works what is
# left when the simulated days end. By default the days end this long before the demo starts, so that the
# closing shift is over before the present: whatever happens next (`serve`, an owner's withdrawal) is logged
# after it, as it would be in life.
REVIEWERS_SHIFT = timedelta(hours=2)


@dataclass(frozen=True)
class Demo:
    report: dict[str, Any]
    run: FleetRun


def run_demo(
    store: Store,
    config: SimConfig,
    workers: int,
    behaviour: OwnerBehaviour,
    progress: Progress | None = None,
    reviewers_per_site: int = 2,
) -> Demo:
    started, cpu_started = time.perf_counter(), cpu_seconds()
    run = run_fleet(store, config, workers, progress)
    # The store and the camera AI as the fleet left them, before the owners delete anything.
    stats = services.fleet_stats(store)
    evaluation = evaluate_run(store, config, run.clip_ids).as_dict()
    with HeldOutDay(config) as held_out_day:  # captured beside the owners and reviewers
        days = live_days(store, build_fleet(config), run.clip_ids, behaviour, reviewers_per_site, progress=progress)
        reviewed = days.review
        swept = retention.sweep(store, reviewed.finished_at)
        learning = close_loop(store, held_out_day, reviewed.finished_at, progress=progress)
    if progress:
        progress("audit", 0, 1)
    audit = audit_check(store)
    if progress:
        progress("audit", 1, 1)
    report = {
        "run": run_summary(config, run),
        "store": stats,
        "evaluation": evaluation,
        "labels": list(LABELS),
        "owners": {"behaviour": behaviour.__dict__, **days.owners.as_dict()},
        "screen": evaluate_screen(store, config, run.clip_ids).as_dict(),
        "review_queue": _queue_counts(store),
        "review": reviewed.as_dict() | {"evaluation": evaluate_review(store, config, run.clip_ids).as_dict()},
        "erasure": _erasure_counts(store),
        "retention": {
            "clips_expired": days.expired["clips_expired"] + len(swept["expired"]),
            "consents_expired": days.expired["consents_expired"] + len(swept["consents_expired"]),
        },
        "learning": learning,
        "audit": audit,
        # The whole demo, capture to audit (``run`` holds the capture's own).
        "wall_s": round(time.perf_counter() - started, 2),
        "cpu_s": round(cpu_seconds() - cpu_started, 2),
    }
    return Demo(report, run)


def demo_accounts(store: Store, config: SimConfig, at: datetime) -> list[dict[str, str]]:
    """Accounts a person can sign in to the pages with after the demo, each with a new random password: an
    owner per household still active (``owner-1``...), a reviewer per site of the demo's reviewers
    (``reviewer-in-hyd``...) and an ``auditor``. A name an earlier demo in this data dir made gets a new password."""
    wanted: list[tuple[str, str, str | None, str | None]] = []
    with store.connect() as conn:
        active = set(conn.execute(select(households.c.id).where(households.c.status == "active")).scalars())
    for number, household in enumerate(build_fleet(config).households, start=1):
        if household.id in active:
            wanted.append((f"owner-{number}", "owner", household.id, None))
    wanted += [(f"reviewer-{site}", "reviewer", None, site) for site in SITE_DEFAULTS]
    wanted.append(("auditor", "auditor", None, None))
    existing = {account["name"]: account["user_id"] for account in users.list_users(store)}
    made = []
    for name, role, household_id, site in wanted:
        password = secrets.token_urlsafe(12)
        if name in existing:
            users.set_password(store, existing[name], password, at)
        else:
            users.add_user(store, role, household_id, site, at, password=password, name=name)
        made.append({"name": name, "password": password, "role": role, "of": household_id or site or ""})
    return made


def run_summary(config: SimConfig, run: FleetRun) -> dict[str, Any]:
    return {
        "seed": config.seed,
        "start": iso_utc(config.start),
        "households": run.households,
        "cameras": run.cameras,
        "hours": config.hours,
        "size": f"{config.width}x{config.height}",
        "fps": config.fps,
        "windows": run.windows,
        "frames": run.frames,
        "clips": len(run.clip_ids),
        "wall_s": round(run.wall_s, 2),
        "cpu_s": round(run.cpu_s, 2),
        "clips_per_cpu_s": round(len(run.clip_ids) / run.cpu_s, 3) if run.cpu_s else 0.0,
    }


def audit_check(store: Store) -> dict[str, Any]:
    """The log verified from scratch, and replayed against its own consent history."""
    log = AuditLog(store)
    verified = log.verify()
    replayed = replay(entry.leaf for entry in log.iter_entries())
    return {
        "entries": verified.size,
        "root_hash": verified.root_hash.hex(),
        "verified": verified.ok,
        "replay_ok": replayed.ok,
        "views": replayed.views,
        "views_without_consent": replayed.views_without_consent,
        "decisions_checked": replayed.decisions_checked,
    }


def _queue_counts(store: Store) -> dict[str, Any]:
    summary = queue.summary(store)
    return {
        "tasks": summary["tasks"],
        "removed_because": summary["removed_because"],
        "clips_ever_queued": len(summary["clips_ever_queued"]),
    }


def _erasure_counts(store: Store) -> dict[str, Any]:
    requests = erasure_requests.requests(store)
    return {
        "requests": len(requests),
        "open": sum(r["status"] == "open" for r in requests),
        "closed_within_deadline": sum(r["within_deadline"] is True for r in requests),
    }

"""Benchmark of the enforcement point (clipwarden.policy.gate) against baselines measured in the same run.

    .venv/bin/python benchmarks/bench_policy.py [--clips N] [--log-entries N] [--samples N]
                                                [--withdrawals N] [--db URL]

The store is populated in bulk (SQLAlchemy Core executemany, no media: decisions never read a blob):
--clips clips (default 100,000) in households of CLIPS_PER_HOUSEHOLD, one camera each; a consent for
human_review_for_model_improvement (notice v2, ConsentGiven, one in WITHDRAWN_EVERY of them withdrawn
since) on one clip in CONSENTED_EVERY, those clips screened and not flagged (clip_controls) with a queued
review task; a tester_program consent (account-wide) for one household in TESTER_EVERY; and an audit log
of --log-entries synthetic decision entries (default 1,000,000), built with make_leaf and leaf_hash.
PostgreSQL is then vacuumed and analysed, as autovacuum would have done by the time a store is this big.

(1) Decision latency, p50 and p99 over --samples random clip ids (default 2,000) for each of:
    reviewer decisions (Actor(id, "reviewer", site="ro-buc"), view_media for human review,
    Circumstances(lease_active=True)) on clips that have a per-clip consent, so the consent path runs;
    and owner decisions (view_metadata under owner_access) on any clip, by the clip's owner.
    For every clip id, in an order that rotates from one id to the next (so all see the same load):
      bare read     SELECT * FROM clips WHERE id = :id (select(clips), cached), in a read transaction
                    (Store.connect, BEGIN ... COMMIT)
      (a) decision  gate.preview: clip facts, consents and decide, exactly as decide_and_log runs them, in a read
                    transaction of the same kind; no audit append. Goal: p99 <= 3x the bare read's p99.
      (a') decide_and_log in a write transaction rolled back: (a) plus the audit append and the
                    access-log row, without the commit (figures only)
      bare write tx the bare read in a write transaction, committed (Store.begin, as gate.check opens)
      (b) gate.check  the full gate: decision, audit append, access-log row, committed
    Every timing covers checking the connection out of the pool, BEGIN, the statements, and COMMIT or
    ROLLBACK. Ratios are of the p50s and of the p99s.
(2) Withdraw to denied, over --withdrawals clips (default 300) that no bulk consent covers (of households
    outside the tester program): each clip is
    screened and not flagged (clip_controls set directly, like tests/policy/test_consent_properties.py),
    shared with services.owner.share_clip for human_review_for_model_improvement (timed: figures only),
    checked once by a reviewer (it must allow), then withdrawn with services.owner.withdraw_consent and at
    once checked again. Withdraw to denied: from the call of withdraw_consent to the return of that first
    gate.check after it, which must deny. Goal: p99 < 50 ms. The withdraw call's own time is printed too.

The default database is a SQLite file in a temporary data dir. --db takes a PostgreSQL server URL
(postgresql+psycopg://USER@HOST:PORT[/MAINTENANCE_DB]): a scratch database is created on that server and
dropped at the end. It prints figures and whether each goal was met; it asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scratch_db import (
    CLIPS_PER_HOUSEHOLD,
    CONSENTS_GIVEN,
    INSERT_CHUNK,
    SETUP,
    camera_row,
    clip_row,
    consent_row,
    controls_row,
    event_row,
    household_row,
    insert_rows,
    require_no_clips,
    scratch_database,
    vacuum_analyze,
)
from sqlalchemy import bindparam, select

from clipwarden.audit.entries import make_leaf
from clipwarden.audit.merkle import leaf_hash
from clipwarden.consent import records
from clipwarden.policy import gate
from clipwarden.policy.decision import OWNER_ACCESS, Action, Actor, Decision
from clipwarden.services import owner
from clipwarden.services.screening import _set_controls
from clipwarden.store import Store, open_store
from clipwarden.store.schema import (
    audit_entries,
    cameras,
    clip_controls,
    clips,
    consent_events,
    consents,
    households,
    review_tasks,
)

REVIEW = "human_review_for_model_improvement"
TESTER = "tester_program"
AT = datetime(2025, 10, 1, 12, tzinfo=UTC)  # the requests (within every consent's retention)
CONSENTED_EVERY = 10  # one clip in ten has its own consent for human review
WITHDRAWN_EVERY = 10  # ... and one of those consents in ten was withdrawn since
TESTER_EVERY = 50  # one household in fifty is in the tester program
JURISDICTIONS = ("EU", "EU", "US", "IN")
SITES_BY_JURISDICTION = {"EU": ["ro-buc"], "US": ["in-hyd", "ro-buc", "us-sea"], "IN": ["in-hyd", "ro-buc", "us-sea"]}
WARMUP = 200
GOAL_RATIO = 3.0
GOAL_WITHDRAW_S = 0.050

REVIEWER = Actor("reviewer-bench-1", "reviewer", site="ro-buc", pseudonym="reviewer-7f3a")
REVIEW_CIRCUMSTANCES = gate.Circumstances(lease_active=True)
BARE_READ = select(clips).where(clips.c.id == bindparam("id"))


class _Rollback(Exception):
    """Raised inside Store.begin to roll its transaction back."""


@dataclass
class Fleet:
    clip_ids: list[str]
    clip_household: dict[str, str]
    consented: list[str]  # clips with a per-clip human review consent (valid or withdrawn)
    unconsented: list[str]  # clips no consent covers (neither their own nor an account-wide one)


# Timing


def percentile(seconds: list[float], fraction: float) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def percentiles(seconds: list[float]) -> str:
    return f"p50 {percentile(seconds, 0.5) * 1e3:7.3f} ms, p99 {percentile(seconds, 0.99) * 1e3:7.3f} ms"


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def ratio(numerator: list[float], denominator: list[float]) -> str:
    return (
        f"p50 {percentile(numerator, 0.5) / percentile(denominator, 0.5):5.2f}x, "
        f"p99 {percentile(numerator, 0.99) / percentile(denominator, 0.99):5.2f}x"
    )


# Populating


def populate(store: Store, clip_count: int, log_entries: int, seed: int = 6962) -> Fleet:
    rng = random.Random(seed)
    household_count = max(1, -(-clip_count // CLIPS_PER_HOUSEHOLD))
    household_ids = [f"hh_{number:07d}" for number in range(household_count)]
    jurisdiction = {hh: JURISDICTIONS[number % len(JURISDICTIONS)] for number, hh in enumerate(household_ids)}
    clip_ids = [f"clip_{rng.getrandbits(128):032x}" for _ in range(clip_count)]
    clip_household = {clip_id: household_ids[number // CLIPS_PER_HOUSEHOLD] for number, clip_id in enumerate(clip_ids)}

    start = time.perf_counter()
    with store.begin() as conn:
        records.publish_notices(conn)
        insert_rows(conn, households, (household_row(hh, jurisdiction[hh]) for hh in household_ids))
        insert_rows(conn, cameras, (camera_row(hh) for hh in household_ids))
        insert_rows(
            conn,
            clips,
            (clip_row(number, clip_id, clip_household[clip_id]) for number, clip_id in enumerate(clip_ids)),
        )
    print(f"    {household_count:,} households and cameras, {clip_count:,} clips: {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    consented = clip_ids[::CONSENTED_EVERY]
    consent_rows, event_rows, task_rows = [], [], []
    for number, clip_id in enumerate(consented):
        hh = clip_household[clip_id]
        consent_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        given_at = CONSENTS_GIVEN + timedelta(seconds=number)
        withdrawn = number % WITHDRAWN_EVERY == WITHDRAWN_EVERY - 1
        sites = SITES_BY_JURISDICTION[jurisdiction[hh]]
        consent_rows.append(consent_row(consent_id, hh, clip_id, REVIEW, jurisdiction[hh], sites, given_at))
        event_rows.append(event_row(consent_id, hh, 0, given_at, "ConsentGiven"))
        if withdrawn:
            event_rows.append(event_row(consent_id, hh, 1, given_at + timedelta(hours=1), "ConsentWithdrawn"))
        task_rows.append(
            {
                "id": f"task_{rng.getrandbits(96):024x}",
                "clip_id": clip_id,
                "consent_id": consent_id,
                "purpose": REVIEW,
                "status": "removed" if withdrawn else "queued",
                "created_at": given_at,
                "closed_at": given_at + timedelta(hours=1) if withdrawn else None,
                "closed_reason": "consent ConsentWithdrawn" if withdrawn else None,
            }
        )
    testers = household_ids[::TESTER_EVERY]
    for number, hh in enumerate(testers):
        consent_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        given_at = CONSENTS_GIVEN + timedelta(minutes=number)
        sites = SITES_BY_JURISDICTION[jurisdiction[hh]]
        consent_rows.append(consent_row(consent_id, hh, None, TESTER, jurisdiction[hh], sites, given_at))
        event_rows.append(event_row(consent_id, hh, 0, given_at, "ConsentGiven"))
    with store.begin() as conn:
        insert_rows(conn, consents, consent_rows)
        insert_rows(conn, consent_events, event_rows)
        insert_rows(conn, clip_controls, (controls_row(clip_id) for clip_id in consented))
        insert_rows(conn, review_tasks, task_rows)
    print(
        f"    {len(consent_rows):,} consents ({len(consented):,} per clip, {len(consent_rows) - len(consented):,} "
        f"account-wide), {len(event_rows):,} consent events, screen results and review tasks: "
        f"{time.perf_counter() - start:.1f} s"
    )

    start = time.perf_counter()
    for first in range(0, log_entries, 10 * INSERT_CHUNK):
        with store.begin() as conn:
            for chunk in range(first, min(first + 10 * INSERT_CHUNK, log_entries), INSERT_CHUNK):
                rows = [_audit_row(index, clip_ids) for index in range(chunk, min(chunk + INSERT_CHUNK, log_entries))]
                conn.execute(audit_entries.insert(), rows)
    print(f"    {log_entries:,} audit entries: {time.perf_counter() - start:.1f} s")

    vacuum_analyze(store)

    covered, in_tester_program = set(consented), set(testers)
    unconsented = [c for c in clip_ids if c not in covered and clip_household[c] not in in_tester_program]
    return Fleet(clip_ids, clip_household, consented, unconsented)


def _audit_row(index: int, clip_ids: list[str]) -> dict[str, Any]:
    """A decision entry like the gate's, on a clip of the fleet."""
    at = SETUP + timedelta(milliseconds=index)
    allow = index % 3 != 0
    fields = {
        "actor": {"id": f"reviewer-{index % 40}", "role": "reviewer", "site": "ro-buc", "household_id": None},
        "action": "view_media",
        "resource": {"type": "clip", "id": clip_ids[index % len(clip_ids)], "household_id": None},
        "purpose": REVIEW,
        "allow": allow,
        "reason": "consent covers human review at site ro-buc" if allow else "no active lease on a task for this clip",
        "consent_id": None,
    }
    leaf = make_leaf(index, "decision", at, fields)
    return {"idx": index, "at": at, "kind": "decision", "leaf": leaf, "leaf_hash": leaf_hash(leaf)}


# (1) Decision latency


VARIANTS = ("bare read", "(a) decision", "(a') rolled back", "bare write tx", "(b) gate.check")


def bench_decisions(store: Store, fleet: Fleet, samples: int, rng: random.Random) -> None:
    print(f"(1) decision latency, {samples:,} random clip ids per kind of request, variants interleaved")
    kinds: list[tuple[str, list[str], Callable[[str], tuple[Actor, Action, str, gate.Circumstances]]]] = [
        (
            "reviewer, view_media for human review, on clips with a consent",
            fleet.consented,
            lambda clip_id: (REVIEWER, "view_media", REVIEW, REVIEW_CIRCUMSTANCES),
        ),
        (
            "owner, view_metadata of their own clip",
            fleet.clip_ids,
            lambda clip_id: (
                Actor(f"owner-{fleet.clip_household[clip_id]}", "owner", household_id=fleet.clip_household[clip_id]),
                "view_metadata",
                OWNER_ACCESS,
                gate.Circumstances(),
            ),
        ),
    ]
    for label, population, request in kinds:
        chosen = rng.sample(population, min(len(population), samples + WARMUP))
        warmup, measured = chosen[:WARMUP], chosen[WARMUP:]
        times: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
        allowed = 0
        for number, clip_id in enumerate(warmup + measured):
            actor, action, purpose, circumstances = request(clip_id)
            at = AT + timedelta(milliseconds=number)
            runs = _variant_runs(store, actor, action, clip_id, purpose, at, circumstances)
            shift = number % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                spent, result = runs[variant]()
                if number >= WARMUP:
                    times[variant].append(spent)
                    if variant == "(b) gate.check" and isinstance(result, Decision) and result.allow:
                        allowed += 1
        print(f"    {label}: {allowed:,} of {len(measured):,} allowed")
        for variant in VARIANTS:
            line = f"      {variant:<17} {percentiles(times[variant])}"
            if variant != "bare read":
                line += f"   vs bare read: {ratio(times[variant], times['bare read'])}"
            if variant == "(b) gate.check":
                line += f"   vs bare write tx: {ratio(times[variant], times['bare write tx'])}"
            print(line)
        p99_ratio = percentile(times["(a) decision"], 0.99) / percentile(times["bare read"], 0.99)
        met = "met" if p99_ratio <= GOAL_RATIO else "missed"
        print(f"      goal: decision p99 <= {GOAL_RATIO:g}x bare read p99 ({p99_ratio:.2f}x): {met}")


def _variant_runs(
    store: Store,
    actor: Actor,
    action: Action,
    clip_id: str,
    purpose: str,
    at: datetime,
    circumstances: gate.Circumstances,
) -> dict[str, Callable[[], tuple[float, object]]]:
    ask = gate.Ask(actor, action, clip_id, purpose, at, circumstances)

    def bare_read() -> object:
        with store.connect() as conn, conn.begin():
            return conn.execute(BARE_READ, {"id": clip_id}).first()

    def decision() -> object:
        with store.connect() as conn, conn.begin():
            return gate.preview(conn, ask)  # the first half of gate.decide_and_log: facts, grants, decide

    def rolled_back() -> object:
        try:
            with store.begin() as conn:
                gate.decide_and_log(conn, ask)
                raise _Rollback
        except _Rollback:
            return None

    def bare_write() -> object:
        with store.begin() as conn:
            return conn.execute(BARE_READ, {"id": clip_id}).first()

    def check() -> object:
        return gate.check(store, ask)

    def measured(work: Callable[[], object]) -> Callable[[], tuple[float, object]]:
        def run() -> tuple[float, object]:
            start = time.perf_counter()
            result = work()
            return time.perf_counter() - start, result

        return run

    works = (bare_read, decision, rolled_back, bare_write, check)
    return {variant: measured(work) for variant, work in zip(VARIANTS, works, strict=True)}


# (2) Withdraw to denied


def _review_ask(clip_id: str, at: datetime) -> gate.Ask:
    return gate.Ask(REVIEWER, "view_media", clip_id, REVIEW, at, REVIEW_CIRCUMSTANCES)


def bench_withdrawals(store: Store, fleet: Fleet, count: int, rng: random.Random) -> None:
    print(f"(2) withdraw to denied, {count:,} clips shared with owner.share_clip for {REVIEW}")
    chosen = rng.sample(fleet.unconsented, min(count, len(fleet.unconsented)))
    with store.begin() as conn:  # screened and found harmless, so that consent decides
        for clip_id in chosen:
            _set_controls(conn, clip_id, screened_at=AT, screen_flagged=False, screen_score=0.0, screen_reasons=[])
    shares, withdraws, to_denied = [], [], []
    not_allowed_before, not_denied_after = 0, 0
    reasons: dict[str, int] = {}
    for number, clip_id in enumerate(chosen):
        hh = fleet.clip_household[clip_id]
        owner_actor = Actor(f"owner-{hh}", "owner", household_id=hh)
        at = AT + timedelta(hours=1, seconds=number)
        start = time.perf_counter()
        shared = owner.share_clip(store, owner_actor, clip_id, [REVIEW], None, False, None, at)
        shares.append(time.perf_counter() - start)
        before = gate.check(store, _review_ask(clip_id, at + timedelta(milliseconds=1)))
        not_allowed_before += not before.allow
        start = time.perf_counter()
        owner.withdraw_consent(store, owner_actor, shared["consent_id"], at + timedelta(milliseconds=2))
        withdrawn = time.perf_counter()
        after = gate.check(store, _review_ask(clip_id, at + timedelta(milliseconds=3)))
        denied = time.perf_counter()
        withdraws.append(withdrawn - start)
        to_denied.append(denied - start)
        not_denied_after += after.allow
        reasons[after.reason] = reasons.get(after.reason, 0) + 1
    print(f"    share_clip (gate, screen verdict, consent, queue): {percentiles(shares)}")
    print(f"    withdraw_consent call:                            {percentiles(withdraws)}")
    print(f"    withdraw to first check denied:                   {percentiles(to_denied)}")
    print(
        f"    allowed before withdrawal: {len(chosen) - not_allowed_before:,} of {len(chosen):,}; "
        f"denied after: {len(chosen) - not_denied_after:,} of {len(chosen):,} "
        f"({'; '.join(f'{reason!r} x{n}' for reason, n in reasons.items())})"
    )
    p99 = percentile(to_denied, 0.99)
    met = "met" if p99 < GOAL_WITHDRAW_S and not not_denied_after else "missed"
    print(f"    goal: withdraw-to-denied p99 < {GOAL_WITHDRAW_S * 1e3:g} ms ({p99 * 1e3:.2f} ms): {met}")


# Databases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100_000, help="clips in the store")
    parser.add_argument("--log-entries", type=int, default=1_000_000, help="audit log entries in the store")
    parser.add_argument("--samples", type=int, default=2_000, help="clip ids per kind of request in (1)")
    parser.add_argument("--withdrawals", type=int, default=300, help="share-withdraw-check rounds in (2)")
    parser.add_argument(
        "--db", default=None, help="PostgreSQL server URL: a scratch database is made there (default: SQLite)"
    )
    args = parser.parse_args()
    rng = random.Random(2025)
    with (
        scratch_database(args.db, "cw_bench_policy") as db_url,
        tempfile.TemporaryDirectory() as data_dir,
        open_store(Path(data_dir), db_url) as store,
    ):
        print(f"database: {store.engine.url.render_as_string(hide_password=True)}")
        require_no_clips(store)
        print("populating")
        fleet = populate(store, args.clips, args.log_entries)
        bench_decisions(store, fleet, args.samples, rng)
        bench_withdrawals(store, fleet, args.withdrawals, rng)


if __name__ == "__main__":
    main()

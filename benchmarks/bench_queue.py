"""Benchmark of the review queue's throughput (lease + submit per second) under concurrent reviewers, against
a bare claim-and-answer baseline measured in the same run, on the same database, with the same threads.

    .venv/bin/python benchmarks/bench_queue.py [--tasks N] [--reviewers N] [--seconds S] [--warmup S]
                                               [--pool-size N] [--db URL]

The store is populated in bulk (SQLAlchemy Core executemany, no media: neither path reads a blob): --tasks
clips (default 20,000) in households of CLIPS_PER_HOUSEHOLD (jurisdiction EU), one camera each; every clip
screened and not flagged (clip_controls), with its own consent for human_review_for_model_improvement
(notice v2, ConsentGiven, sites ro-buc) and a queued review task with answers_needed=2, queued through
clipwarden.review.queue.enqueue; --reviewers reviewer accounts (services.users.add_user, site ro-buc); and
the baseline's table, bench_queue_answers.

Two windows run one after the other, each --reviewers threads (default 100), one per reviewer account, for
--warmup seconds (default 3, not counted) and then --seconds (default 30), the timed window:
  baseline  per iteration, one write transaction (Store.begin): claim the queued task at the head of the
            queue, moving it to the back (UPDATE review_tasks SET created_at = :at WHERE id = (SELECT id ...
            WHERE status = 'queued' ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id,
            clip_id; SQLite has no FOR UPDATE, its writers hold the database), and answer it: one row in
            bench_queue_answers, a table of the annotations table's shape (foreign keys and indexes included)
            without its lease; commit. No gate, no audit entry, no consent check, no lease. Tasks go to the
            back instead of being closed so that the baseline, many times faster, never runs the queue dry;
            the claim is still exclusive (the row is locked, and moved, by the transaction that takes it).
  queue     per iteration, a lease and its submitted answer, as services.reviewer does them without the
            rendition (request_work's purge_ended and its lookup of a running viewing session are left out):
            (1) Store.begin: leases.offer(conn, reviewer, at, settings); (2) the view decision as
            reviewer._open_session makes it: leases.circumstances in a read connection, then gate.require(
            view_media, human review), logged and committed (a denial revokes the lease, as there); (3)
            reviewer.annotate(store, reviewer, token, Answer(label), at, settings): gate (annotate, logged),
            annotation, lease end and task close. ReviewSettings(daily_cap=DAILY_CAP), other settings default.
Every ``at`` comes from one clock shared by all threads, AT plus CLOCK_STEP per reading, so time never goes
backwards for a lease (or across leases: offer expires every lease due at its ``at``).

Figures per window: iterations completed within the timed window per second (one completed lease + submit,
or one baseline claim + answer), p50 and p99 latency of one completed iteration (waiting for pooled
connections included; iterations that failed, such as pool checkouts that timed out, are counted by kind of
error instead), iterations that found nothing to claim, the fewest, median and most iterations one thread
completed, this process's and the machine's CPU use, and the load average. The queue's throughput is also
given as a ratio to the baseline's, and the audit log's growth over each window (warm-up included) per
completed iteration. A monitor thread samples how many of the pool's connections are checked out (and, on
PostgreSQL, what the benchmark's server sessions are doing, from pg_stat_activity) every MONITOR_EVERY s;
the notes at the end say what the samples show limited each window.

Checks at the end, printed: no task has more annotations than answers_needed, no reviewer answered one clip
twice, no lease is active past its expiry at the clock's last reading.

The engine is the library's (clipwarden.store.db: SQLAlchemy's default QueuePool, 5 connections plus 10
overflow, 30 s checkout timeout); --pool-size N replaces it, for an experiment, with an engine of the same
settings and a pool of N connections (no overflow). The default database is a SQLite file in a temporary
data dir. --db takes a PostgreSQL server URL (postgresql+psycopg://USER@HOST:PORT[/MAINTENANCE_DB]): a
scratch database is created on that server and dropped at the end. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from scratch_db import (
    CLIPS_PER_HOUSEHOLD,
    CONSENTS_GIVEN,
    INSERT_CHUNK,
    SETUP,
    camera_row,
    clip_row,
    conninfo,
    consent_row,
    controls_row,
    event_row,
    household_row,
    insert_rows,
    require_no_clips,
    scratch_database,
    vacuum_analyze,
)
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from clipwarden.consent import records
from clipwarden.domain import LABELS
from clipwarden.policy import gate
from clipwarden.policy.decision import Actor
from clipwarden.policy.gate import Denied
from clipwarden.review import leases, queue
from clipwarden.review.leases import HUMAN_REVIEW, ReviewSettings
from clipwarden.services import reviewer, users
from clipwarden.services.reviewer import Answer
from clipwarden.store import Store, open_store
from clipwarden.store import db as store_db
from clipwarden.store.schema import (
    UTCDateTime,
    audit_entries,
    cameras,
    clip_controls,
    clips,
    consent_events,
    consents,
    households,
    review_leases,
    review_tasks,
)
from clipwarden.store.schema import review_annotations as annotation_rows
from clipwarden.store.schema import users as user_rows

AT = datetime(2025, 10, 1, 12, tzinfo=UTC)  # the clock's first reading (within every consent's retention)
CLOCK_STEP = timedelta(milliseconds=1)
JURISDICTION, SITE = "EU", "ro-buc"
ANSWERS_NEEDED = 2
DAILY_CAP = 10**6  # high enough never to stop a reviewer during the run
SETTINGS = ReviewSettings(daily_cap=DAILY_CAP)
MONITOR_EVERY = 0.05
IDLE_PAUSE_S = 0.01  # a thread that found nothing to claim waits this long before asking again
TRACEBACKS_SHOWN = 3
POOL_TIMEOUT_S = 30  # SQLAlchemy's default, which clipwarden.store.db keeps
EXAMPLES_SHOWN = 3

_tasks = review_tasks.c

# The baseline's answers: the annotations table's shape, without the lease it must name.
bare_metadata = MetaData()
bare_answers = Table(
    "bench_queue_answers",
    bare_metadata,
    Column("id", String(40), primary_key=True),
    Column("task_id", String(40), ForeignKey(review_tasks.c.id), nullable=False, index=True),
    Column("clip_id", String(40), ForeignKey(clips.c.id), nullable=False, index=True),
    Column("reviewer_id", String(40), ForeignKey(user_rows.c.id), nullable=False),
    Column("label", String(16), nullable=False),
    Column("ai_correct", Boolean),
    Column("segments", JSON, nullable=False),
    Column("boxes", JSON, nullable=False),
    Column("gold", Boolean, nullable=False),
    Column("submitted_at", UTCDateTime, nullable=False),
)


# Timing and counting


def percentile(seconds: list[float], fraction: float) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


class Clock:
    """One clock for every thread: each reading is CLOCK_STEP after the one before."""

    def __init__(self, start: datetime) -> None:
        self._lock = threading.Lock()
        self._readings = 0
        self._start = start

    def __call__(self) -> datetime:
        with self._lock:
            self._readings += 1
            return self._start + self._readings * CLOCK_STEP

    @property
    def last(self) -> datetime:
        with self._lock:
            return self._start + self._readings * CLOCK_STEP


@dataclass
class Tally:
    """What the threads of one window did."""

    latencies: list[float] = field(default_factory=list)  # iterations completed within the timed window
    completed: int = 0  # every iteration completed, warm-up and window edges included
    idle: int = 0  # iterations that found nothing to claim
    errors: Counter[str] = field(default_factory=Counter)
    per_thread: list[int] = field(default_factory=list)  # iterations each thread completed
    tracebacks: dict[str, str] = field(default_factory=dict)  # the first of each kind of error
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, failure: BaseException) -> None:
        kind = f"{type(failure).__name__}: {' '.join(str(failure).split())[:160]}"
        with self.lock:
            self.errors[kind] += 1
            if kind not in self.tracebacks and len(self.tracebacks) < TRACEBACKS_SHOWN:
                self.tracebacks[kind] = traceback.format_exc()


@dataclass
class Window:
    start: float  # perf_counter at which the timed window opens
    end: float


# An iteration: True when it completed a claim and answer, False when there was nothing to claim.
Iteration = Callable[[Actor], bool]


def run_window(reviewers: list[Actor], iteration: Iteration, warmup: float, seconds: float) -> tuple[Tally, Window]:
    """Every reviewer in a thread of their own, repeating ``iteration`` until the window closes."""
    tally = Tally()
    ready = threading.Barrier(len(reviewers) + 1)
    window = Window(0.0, 0.0)

    def work(actor: Actor) -> None:
        ready.wait()
        mine: list[float] = []
        done = 0
        while (start := time.perf_counter()) < window.end:
            try:
                claimed = iteration(actor)
            except Exception as failure:  # counted and shown: the figures must still come out
                tally.error(failure)
                continue
            finished = time.perf_counter()
            done += claimed
            with tally.lock:
                tally.completed += claimed
                tally.idle += not claimed
            if not claimed:
                time.sleep(IDLE_PAUSE_S)
            elif start >= window.start and finished <= window.end:
                mine.append(finished - start)
        with tally.lock:
            tally.latencies += mine
            tally.per_thread.append(done)

    threads = [threading.Thread(target=work, args=(actor,), daemon=True) for actor in reviewers]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    window.start, window.end = now + warmup, now + warmup + seconds
    ready.wait()
    for thread in threads:
        thread.join()
    return tally, window


# The two iterations


def queue_iteration(store: Store, clock: Clock) -> Iteration:
    """A lease and its submitted answer, as services.reviewer runs them without the rendition."""

    def iteration(actor: Actor) -> bool:
        with store.begin() as conn:
            lease = leases.offer(conn, actor, clock(), SETTINGS)
        if lease is None:
            return False
        at = clock()
        with store.connect() as conn:  # reviewer._open_session's decision, before it makes the rendition
            seen = leases.circumstances(conn, lease, at, SETTINGS)
        try:
            gate.require(store, gate.Ask(actor, "view_media", lease.clip_id, HUMAN_REVIEW, at, seen))
        except Denied:
            with store.begin() as conn:
                leases.end(conn, [lease.token], "revoked", at)
            raise
        label = LABELS[hash(lease.token) % len(LABELS)]
        reviewer.annotate(store, actor, lease.token, Answer(label=label), clock(), SETTINGS)
        return True

    return iteration


_CLAIM_ONE = (
    select(_tasks.id)
    .where(_tasks.status == "queued")
    .order_by(_tasks.created_at, _tasks.id)
    .limit(1)
    .with_for_update(skip_locked=True)  # PostgreSQL; SQLAlchemy leaves it out on SQLite
    .scalar_subquery()
)


def baseline_iteration(store: Store, clock: Clock) -> Iteration:
    """Claim the task at the head of the queue (moving it to the back) and answer it, in one transaction."""

    def iteration(actor: Actor) -> bool:
        at = clock()
        with store.begin() as conn:
            claim = (
                update(review_tasks)
                .where(_tasks.id == _CLAIM_ONE)
                .values(created_at=at)
                .returning(_tasks.id, _tasks.clip_id)
            )
            task = conn.execute(claim).first()
            if task is None:
                return False
            _answer_bare(conn, actor, task.id, task.clip_id, at)
        return True

    return iteration


def _answer_bare(conn: Connection, actor: Actor, task_id: str, clip_id: str, at: datetime) -> None:
    answer_id = f"ann_{uuid.uuid4().hex}"
    conn.execute(
        bare_answers.insert().values(
            id=answer_id,
            task_id=task_id,
            clip_id=clip_id,
            reviewer_id=actor.id,
            label=LABELS[hash(answer_id) % len(LABELS)],
            ai_correct=None,
            segments=[],
            boxes=[],
            gold=False,
            submitted_at=at,
        )
    )


# Watching the pool and the server


@dataclass(frozen=True)
class Cpu:
    """CPU seconds used by this process, and the machine's busy and total jiffies (/proc/stat)."""

    process_s: float
    busy: int
    total: int

    @classmethod
    def now(cls) -> Cpu:
        process = resource.getrusage(resource.RUSAGE_SELF)
        try:
            jiffies = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        except (OSError, ValueError):
            jiffies = [0, 0, 0, 0, 0]
        idle = jiffies[3] + jiffies[4]  # idle, iowait
        return cls(process.ru_utime + process.ru_stime, sum(jiffies) - idle, sum(jiffies))

    def since(self, before: Cpu, seconds: float) -> str:
        cores = os.cpu_count() or 1
        total = self.total - before.total
        busy = f"{(self.busy - before.busy) / total:.0%}" if total else "?"
        return (
            f"cpu: this process {(self.process_s - before.process_s) / seconds:.2f} cores; "
            f"machine {busy} busy ({cores} cores)"
        )


@dataclass
class Samples:
    checked_out: list[int] = field(default_factory=list)
    server: list[Counter[str]] = field(default_factory=list)  # PostgreSQL sessions by what they do
    cpu_before: Cpu | None = None
    cpu_after: Cpu | None = None
    wall_s: float = 0.0
    load_before: float = 0.0


@contextmanager
def monitored(store: Store, pg_conninfo: str | None) -> Iterator[Samples]:
    """Sample the pool (and the server's sessions) every MONITOR_EVERY s while the block runs."""
    samples, stop = Samples(), threading.Event()
    samples.cpu_before = Cpu.now()
    samples.load_before = os.getloadavg()[0]
    pg = psycopg.connect(pg_conninfo, autocommit=True) if pg_conninfo else None

    def sample() -> None:
        while not stop.wait(MONITOR_EVERY):
            samples.checked_out.append(int(getattr(store.engine.pool, "checkedout", lambda: 0)()))
            if pg is not None:
                samples.server.append(_server_sessions(pg))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    started = time.perf_counter()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()
        samples.cpu_after = Cpu.now()
        samples.wall_s = time.perf_counter() - started
        if pg is not None:
            pg.close()


def _server_sessions(pg: psycopg.Connection[Any]) -> Counter[str]:
    rows = pg.execute(
        "SELECT state, wait_event_type, wait_event, count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
        "GROUP BY 1, 2, 3"
    ).fetchall()
    seen: Counter[str] = Counter()
    for state, wait_type, wait_event, count in rows:
        what = state or "?"
        if state == "active" and wait_type is not None:
            what = f"active, waiting on {wait_type}:{wait_event}"
        elif state == "active":
            what = "active, running"
        seen[what] += count
    return seen


def pool_description(engine: Engine) -> str:
    pool = engine.pool
    size, overflow = getattr(pool, "size", lambda: None)(), getattr(pool, "_max_overflow", None)
    timeout = getattr(pool, "timeout", lambda: None)()
    limit = pool_limit(engine)
    return f"{type(pool).__name__}, size {size}, max overflow {overflow}, timeout {timeout} s: at most {limit} at once"


# Populating


def populate(store: Store, task_count: int, reviewer_count: int, seed: int = 2025) -> list[Actor]:
    """The fleet, its consents and queued tasks, and the reviewers (sorted by id)."""
    rng = random.Random(seed)
    clip_ids = [f"clip_{rng.getrandbits(128):032x}" for _ in range(task_count)]
    consent_of = {clip_id: str(uuid.UUID(int=rng.getrandbits(128), version=4)) for clip_id in clip_ids}
    _add_fleet(store, clip_ids, consent_of)
    _enqueue_all(store, clip_ids, consent_of)
    reviewers = _add_reviewers(store, reviewer_count)
    vacuum_analyze(store)
    return reviewers


def _add_fleet(store: Store, clip_ids: list[str], consent_of: dict[str, str]) -> None:
    start = time.perf_counter()
    household_of = {clip_id: f"hh_{number // CLIPS_PER_HOUSEHOLD:07d}" for number, clip_id in enumerate(clip_ids)}
    household_ids = list(dict.fromkeys(household_of.values()))
    with store.begin() as conn:
        bare_metadata.create_all(conn)
        records.publish_notices(conn)
        insert_rows(conn, households, (household_row(hh, JURISDICTION) for hh in household_ids))
        insert_rows(conn, cameras, (camera_row(hh) for hh in household_ids))
        insert_rows(conn, clips, (clip_row(number, c, household_of[c]) for number, c in enumerate(clip_ids)))
        insert_rows(conn, clip_controls, (controls_row(clip_id) for clip_id in clip_ids))
        consent_rows = (
            consent_row(consent_of[c], household_of[c], c, HUMAN_REVIEW, JURISDICTION, [SITE], CONSENTS_GIVEN)
            for c in clip_ids
        )
        insert_rows(conn, consents, consent_rows)
        given = (event_row(consent_of[c], household_of[c], 0, CONSENTS_GIVEN, "ConsentGiven") for c in clip_ids)
        insert_rows(conn, consent_events, given)
    print(
        f"    {len(household_ids):,} households and cameras, {len(clip_ids):,} clips, screen results, consents: "
        f"{time.perf_counter() - start:.1f} s"
    )


def _enqueue_all(store: Store, clip_ids: list[str], consent_of: dict[str, str]) -> None:
    start = time.perf_counter()
    for first in range(0, len(clip_ids), INSERT_CHUNK):
        with store.begin() as conn:
            for number in range(first, min(first + INSERT_CHUNK, len(clip_ids))):
                clip_id = clip_ids[number]
                queued_at = CONSENTS_GIVEN + timedelta(seconds=number)
                queue.enqueue(conn, clip_id, consent_of[clip_id], HUMAN_REVIEW, queued_at, ANSWERS_NEEDED)
    print(f"    {len(clip_ids):,} review tasks (queue.enqueue): {time.perf_counter() - start:.1f} s")


def _add_reviewers(store: Store, count: int) -> list[Actor]:
    start = time.perf_counter()
    accounts = [users.add_user(store, "reviewer", None, SITE, SETUP)["user_id"] for _ in range(count)]
    with store.connect() as conn:
        rows = conn.execute(select(user_rows).where(user_rows.c.id.in_(accounts))).all()
    print(f"    {count} reviewer accounts (users.add_user): {time.perf_counter() - start:.1f} s")
    return sorted((users.actor_of(row) for row in rows), key=lambda actor: actor.id)


# Reporting


def report_window(name: str, tally: Tally, window: Window, samples: Samples, pool_limit: int | None) -> float:
    """Print the window's figures; return its throughput (iterations per second)."""
    seconds = window.end - window.start
    rate = len(tally.latencies) / seconds
    lat = tally.latencies
    print(
        f"    {name:<9} {rate:9.1f} /s   ({len(lat):,} in {seconds:.0f} s; p50 {percentile(lat, 0.5) * 1e3:8.2f} ms, "
        f"p99 {percentile(lat, 0.99) * 1e3:8.2f} ms; {tally.completed:,} completed in all, "
        f"{tally.idle:,} found nothing to claim)"
    )
    _report_samples(samples, pool_limit)
    counts = sorted(tally.per_thread)
    print(
        f"              per thread: min {counts[0]:,}, median {counts[len(counts) // 2]:,}, max {counts[-1]:,} "
        f"iterations completed; load average before the window {samples.load_before:.1f}"
    )
    for kind, count in tally.errors.most_common():
        print(f"              error x{count}: {kind}")
    for kind, shown_trace in tally.tracebacks.items():
        if not kind.startswith("TimeoutError"):  # the pool's: explained in the notes
            print("              " + shown_trace.rstrip().replace("\n", "\n              "))
    return rate


def _report_samples(samples: Samples, pool_limit: int | None) -> None:
    if samples.checked_out:
        out = samples.checked_out
        at_limit = sum(n >= (pool_limit or 0) for n in out) / len(out) if pool_limit else float("nan")
        print(
            f"              pool: {sum(out) / len(out):.1f} connections checked out on average, max {max(out)}; "
            f"at the pool's limit in {at_limit:.0%} of samples"
        )
    if samples.server:
        totals: Counter[str] = Counter()
        for seen in samples.server:
            totals.update(seen)
        shown = ", ".join(f"{what} {count / len(samples.server):.1f}" for what, count in totals.most_common(6))
        print(f"              server sessions on average: {shown}")
    if samples.cpu_before is not None and samples.cpu_after is not None:
        print(f"              {samples.cpu_after.since(samples.cpu_before, samples.wall_s)} (warm-up included)")


def queued_left(store: Store) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).where(_tasks.status == "queued")).scalar_one())


def audit_size(store: Store) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_entries)).scalar_one())


def check_queue(store: Store, now: datetime) -> None:
    """Print the three invariants the queue must keep under concurrency."""
    a, t, le = annotation_rows.c, review_tasks.c, review_leases.c
    per_task = (
        select(a.task_id, func.count().label("answers"), t.answers_needed)
        .join(review_tasks, t.id == a.task_id)
        .group_by(a.task_id, t.answers_needed)
        .subquery()
    )
    twice = select(a.reviewer_id, a.clip_id).group_by(a.reviewer_id, a.clip_id).having(func.count() > 1).subquery()
    with store.connect() as conn:
        over = conn.execute(
            select(func.count()).select_from(per_task).where(per_task.c.answers > per_task.c.answers_needed)
        ).scalar_one()
        repeated = conn.execute(select(func.count()).select_from(twice)).scalar_one()
        stale = conn.execute(
            select(func.count()).select_from(review_leases).where(le.status == "active", le.expires_at <= now)
        ).scalar_one()
        active = conn.execute(select(func.count()).select_from(review_leases).where(le.status == "active")).scalar_one()
    print("checks")
    print(f"    tasks with more annotations than answers_needed: {over}")
    if over:
        _show_overanswered(store, per_task)
    print(f"    (reviewer, clip) pairs answered more than once:  {repeated}")
    print(f"    leases active past their expiry at {now:%H:%M:%S.%f}: {stale} ({active} active in all)")


def _show_overanswered(store: Store, per_task: Any) -> None:
    """The leases of the first few tasks answered too often: who held them, and when."""
    le = review_leases.c
    with store.connect() as conn:
        task_ids = conn.execute(
            select(per_task.c.task_id).where(per_task.c.answers > per_task.c.answers_needed).limit(EXAMPLES_SHOWN)
        ).scalars()
        for task_id in task_ids:
            held = conn.execute(
                select(le.reviewer_id, le.leased_at, le.ended_at, le.status)
                .where(le.task_id == task_id)
                .order_by(le.leased_at)
            ).all()
            spans = "; ".join(
                f"{row.reviewer_id[-6:]} {_hms(row.leased_at)}-{_hms(row.ended_at)} {row.status}" for row in held
            )
            print(f"      {task_id}: leases {spans}")


def _hms(at: datetime | None) -> str:
    return "open" if at is None else f"{at:%H:%M:%S.%f}"[:-3]


# Databases


def with_pool(store: Store, size: int) -> Store:
    """The store with an engine like the library's, whose pool holds ``size`` connections (an experiment)."""
    url = store.engine.url
    if url.get_backend_name() == "postgresql":
        engine = create_engine(
            url, connect_args={"connect_timeout": 10}, pool_pre_ping=True, pool_size=size, max_overflow=0
        )
    else:
        engine = create_engine(url, pool_size=size, max_overflow=0)
        event.listen(engine, "connect", store_db._configure_sqlite)
        event.listen(engine, "begin", store_db._begin_sqlite)
    store.engine.dispose()
    return replace(store, engine=engine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000, help="queued review tasks (one clip each)")
    parser.add_argument("--reviewers", type=int, default=100, help="reviewer accounts, one thread each")
    parser.add_argument("--seconds", type=float, default=30.0, help="timed window of each kind")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds run before each timed window")
    parser.add_argument("--pool-size", type=int, default=None, help="experiment: a pool of N, no overflow")
    parser.add_argument(
        "--db", default=None, help="PostgreSQL server URL: a scratch database is made there (default: SQLite)"
    )
    args = parser.parse_args()
    began = time.perf_counter()
    with (
        scratch_database(args.db, "cw_bench_queue") as db_url,
        tempfile.TemporaryDirectory() as data_dir,
        open_store(Path(data_dir), db_url) as opened,
    ):
        store = opened if args.pool_size is None else with_pool(opened, args.pool_size)
        try:
            run(store, args)
        finally:
            store.close()
    print(f"whole run: {time.perf_counter() - began:.0f} s")


def run(store: Store, args: argparse.Namespace) -> None:
    url = store.engine.url
    print(f"database: {url.render_as_string(hide_password=True)}")
    print(f"pool: {pool_description(store.engine)}")
    require_no_clips(store)
    print("populating")
    reviewers = populate(store, args.tasks, args.reviewers)
    pg = conninfo(url, url.database) if url.get_backend_name() == "postgresql" else None
    limit = pool_limit(store.engine)
    clock = Clock(AT)
    print(f"{len(reviewers)} reviewer threads, {args.warmup:g} s warm-up then {args.seconds:g} s timed, per window")
    results: dict[str, Result] = {}
    for name, iteration in (("baseline", baseline_iteration(store, clock)), ("queue", queue_iteration(store, clock))):
        before = audit_size(store)
        with monitored(store, pg) as samples:
            tally, window = run_window(reviewers, iteration, args.warmup, args.seconds)
        results[name] = Result(tally, samples, report_window(name, tally, window, samples, limit))
        report_aftermath(store, tally, audit_size(store) - before)
    base, queued = results["baseline"].rate, results["queue"].rate
    if base and queued:
        print(f"    queue / baseline throughput: {queued / base:.3f}x (the queue is {base / queued:.1f}x slower)")
    else:
        print("    queue / baseline throughput: no ratio, a window completed nothing")
    check_queue(store, clock.last)
    print_notes(store, results, limit, len(reviewers))


@dataclass
class Result:
    tally: Tally
    samples: Samples
    rate: float


def pool_limit(engine: Engine) -> int | None:
    size, overflow = getattr(engine.pool, "size", lambda: None)(), getattr(engine.pool, "_max_overflow", 0)
    return size + max(overflow, 0) if isinstance(size, int) else None


def report_aftermath(store: Store, tally: Tally, audit_growth: int) -> None:
    per_pair = audit_growth / tally.completed if tally.completed else float("nan")
    print(f"              audit log: +{audit_growth:,} entries, {per_pair:.2f} per completed iteration")
    left = queued_left(store)
    print(f"              queued tasks left: {left:,}")
    if tally.idle:
        cause = "the queue ran dry: raise --tasks" if left == 0 else f"{left:,} tasks were still queued"
        print(f"              nothing to claim {tally.idle:,} times: {cause}")


def print_notes(store: Store, results: dict[str, Result], limit: int | None, threads: int) -> None:
    """What limited each window, as far as the samples tell."""
    print("notes")
    if limit is not None and limit < threads:
        print(f"    pool: at most {limit} of the {threads} threads hold a connection at once; the others wait for one")
    else:
        print(f"    pool: room for {limit} connections, so none of the {threads} threads waits for the pool")
    for name, result in results.items():
        timeouts = sum(n for kind, n in result.tally.errors.items() if kind.startswith("TimeoutError"))
        if timeouts:
            print(
                f"    {name}: {timeouts} iterations gave up after waiting {POOL_TIMEOUT_S} s for a pooled connection "
                "(the pool hands connections to whoever asks first once one is free, not to the longest waiter)"
            )
        out = result.samples.checked_out
        waiting = _advisory_waiters(result.samples)
        if out and waiting is not None:
            held = sum(out) / len(out)
            print(
                f"    {name}: of {held:.1f} connections checked out on average, {waiting:.1f} were waiting on an "
                "advisory lock (every audit append takes one, until commit: logged writes run one at a time)"
            )
    if store.engine.dialect.name != "postgresql":
        print(
            "    SQLite: every Store.begin takes the write lock at BEGIN IMMEDIATE: writers run one at a time, and "
            "a writer that finds it taken polls with growing sleeps (busy_timeout), so it is not first come, "
            "first served either"
        )
    print("    the client is Python threads under one GIL: see each window's cpu line for how busy the machine was")


def _advisory_waiters(samples: Samples) -> float | None:
    if not samples.server:
        return None
    waiting = sum(seen["active, waiting on Lock:advisory"] for seen in samples.server)
    return waiting / len(samples.server)


if __name__ == "__main__":
    try:
        main()
    except DBAPIError as failure:
        raise SystemExit(f"database error: {' '.join(str(failure.orig).split())}") from None

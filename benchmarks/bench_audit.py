"""Benchmark of the audit log against baselines measured in the same run.

    .venv/bin/python benchmarks/bench_audit.py [--leaves N] [--db URL] [--appends N] [--load N]

(1) Append throughput: ``audit.append`` (leaf JSON, SHA-256, the index lock and max(idx) read, the
    INSERT) against plain INSERTs of the same precomputed rows into a table of the same shape, with no
    hashing and no locking, both through ``Store.begin`` transactions of 1 and of 100 entries, as the
    pipeline commits them; plain and audited transactions alternate, so both see the same machine load.
    --appends entries (default 2,000) per batch size. Goal: audit time <= 2x plain time.
(2) Proofs over an in-memory tree of --leaves synthetic leaf hashes (default 1,000,000): inclusion and
    consistency proof times, p50 and p99 over random indexes and sizes. Goal: inclusion p99 < 2 ms.
(3) The log of --load entries (default: --leaves) in the database, bulk-inserted synthetic (valid)
    entries: loading the tree cold, an inclusion proof through ``AuditLog`` (its query for new entries
    included), and a full ``verify()``. Figures only.

The default database is a SQLite file in a temporary data dir; --db takes a SQLAlchemy URL to a scratch
database whose audit log is empty (everything the benchmark writes is removed at the end). It prints
figures and whether each goal was met; it asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Column, LargeBinary, MetaData, String, Table, delete, func, select, text

from clipwarden.audit import AuditLog, append
from clipwarden.audit.entries import make_leaf
from clipwarden.audit.merkle import MerkleTree, leaf_hash
from clipwarden.store import Store, open_store
from clipwarden.store.schema import UTCDateTime, audit_entries, audit_tree_heads

T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
BATCHES = (1, 100)
PROOF_SAMPLES = 10_000
INSERT_CHUNK = 10_000

plain_metadata = MetaData()
plain_rows = Table(
    "bench_audit_plain_rows",
    plain_metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("leaf", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
)


def decision(number: int) -> dict[str, Any]:
    """The fields of a typical enforcement decision."""
    return {
        "actor": {"id": f"reviewer-{number % 40}", "role": "reviewer", "site": "ro-buc"},
        "action": "view",
        "resource": {"type": "clip", "id": f"{number:040x}"},
        "purpose": "human_review_for_model_improvement",
        "allow": number % 3 != 0,
        "reason": "consent covers clip for purpose" if number % 3 else "no consent for purpose",
    }


def row(index: int) -> dict[str, Any]:
    at = T0 + timedelta(milliseconds=index)
    leaf = make_leaf(index, "decision", at, decision(index))
    return {"idx": index, "at": at, "kind": "decision", "leaf": leaf, "leaf_hash": leaf_hash(leaf)}


def percentiles(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p50, p99 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99)]
    return f"p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms"


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def empty(store: Store, *tables: Table) -> None:
    with store.begin() as conn:
        for table in tables:
            # TRUNCATE on PostgreSQL: DELETE leaves dead index entries that slow max(idx) until a vacuum.
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {table.name}"))
            else:
                conn.execute(delete(table))


def bench_appends(store: Store, count: int) -> None:
    print(f"(1) append throughput, {count:,} entries into empty tables, plain and audited transactions alternating")
    plain_metadata.create_all(store.engine)
    rows = [row(index) for index in range(count)]
    try:
        for batch in BATCHES:
            empty(store, plain_rows, audit_entries)
            spent = {"plain": 0.0, "audit": 0.0}
            for number, first in enumerate(range(0, count, batch)):
                group = rows[first : first + batch]
                # Alternating which goes first cancels drift in the machine's load.
                for kind in ("plain", "audit") if number % 2 else ("audit", "plain"):
                    start = time.perf_counter()
                    with store.begin() as conn:
                        for item in group:
                            if kind == "plain":
                                conn.execute(plain_rows.insert(), item)
                            else:
                                append(conn, "decision", item["at"], decision(item["idx"]))
                    spent[kind] += time.perf_counter() - start
            ratio = spent["audit"] / spent["plain"]
            print(
                f"    {batch:>3} per transaction: audit {count / spent['audit']:7.0f} entries/s, "
                f"plain {count / spent['plain']:7.0f} rows/s, ratio {ratio:.2f}x "
                f"(goal <= 2x: {'met' if ratio <= 2 else 'NOT met'})"
            )
    finally:
        empty(store, audit_entries)
        plain_metadata.drop_all(store.engine)


def bench_proofs(leaves: int) -> None:
    print(f"(2) proofs over an in-memory tree of {leaves:,} synthetic leaf hashes, {PROOF_SAMPLES:,} each")
    hashes = [hashlib.sha256(index.to_bytes(8, "big")).digest() for index in range(leaves)]
    tree = MerkleTree()
    print(f"    building the tree: {timed(lambda: tree.extend(hashes)):.2f} s")
    rng = random.Random(6962)
    inclusion, consistency = [], []
    for _ in range(PROOF_SAMPLES):
        index, first = rng.randrange(leaves), rng.randrange(1, leaves + 1)
        start = time.perf_counter()
        tree.inclusion_proof(index)
        middle = time.perf_counter()
        tree.consistency_proof(first)
        inclusion.append(middle - start)
        consistency.append(time.perf_counter() - middle)
    met = "met" if sorted(inclusion)[int(PROOF_SAMPLES * 0.99)] < 2e-3 else "NOT met"
    print(f"    inclusion proof at size {leaves:,}: {percentiles(inclusion)} (goal p99 < 2 ms: {met})")
    print(f"    consistency proof, random first size, to {leaves:,}: {percentiles(consistency)}")


def bench_load(store: Store, count: int) -> None:
    print(f"(3) the tree of {count:,} entries in the database (bulk-inserted synthetic entries)")
    start = time.perf_counter()
    for first in range(0, count, INSERT_CHUNK):
        with store.begin() as conn:
            conn.execute(
                audit_entries.insert(), [row(index) for index in range(first, min(first + INSERT_CHUNK, count))]
            )
    print(f"    bulk insert: {time.perf_counter() - start:.1f} s")
    log = AuditLog(store)
    print(f"    loading and building the tree, cold: {timed(log.tree):.2f} s")
    rng = random.Random(9162)
    through_log = []
    for _ in range(200):
        index = rng.randrange(count)
        through_log.append(timed(lambda: log.inclusion_proof(index)))  # noqa: B023 (called at once)
    print(f"    inclusion proof through AuditLog (with its query for new entries): {percentiles(through_log)}")
    start = time.perf_counter()
    result = log.verify()
    print(f"    full verify(): {time.perf_counter() - start:.1f} s (ok: {result.ok}, size {result.size:,})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000, help="leaves of the in-memory tree for (2)")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL of a scratch database (default: SQLite)")
    parser.add_argument("--appends", type=int, default=2_000, help="entries in (1), per batch size")
    parser.add_argument("--load", type=int, default=None, help="entries in the database for (3); default --leaves")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir, open_store(Path(data_dir), args.db) as store:
        print(f"database: {store.engine.url.render_as_string(hide_password=True)}")
        with store.connect() as conn:
            if conn.execute(select(func.count()).select_from(audit_entries)).scalar_one():
                raise SystemExit("the database's audit log is not empty: give --db a scratch database")
        try:
            bench_appends(store, args.appends)
            bench_proofs(args.leaves)
            bench_load(store, args.leaves if args.load is None else args.load)
        finally:
            empty(store, audit_entries, audit_tree_heads)


if __name__ == "__main__":
    main()

"""The audit log in the database (DESIGN invariant 3): appends, the Merkle tree, signed heads, proofs and
full verification.

``append`` writes an entry inside the caller's transaction, so a state change and its entry commit or roll
back together. Indexes are contiguous from 0 across processes: the next index is read under the
transaction's write lock (SQLite: ``Store.begin`` takes it up front; PostgreSQL: an advisory lock held
until the transaction ends).

A signed tree head is Ed25519 (the service key of ``clipwarden.signing``) over the canonical JSON of
``{"at": ISO 8601 UTC, "root_hash": hex, "size": n}``; anyone holding the published JWK can check it.

What ``AuditLog.verify`` catches, and its limit: it recomputes every leaf hash from the stored leaf bytes
and checks that each leaf names its own position (and agrees with its row's kind and time), so a changed
leaf, a dropped row and swapped rows are named at their exact index, and a truncated tail at its first
missing index once a signed head covers it. An attacker who rewrites a leaf *and* its stored hash (keeping
the index) is caught only by a signed tree head whose size covers that entry; the entry is then known to
lie between the last head that still matches and the first that does not, and the first index of that span
is named. An entry appended after the newest signed head, or the deletion of heads themselves, is beyond
its reach: sign heads often (``signed_head``, ``clipwarden audit root``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select, text
from sqlalchemy.exc import IntegrityError

from clipwarden.audit.entries import canonical_json, make_leaf, parse_leaf
from clipwarden.audit.merkle import MerkleTree, leaf_hash
from clipwarden.errors import ClipwardenError, NotFound
from clipwarden.signing import load_or_create, verify_signature
from clipwarden.store import Store
from clipwarden.store.schema import audit_entries, audit_tree_heads
from clipwarden.times import iso_utc

# PostgreSQL advisory lock (space, key) serialising appenders; the store's other spaces are 0x6377_000N.
_APPEND_LOCK = (0x6377_0A0D, 0)
# conn.info key: the next index, remembered for the rest of the transaction that holds the lock.
_NEXT_INDEX = "clipwarden_audit_next_index"
_ROWS_PER_FETCH = 10_000

_entries = audit_entries.c
_heads = audit_tree_heads.c
_INSERT_ENTRY = audit_entries.insert()
_HASHES_FROM = (
    select(_entries.idx, _entries.leaf_hash)
    .where(_entries.idx >= bindparam("start"))
    .order_by(_entries.idx)
    .limit(_ROWS_PER_FETCH)
)


def append(conn: Connection, kind: str, at: datetime, fields: Mapping[str, Any]) -> int:
    """Append an entry inside ``conn``'s transaction (open it with ``Store.begin``); return its index.

    ``kind`` and ``fields`` are as ``clipwarden.audit.entries`` documents; ValueError or TypeError for
    ones a leaf cannot hold."""
    index = _next_index(conn)
    leaf = make_leaf(index, kind, at, dict(fields))
    # Parameters apart from the statement, so that its compiled form is cached and reused.
    conn.execute(_INSERT_ENTRY, {"idx": index, "at": at, "kind": kind, "leaf": leaf, "leaf_hash": leaf_hash(leaf)})
    conn.info[_NEXT_INDEX] = (_transaction_of(conn), index + 1)
    return index


def _transaction_of(conn: Connection) -> tuple[object, object]:
    """The transaction and innermost savepoint in force: a rollback of either ends them both as keys."""
    return conn.get_transaction(), conn.get_nested_transaction()


def _next_index(conn: Connection) -> int:
    if not conn.in_transaction():
        raise ValueError("audit entries are appended inside a transaction: use Store.begin()")
    remembered = conn.info.get(_NEXT_INDEX)
    if remembered is not None:
        (transaction, savepoint), index = remembered
        current_transaction, current_savepoint = _transaction_of(conn)
        if transaction is current_transaction and savepoint is current_savepoint:
            return int(index)
    if conn.dialect.name == "postgresql":
        space, key = _APPEND_LOCK
        conn.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": space, "key": key})
    last = conn.execute(select(func.max(_entries.idx))).scalar_one()
    return 0 if last is None else int(last) + 1


@dataclass(frozen=True)
class Entry:
    index: int
    leaf: bytes
    leaf_hash: bytes


@dataclass(frozen=True)
class SignedHead:
    size: int
    root_hash: bytes
    at: datetime
    signature: bytes
    kid: str

    @property
    def message(self) -> bytes:
        return head_message(self.size, self.root_hash, self.at)


def head_message(size: int, root_hash: bytes, at: datetime) -> bytes:
    """The bytes a tree head's signature covers."""
    return canonical_json({"size": size, "root_hash": root_hash.hex(), "at": iso_utc(at)})


@dataclass(frozen=True)
class InclusionProof:
    index: int
    size: int
    leaf: bytes  # the entry's leaf as stored
    path: list[bytes]
    root_hash: bytes

    @property
    def leaf_hash(self) -> bytes:
        """The hash of the leaf bytes, never the stored hash the tree is built from: a leaf rewritten in the
        database with its old hash kept hashes to something else, and the path no longer leads to the root."""
        return leaf_hash(self.leaf)


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    path: list[bytes]


@dataclass(frozen=True)
class Verification:
    ok: bool
    size: int
    root_hash: bytes
    # None when the log is sound, or when the problem is a tree head rather than an entry.
    first_bad_index: int | None = None
    problem: str | None = None


class AuditLog:
    """Reads of one store's audit log. It keeps the Merkle tree between calls and reads only the entries
    appended since, so make one per store and reuse it (it is safe to share between threads)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._tree = MerkleTree()
        self._lock = threading.Lock()

    def size(self) -> int:
        with self._store.connect() as conn:
            last = conn.execute(select(func.max(_entries.idx))).scalar_one()
        return 0 if last is None else int(last) + 1

    def tree(self) -> MerkleTree:
        """The tree over every committed entry (it only grows, so it stays valid for any size it has)."""
        with self._lock:
            return self._refreshed()

    def root(self) -> tuple[int, bytes]:
        """(size, root hash) of the whole log."""
        with self._lock:
            tree = self._refreshed()
            return tree.size, tree.root()

    def signed_head(self, at: datetime | None = None) -> SignedHead:
        """A signed head for the log as it is now, stored in ``audit_tree_heads``; if a head of this size
        was signed before, that one (a log only grows, so it is the same tree unless tampered with)."""
        key = load_or_create(self._store.data_dir)
        size, root_hash = self.root()
        stored = self._stored_head(size)
        if stored is not None:
            return stored
        at = at or datetime.now(UTC)
        head = SignedHead(size, root_hash, at, key.sign(head_message(size, root_hash, at)), key.kid)
        try:
            with self._store.begin() as conn:
                conn.execute(
                    audit_tree_heads.insert().values(
                        size=size, root_hash=root_hash, at=at, signature=head.signature, kid=head.kid
                    )
                )
        except IntegrityError:
            # Another process signed this size first: theirs is the head of record.
            raced = self._stored_head(size)
            assert raced is not None
            return raced
        return head

    def heads(self) -> list[SignedHead]:
        """Every stored tree head, smallest first."""
        with self._store.connect() as conn:
            rows = conn.execute(select(audit_tree_heads).order_by(_heads.size)).all()
        return [_head(row) for row in rows]

    def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        """The audit path of entry ``index`` in the tree of ``size`` entries (default: the whole log), with
        the entry's leaf as stored."""
        with self._lock:
            tree = self._refreshed()
            size = _checked_size(tree, size)
            if index < 0:
                raise ClipwardenError(f"audit entry index {index} is negative")
            if index >= tree.size:
                raise NotFound(f"no audit entry {index}: the log holds {tree.size} entries")
            if index >= size:
                raise NotFound(f"audit entry {index} is not in the tree of size {size}")
            path, root_hash = tree.inclusion_proof(index, size), tree.root(size)
        leaf = next(self.iter_entries(index, index)).leaf
        return InclusionProof(index, size, leaf, path, root_hash)

    def consistency_proof(self, first: int, second: int | None = None) -> ConsistencyProof:
        """Proof that the tree of ``second`` entries (default: the whole log) extends that of ``first``."""
        with self._lock:
            tree = self._refreshed()
            second = _checked_size(tree, second)
            # Every tree extends the empty one, so a proof from size 0 would prove nothing (verifiers refuse it).
            if not 1 <= _checked_size(tree, first) <= second:
                raise ClipwardenError(f"first size {first} must be between 1 and second size {second}")
            return ConsistencyProof(
                first, second, tree.root(first), tree.root(second), tree.consistency_proof(first, second)
            )

    def entries(self, from_: int = 0, to: int | None = None) -> list[Entry]:
        """Entries ``from_`` to ``to`` inclusive (default: to the last), as stored."""
        return list(self.iter_entries(from_, to))

    def iter_entries(self, from_: int = 0, to: int | None = None) -> Iterator[Entry]:
        """``entries``, read in batches as they are consumed: for walking a long log."""
        if from_ < 0 or (to is not None and to < from_):
            raise ClipwardenError(f"bad audit entry range: from {from_} to {to}")
        query = select(_entries.idx, _entries.leaf, _entries.leaf_hash).where(_entries.idx >= from_)
        if to is not None:
            query = query.where(_entries.idx <= to)
        query = query.order_by(_entries.idx).execution_options(yield_per=_ROWS_PER_FETCH)
        with self._store.connect() as conn:
            for index, leaf, hashed in conn.execute(query):
                yield Entry(int(index), bytes(leaf), bytes(hashed))

    def verify(self) -> Verification:
        """Check every entry and every signed head from scratch (the module docstring says what is caught).
        The root hash is that of the leaves as stored, in index order."""
        public_jwk = load_or_create(self._store.data_dir).public_jwk()
        # Heads first: each covers entries committed before it, so the entries read next include them all.
        heads = self.heads()
        tree = MerkleTree()
        first_bad_entry: tuple[int, str] | None = None
        query = select(audit_entries).order_by(_entries.idx).execution_options(yield_per=_ROWS_PER_FETCH)
        with self._store.connect() as conn:
            result = conn.execute(query)
            for rows in result.partitions():
                hashes = []
                for position, row in enumerate(rows, start=tree.size):
                    hashes.append(leaf_hash(bytes(row.leaf)))
                    if first_bad_entry is None:
                        problem = _entry_problem(position, row, hashes[-1])
                        if problem is not None:
                            first_bad_entry = (position, problem)
                tree.extend(hashes)
        sound = tree.size if first_bad_entry is None else first_bad_entry[0]
        problems = [first_bad_entry, *_head_problems(heads, tree, sound, public_jwk)]
        found = [problem for problem in problems if problem is not None]
        if not found:
            return Verification(True, tree.size, tree.root())
        index, problem = min(found, key=lambda candidate: (candidate[0] is None, candidate[0] or 0))
        return Verification(False, tree.size, tree.root(), index, problem)

    def _refreshed(self) -> MerkleTree:
        """The cached tree, extended with the entries committed since; the caller holds ``_lock``.
        Read in pages of plain queries: when nothing is new, as usual, that is one round trip."""
        tree = self._tree
        with self._store.connect() as conn:
            while True:
                start = tree.size
                rows = conn.execute(_HASHES_FROM, {"start": start}).all()
                if not rows:
                    break
                # Indexes are unique and sorted, so a page is contiguous when its ends are where they belong.
                if rows[0].idx != start or rows[-1].idx != start + len(rows) - 1:
                    raise _damaged(start)
                try:
                    tree.extend(bytes(hashed) for _, hashed in rows)
                except ValueError:
                    raise _damaged(start) from None
                if len(rows) < _ROWS_PER_FETCH:
                    break
        return tree

    def _stored_head(self, size: int) -> SignedHead | None:
        with self._store.connect() as conn:
            row = conn.execute(select(audit_tree_heads).where(_heads.size == size)).one_or_none()
        return None if row is None else _head(row)


def _damaged(from_index: int) -> ClipwardenError:
    return ClipwardenError(f"the audit log is damaged at or after entry {from_index}; run `clipwarden audit verify`")


def _checked_size(tree: MerkleTree, size: int | None) -> int:
    if size is None:
        return tree.size
    if size < 0:
        raise ClipwardenError(f"tree size {size} is negative")
    if size > tree.size:  # that tree does not exist (yet)
        raise NotFound(f"no tree of size {size}: the log holds {tree.size} entries")
    return size


def _head(row: Row[Any]) -> SignedHead:
    return SignedHead(int(row.size), bytes(row.root_hash), row.at, bytes(row.signature), row.kid)


def _entry_problem(position: int, row: Row[Any], hashed: bytes) -> str | None:
    """What is wrong with the row read at ``position`` of the index order, if anything."""
    if row.idx != position:
        return f"entry {position} is missing (the next stored entry is {row.idx})"
    if bytes(row.leaf_hash) != hashed:
        return "its stored leaf hash does not match its leaf bytes"
    try:
        entry = parse_leaf(bytes(row.leaf))
    except ValueError as error:
        return str(error)
    if entry["index"] != position:
        return f"its leaf says it is entry {entry['index']}"
    if entry["kind"] != row.kind or entry["at"] != iso_utc(row.at):
        return "its kind or time columns disagree with its leaf"
    return None


def _head_problems(
    heads: Sequence[SignedHead], tree: MerkleTree, sound: int, public_jwk: dict[str, str]
) -> Iterable[tuple[int | None, str]]:
    """Problems the signed heads reveal in the first ``sound`` entries of ``tree`` (those that passed the
    entry checks); beyond them a head's root cannot match anyway, and the entry problem is reported."""
    matched = 0
    for head in heads:
        if head.kid != public_jwk["kid"]:
            yield None, f"the tree head at size {head.size} names key {head.kid}, not the service key"
            continue
        if not verify_signature(public_jwk, head.message, head.signature):
            yield None, f"the tree head at size {head.size} fails its signature check"
            continue
        if head.size > tree.size:
            yield tree.size, f"entries {tree.size} to {head.size - 1} are gone: a head was signed at size {head.size}"
            return
        if head.size > sound:
            return
        if tree.root(head.size) != head.root_hash:
            yield (
                matched,
                f"an entry from {matched} to {head.size - 1} was changed: the tree no longer matches the head "
                f"signed at size {head.size} ({iso_utc(head.at)})",
            )
            return
        matched = head.size

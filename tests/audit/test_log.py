"""The audit log on both backends: appends inside transactions, the `audit` commands, and verification
against a database tampered with directly."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from clipwarden.audit import AuditLog, api, append
from clipwarden.audit.entries import canonical_json, make_leaf
from clipwarden.audit.merkle import leaf_hash, root_of, verify_consistency, verify_inclusion
from clipwarden.errors import ClipwardenError, NotFound
from clipwarden.services import auditing
from clipwarden.signing import load_or_create, verify_signature
from clipwarden.store import Store
from clipwarden.store.schema import audit_entries, audit_tree_heads

T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
WORKER = Path(__file__).with_name("append_worker.py")
Cli = Callable[..., Any]


def add(store: Store, count: int) -> list[int]:
    """Append ``count`` decisions in one transaction; their indexes."""
    with store.begin() as conn:
        return [
            append(conn, "decision", T0 + timedelta(seconds=n), {"allow": n % 2 == 0, "resource": {"id": f"c{n}"}})
            for n in range(count)
        ]


def stored_leaf(store: Store, index: int) -> bytes:
    with store.connect() as conn:
        return bytes(conn.execute(select(audit_entries.c.leaf).where(audit_entries.c.idx == index)).scalar_one())


def set_row(store: Store, index: int, **values: Any) -> None:
    with store.begin() as conn:
        assert conn.execute(update(audit_entries).where(audit_entries.c.idx == index).values(**values)).rowcount == 1


def failed_verification(cli: Cli) -> dict[str, Any]:
    """Run `audit verify`, which must fail with its document on stdout and one error line on stderr."""
    result = cli("audit", "verify")
    assert result.code == 1
    assert result.err.count("\n") == 1 and result.err.startswith("error: audit log fails verification")
    document: dict[str, Any] = result.json()
    assert document["ok"] is False
    index = document["first_bad_index"]
    assert (f"at index {index}:" in result.err) == (index is not None)
    return document


def test_the_commands_agree_with_the_stored_leaves(store: Store, cli: Cli, data_dir: Path) -> None:
    assert add(store, 6) == list(range(6))
    assert add(store, 7) == list(range(6, 13))

    entries = cli("audit", "entries").json()
    leaves = [base64.b64decode(entry["leaf_b64"]) for entry in entries]
    assert [json.loads(leaf)["index"] for leaf in leaves] == [entry["index"] for entry in entries] == list(range(13))
    assert [entry["leaf_hash"] for entry in entries] == [leaf_hash(leaf).hex() for leaf in leaves]
    assert [entry["index"] for entry in cli("audit", "entries", "--from", "3", "--to", "4").json()] == [3, 4]

    head = cli("audit", "root").json()
    root = root_of(leaf_hash(leaf) for leaf in leaves)
    assert (head["size"], head["root_hash"]) == (13, root.hex())
    key = load_or_create(data_dir)
    message = canonical_json({"size": 13, "root_hash": head["root_hash"], "at": head["at"]})
    signature = base64.urlsafe_b64decode(head["signature"] + "==")
    assert head["kid"] == key.kid and verify_signature(key.public_jwk(), message, signature)
    assert not verify_signature(key.public_jwk(), message.replace(b'"size":13', b'"size":12'), signature)
    assert cli("audit", "root").json() == head  # the head of record for this size, not a second one

    for index in (0, 6, 12):
        proof = cli("audit", "prove", str(index)).json()
        assert (proof["index"], proof["size"], proof["root_hash"]) == (index, 13, root.hex())
        assert (proof["leaf_hash"], proof["verified"], proof["kind"]) == (
            leaf_hash(leaves[index]).hex(),
            True,
            "decision",
        )
        path = [bytes.fromhex(node) for node in proof["path"]]
        assert verify_inclusion(leaf_hash(leaves[index]), index, 13, path, root)
    old = cli("audit", "prove", "3", "--size", "5").json()
    old_root = root_of(leaf_hash(leaf) for leaf in leaves[:5])
    assert old["root_hash"] == old_root.hex()
    assert verify_inclusion(leaf_hash(leaves[3]), 3, 5, [bytes.fromhex(node) for node in old["path"]], old_root)

    consistency = cli("audit", "consistency", "--first", "5").json()
    assert (consistency["first_root"], consistency["second_root"]) == (old_root.hex(), root.hex())
    path = [bytes.fromhex(node) for node in consistency["path"]]
    assert verify_consistency(5, 13, old_root, root, path)

    verified = cli("audit", "verify")
    assert verified.code == 0
    assert verified.json() == {"ok": True, "size": 13, "root_hash": root.hex()}


@pytest.mark.parametrize(
    "args",
    [
        ("prove", "13"),
        ("prove", "--", "-1"),
        ("prove", "2", "--size", "14"),
        ("prove", "5", "--size", "3"),
        ("consistency", "--first", "0"),  # every tree extends the empty one: nothing to prove
        ("consistency", "--first", "9", "--second", "5"),
        ("consistency", "--first", "2", "--second", "99"),
        ("entries", "--from", "5", "--to", "2"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(store: Store, cli: Cli, args: tuple[str, ...]) -> None:
    add(store, 13)
    result = cli("audit", *args)
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith("error: ") and result.err.count("\n") == 1


def test_an_empty_log_has_the_empty_root(store: Store, cli: Cli) -> None:
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert cli("audit", "root").json()["root_hash"] == empty
    assert cli("audit", "verify").json() == {"ok": True, "size": 0, "root_hash": empty}
    assert cli("audit", "entries").json() == []


def test_an_entry_lives_and_dies_with_its_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError), store.begin() as conn:
        append(conn, "clip_deleted", T0, {"clip_id": "c1"})
        raise RuntimeError("the state change failed")
    assert AuditLog(store).size() == 0

    with store.begin() as conn:
        assert append(conn, "clip_deleted", T0, {"clip_id": "c1"}) == 0
        savepoint = conn.begin_nested()
        assert append(conn, "clip_deleted", T0, {"clip_id": "c2"}) == 1
        savepoint.rollback()
        assert append(conn, "clip_deleted", T0, {"clip_id": "c3"}) == 1
    assert [json.loads(entry.leaf)["clip_id"] for entry in AuditLog(store).entries()] == ["c1", "c3"]
    assert AuditLog(store).verify().ok

    with store.connect() as conn, pytest.raises(ValueError, match="transaction"):
        append(conn, "label", T0, {})


def test_a_reused_log_follows_the_database(store: Store) -> None:
    log = AuditLog(store)
    add(store, 3)
    first_head = log.signed_head(at=T0)
    assert log.signed_head() == first_head
    add(store, 5)
    assert log.tree().size == 8
    proof = log.inclusion_proof(7)
    assert verify_inclusion(proof.leaf_hash, 7, 8, proof.path, proof.root_hash)
    consistency = log.consistency_proof(3)
    assert consistency.first_root == first_head.root_hash
    assert verify_consistency(3, 8, consistency.first_root, consistency.second_root, consistency.path)
    assert log.signed_head().size == 8
    assert [head.size for head in log.heads()] == [3, 8]
    assert api.inclusion(log, 2, 3)["root_hash"] == first_head.root_hash.hex()
    with pytest.raises(NotFound):
        api.inclusion(log, 8)
    with pytest.raises(ClipwardenError):
        api.consistency(log, 4, 3)


# Tampering, straight in the database


def test_a_changed_leaf_is_named(store: Store, cli: Cli) -> None:
    add(store, 10)
    set_row(store, 3, leaf=make_leaf(3, "decision", T0 + timedelta(seconds=3), {"allow": True}))
    document = failed_verification(cli)
    assert document["first_bad_index"] == 3 and "leaf hash" in document["problem"]


def test_a_forged_leaf_is_not_verified_by_its_proof(store: Store, cli: Cli) -> None:
    add(store, 10)
    # A denial rewritten as an allow, its stored leaf hash (which the tree is built from) kept.
    forged = stored_leaf(store, 3).replace(b'"allow":false', b'"allow":true')
    set_row(store, 3, leaf=forged)
    log = AuditLog(store)
    checked = auditing.checked_inclusion(log, 3)
    assert (checked["verified"], checked["kind"]) == (False, "decision")
    assert checked["leaf_hash"] == leaf_hash(forged).hex()  # the hash of the bytes shown, not the stored one
    assert api.inclusion(log, 3)["verified"] is False  # the HTTP API's proof
    assert auditing.checked_inclusion(log, 4)["verified"] is True

    proved = cli("audit", "prove", "3")
    assert proved.code == 1 and proved.json()["verified"] is False
    assert proved.err.count("\n") == 1 and proved.err.startswith("error: audit entry 3 is NOT verified")
    as_text = cli("audit", "prove", "3", as_json=False)
    assert as_text.code == 1 and "entry 3 (decision at" in as_text.out and "verified:" not in as_text.out
    assert "verified: the path leads" in cli("audit", "prove", "4", as_json=False).out

    document = failed_verification(cli)
    assert document["first_bad_index"] == 3 and "leaf hash" in document["problem"]


def test_an_unreadable_leaf_is_not_verified(store: Store, cli: Cli) -> None:
    add(store, 4)
    set_row(store, 2, leaf=b"\xffnot an entry")
    checked = auditing.checked_inclusion(AuditLog(store), 2)
    assert (checked["verified"], checked["kind"], checked["at"]) == (False, "unreadable leaf", None)
    proved = cli("audit", "prove", "2")
    assert proved.code == 1 and proved.err.startswith("error: audit entry 2 is NOT verified")
    assert failed_verification(cli)["first_bad_index"] == 2


def test_a_changed_kind_column_is_named(store: Store, cli: Cli) -> None:
    add(store, 10)
    set_row(store, 6, kind="consent_given")
    assert failed_verification(cli)["first_bad_index"] == 6


def test_a_deleted_row_is_named(store: Store, cli: Cli) -> None:
    add(store, 10)
    with store.begin() as conn:
        conn.execute(delete(audit_entries).where(audit_entries.c.idx == 4))
    document = failed_verification(cli)
    assert (document["first_bad_index"], document["size"]) == (4, 9)
    assert "entry 4 is missing" in document["problem"]
    assert cli("audit", "prove", "1").code == 1  # no proofs over a broken log


@pytest.mark.parametrize("with_hashes", [False, True])
def test_swapped_rows_are_named(store: Store, cli: Cli, with_hashes: bool) -> None:
    add(store, 10)
    rows = {}
    with store.connect() as conn:
        for index in (2, 6):
            query = select(audit_entries.c.leaf, audit_entries.c.leaf_hash).where(audit_entries.c.idx == index)
            rows[index] = conn.execute(query).one()
    for here, there in ((2, 6), (6, 2)):
        swapped = {"leaf": rows[there].leaf} | ({"leaf_hash": rows[there].leaf_hash} if with_hashes else {})
        set_row(store, here, **swapped)
    document = failed_verification(cli)
    assert document["first_bad_index"] == 2
    assert ("says it is entry 6" if with_hashes else "leaf hash") in document["problem"]


def rewrite(store: Store, index: int) -> None:
    """What a careful attacker does: a new leaf that keeps its index, with its leaf hash recomputed."""
    leaf = stored_leaf(store, index).replace(b'"id":"c', b'"id":"forged-c')
    assert leaf != stored_leaf(store, index)
    set_row(store, index, leaf=leaf, leaf_hash=leaf_hash(leaf))


def test_a_rewritten_leaf_and_hash_is_caught_by_the_signed_heads(store: Store, cli: Cli) -> None:
    log = AuditLog(store)
    add(store, 5)
    log.signed_head()
    add(store, 5)
    log.signed_head()
    rewrite(store, 7)
    document = failed_verification(cli)
    # The heads at sizes 5 and 10 bound the change: it is somewhere in 5..9, and 5 is named.
    assert document["first_bad_index"] == 5
    assert "from 5 to 9" in document["problem"]


def test_heads_at_every_size_name_a_rewritten_leaf_exactly(store: Store, cli: Cli) -> None:
    log = AuditLog(store)
    for _ in range(6):
        add(store, 1)
        log.signed_head()
    rewrite(store, 3)
    assert failed_verification(cli)["first_bad_index"] == 3


def test_limit_a_rewrite_after_the_newest_head_goes_unseen(store: Store, cli: Cli) -> None:
    # Documented limit: without a signed head over an entry, a consistent rewrite of it is undetectable.
    add(store, 4)
    AuditLog(store).signed_head()
    add(store, 4)
    rewrite(store, 5)
    assert cli("audit", "verify").json()["ok"] is True
    assert cli("audit", "prove", "5").json()["verified"] is True  # checked against the log's own root


def test_a_truncated_log_is_caught(store: Store, cli: Cli) -> None:
    add(store, 10)
    AuditLog(store).signed_head()
    with store.begin() as conn:
        conn.execute(delete(audit_entries).where(audit_entries.c.idx >= 8))
    document = failed_verification(cli)
    assert document["first_bad_index"] == 8 and "gone" in document["problem"]


def test_a_forged_head_is_caught(store: Store, cli: Cli) -> None:
    add(store, 4)
    AuditLog(store).signed_head()
    rewrite(store, 1)
    forged = AuditLog(store).tree().root()  # the attacker makes the head match the rewritten log
    with store.begin() as conn:
        conn.execute(update(audit_tree_heads).values(root_hash=forged))
    document = failed_verification(cli)
    assert document["first_bad_index"] is None
    assert "size 4 fails its signature check" in document["problem"]


# Many writers


def test_two_processes_appending_at_once_get_contiguous_indexes(
    store: Store, tmp_path: Path, data_dir: Path, db_url: str | None
) -> None:
    per_worker, go = 25, tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(data_dir), db_url or "", name, str(per_worker), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    deadline = time.monotonic() + 60
    while not all(Path(f"{go}.{name}.ready").exists() for name in ("a", "b")):
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.01)
    go.touch()  # both are waiting, so their appends overlap
    given = [json.loads(worker.communicate(timeout=120)[0]) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    assert sorted(given[0] + given[1]) == list(range(2 * per_worker))
    assert all(indexes == sorted(indexes) for indexes in given)
    result = AuditLog(store).verify()
    assert (result.ok, result.size) == (True, 2 * per_worker)

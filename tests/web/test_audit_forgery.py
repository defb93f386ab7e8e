"""A leaf rewritten in the database, its stored hash kept, through the auditor's two surfaces: the console's
checked proof and the JSON API's proof both say it is not verified, and the entries around it still are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pages_support import Clock, Site, cheap_hasher
from sqlalchemy import select, update

from clipwarden.audit import append
from clipwarden.audit.entries import canonical_json, parse_leaf
from clipwarden.audit.merkle import leaf_hash, verify_inclusion
from clipwarden.store import Store
from clipwarden.store.schema import audit_entries
from clipwarden.web.auth import WebSettings

T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
FORGED = 1  # of three entries logged


def log_three_and_forge(store: Store, index: int) -> bytes:
    """Log three clip deletions, then make entry ``index`` name another clip, in place, keeping its stored leaf
    hash; the new leaf."""
    row = audit_entries.c.idx == index
    with store.begin() as conn:
        for number in range(3):
            append(conn, "clip_deleted", T0, {"clip_id": f"c{number}"})
        leaf = bytes(conn.execute(select(audit_entries.c.leaf).where(row)).scalar_one())
        forged = canonical_json(parse_leaf(leaf) | {"clip_id": "another"})
        conn.execute(update(audit_entries).where(row).values(leaf=forged))
    return forged


@pytest.fixture
def site(store: Store, fleet: Any, fleet_class: Any, monkeypatch: pytest.MonkeyPatch) -> Site:
    cheap_hasher(monkeypatch)
    made = Site(store, Clock(fleet_class.start + timedelta(minutes=30)), WebSettings())
    made.add("auditor", "auditor")
    return made


def test_the_console_shows_a_forged_entry_as_not_verified(site: Site) -> None:
    forged = log_three_and_forge(site.store, FORGED)
    with site.browser() as auditor:
        auditor.sign_in("auditor")
        page = auditor.get(f"/audit?index={FORGED}&size=")
        assert page.status_code == 200
        assert "the path does NOT lead to the root hash" in page.text
        assert leaf_hash(forged).hex() in page.text  # the hash of the bytes it checked
        for intact in (FORGED - 1, FORGED + 1):
            assert "the path leads to the root hash" in auditor.get(f"/audit?index={intact}").text


def test_the_api_proof_of_a_forged_entry_is_not_verified(api: Any, store: Store) -> None:
    forged = log_three_and_forge(store, FORGED)

    def proof(index: int) -> dict[str, Any]:
        answer = api.call("auditor", "GET", "/api/audit/proof/inclusion", params={"index": index})
        assert answer.status_code == 200, answer.text
        return answer.json()

    document = proof(FORGED)
    assert document["verified"] is False and document["leaf_hash"] == leaf_hash(forged).hex()
    path = [bytes.fromhex(node) for node in document["path"]]
    root = bytes.fromhex(document["root_hash"])
    assert not verify_inclusion(leaf_hash(forged), FORGED, document["size"], path, root)  # an outside check agrees
    assert proof(FORGED + 1)["verified"] is True


def test_the_console_shows_an_unreadable_entry_as_such(site: Site) -> None:
    log_three_and_forge(site.store, FORGED)
    with site.store.begin() as conn:  # bytes that are no leaf at all
        conn.execute(update(audit_entries).where(audit_entries.c.idx == FORGED).values(leaf=b"\xff not json"))
    with site.browser() as auditor:
        auditor.sign_in("auditor")
        page = auditor.get(f"/audit?index={FORGED}&size=")
        assert page.status_code == 200
        assert f"{FORGED}: unreadable leaf</dd>" in page.text and "None" not in page.text
        assert "the path does NOT lead to the root hash" in page.text
        assert f"Entries that are no log entry at all (rewritten?): {FORGED}</p>" in page.text


def test_audit_replay_names_an_unreadable_entry_in_one_line(store: Store, cli: Any) -> None:
    log_three_and_forge(store, FORGED)
    with store.begin() as conn:
        conn.execute(update(audit_entries).where(audit_entries.c.idx == FORGED).values(leaf=b"\xff not json"))
    replayed = cli("audit", "replay")
    assert replayed.code == 1 and replayed.json()["unreadable"] == [FORGED]
    assert replayed.err == (
        "error: replay found 0 views without consent, 0 disagreements with the enforcement point "
        "and 1 unreadable entries\n"
    )

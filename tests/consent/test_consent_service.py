"""The consent use cases on both backends: give, renew, withdraw, expire, the enforcement lookup, and
the append-only history."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Connection, event, select

from clipwarden import services
from clipwarden.consent import service
from clipwarden.consent.notices import NOTICES
from clipwarden.errors import ClipwardenError, Conflict, NotFound
from clipwarden.store import Store
from clipwarden.store.schema import consent_events, consents, notices

from .helpers import AFTER_V2, AT, BEFORE_V2, REVIEW, count, give

if TYPE_CHECKING:
    from conftest import Fleet

MINUTE = timedelta(minutes=1)


def _valid(store: Store, clip_id: str, household_id: str, purpose: str, at: Any = AT) -> list[Any]:
    with store.connect() as conn:
        return service.valid_consents_for_clip(conn, clip_id, household_id, purpose, at)


@contextmanager
def _statements(store: Store) -> Iterator[list[str]]:
    """Every SQL statement the store's engine runs inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


# Giving


def test_giving_records_the_consent_and_its_first_event(store: Store, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-plus"][0]
    consent = give(store, "hh-plus", clip_id, REVIEW, "automated_training", allow_unredacted=True)
    assert {k: consent[k] for k in ("clip_id", "purposes", "notice_versions", "sites", "jurisdiction")} == {
        "clip_id": clip_id,
        "purposes": [REVIEW, "automated_training"],
        "notice_versions": {REVIEW: 1, "automated_training": 1},
        "sites": ["ro-buc", "us-sea"],  # a US household: every site the notice names
        "jurisdiction": "US",
    }
    assert (consent["given_at"], consent["given_by"], consent["state"]) == (
        "2025-01-01T09:00:00Z",
        "owner:hh-plus",
        "ConsentGiven",
    )
    assert consent["allow_unredacted"] is True
    assert all(verdict["valid"] for verdict in consent["valid"].values())
    assert [e["state"] for e in consent["events"]] == ["ConsentGiven"]
    assert (count(store, consents), count(store, consent_events)) == (1, 1)
    assert service.get_consent(store, consent["id"], "hh-plus", AT) == consent
    assert count(store, notices) == len(NOTICES)  # every consent points at a stored text


def test_an_eu_household_shares_with_eu_sites_unless_it_chooses_more(store: Store, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-free"][0]
    assert give(store, "hh-free", clip_id, REVIEW)["sites"] == ["ro-buc"]
    assert give(store, "hh-free", clip_id, REVIEW, sites=["us-sea", "ro-buc"])["sites"] == ["ro-buc", "us-sea"]
    assert sorted(v.sites for v in _valid(store, clip_id, "hh-free", REVIEW)) == [("ro-buc",), ("ro-buc", "us-sea")]


def test_the_tester_program_covers_the_whole_account(store: Store, fleet: Fleet) -> None:
    enrolled = give(store, "hh-plus", None, "tester_program")
    assert (enrolled["clip_id"], enrolled["sites"]) == (None, ["in-hyd", "ro-buc", "us-sea"])
    for clip_id in fleet.clip_ids["hh-plus"]:
        (permitted,) = _valid(store, clip_id, "hh-plus", "tester_program")
        assert (permitted.consent_id, permitted.account_wide) == (enrolled["id"], True)


def _delete_first(store: Store, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-plus"][0]
    services.delete_clip(store, clip_id)
    give(store, "hh-plus", clip_id, REVIEW)


REFUSALS: dict[str, tuple[Callable[[Store, Fleet], object], type[Exception], str]] = {
    "unknown-purpose": (
        lambda s, f: give(s, "hh-plus", f.clip_ids["hh-plus"][0], "marketing"),
        ClipwardenError,
        "unknown purpose 'marketing'",
    ),
    "old-notice": (
        lambda s, f: give(s, "hh-plus", f.clip_ids["hh-plus"][0], REVIEW, at=AFTER_V2, versions=1),
        ClipwardenError,
        f"notice version 1 is not in force for purpose {REVIEW}",
    ),
    "unknown-notice": (
        lambda s, f: give(s, "hh-plus", f.clip_ids["hh-plus"][0], REVIEW, versions={REVIEW: 9}),
        ClipwardenError,
        f"notice version 9 is not in force for purpose {REVIEW}",
    ),
    "tester-per-clip": (
        lambda s, f: give(s, "hh-plus", f.clip_ids["hh-plus"][0], "tester_program"),
        ClipwardenError,
        "whole account",
    ),
    "review-account-wide": (lambda s, f: give(s, "hh-plus", None, REVIEW), ClipwardenError, "name the clip"),
    "site-not-named": (
        lambda s, f: give(s, "hh-plus", f.clip_ids["hh-plus"][0], REVIEW, sites=["in-hyd"]),
        ClipwardenError,
        "sites in-hyd are not named",
    ),
    "other-households-clip": (
        lambda s, f: give(s, "hh-plus", f.clip_ids["hh-free"][0], REVIEW),
        NotFound,
        "unknown clip id",
    ),
    "unknown-household": (lambda s, f: give(s, "nobody", None, "tester_program"), NotFound, "unknown household"),
    "deleted-clip": (_delete_first, Conflict, "can no longer be shared"),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_refused_consents_change_nothing(
    store: Store, fleet: Fleet, case: tuple[Callable[[Store, Fleet], object], type[Exception], str]
) -> None:
    attempt, error, message = case
    with pytest.raises(error, match=message):
        attempt(store, fleet)
    assert (count(store, consents), count(store, consent_events)) == (0, 0)


# Withdrawing


def test_withdrawal_takes_effect_at_once(store: Store, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-plus"][1]
    consent = give(store, "hh-plus", clip_id, REVIEW)
    assert [v.consent_id for v in _valid(store, clip_id, "hh-plus", REVIEW, AT + MINUTE)] == [consent["id"]]
    withdrawn = service.withdraw(store, consent["id"], "hh-plus", AT + 2 * MINUTE, "owner:hh-plus")
    assert withdrawn["state"] == "ConsentWithdrawn"
    assert withdrawn["valid"][REVIEW] == {"valid": False, "reason": "consent is ConsentWithdrawn"}
    assert _valid(store, clip_id, "hh-plus", REVIEW, AT + 2 * MINUTE) == []
    assert len(_valid(store, clip_id, "hh-plus", REVIEW, AT + MINUTE)) == 1  # the past stays as it was
    with pytest.raises(Conflict, match="has already ended"):
        service.withdraw(store, consent["id"], "hh-plus", AT + 3 * MINUTE, "owner:hh-plus")
    assert count(store, consent_events) == 2


def test_withdrawing_another_households_consent_is_not_found_and_changes_nothing(store: Store, fleet: Fleet) -> None:
    consent = give(store, "hh-plus", fleet.clip_ids["hh-plus"][0], REVIEW)
    with pytest.raises(NotFound, match=f"unknown consent id: {consent['id']}"):
        service.withdraw(store, consent["id"], "hh-free", AT + MINUTE, "owner:hh-free")
    with pytest.raises(NotFound, match=f"unknown consent id: {consent['id']}"):
        service.get_consent(store, consent["id"], "hh-free", AT)
    assert count(store, consent_events) == 1
    assert service.get_consent(store, consent["id"], "hh-plus", AT + MINUTE)["state"] == "ConsentGiven"


def test_history_cannot_be_written_into_the_past(store: Store, fleet: Fleet) -> None:
    consent = give(store, "hh-plus", fleet.clip_ids["hh-plus"][0], REVIEW)
    with pytest.raises(Conflict, match="changed at 2025-01-01T09:00:00Z, after"):
        service.withdraw(store, consent["id"], "hh-plus", AT - MINUTE, "owner:hh-plus")
    with pytest.raises(NotFound, match="unknown consent id: nope"):
        service.withdraw(store, "nope", "hh-plus", AT, "owner:hh-plus")
    assert count(store, consent_events) == 1


# Renewing


def test_renewal_lifts_the_lapse_a_material_notice_change_causes(store: Store, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-plus"][0]
    consent = give(store, "hh-plus", clip_id, REVIEW, at=BEFORE_V2)
    assert _valid(store, clip_id, "hh-plus", REVIEW, AFTER_V2) == []
    lapsed = service.get_consent(store, consent["id"], "hh-plus", AFTER_V2)
    assert (lapsed["state"], lapsed["valid"][REVIEW]["valid"]) == ("ConsentGiven", False)
    with pytest.raises(ClipwardenError, match="notice version 1 is not in force"):
        service.renew(store, consent["id"], "hh-plus", AFTER_V2, "owner:hh-plus", notice_versions=1)
    renewed = service.renew(store, consent["id"], "hh-plus", AFTER_V2, "owner:hh-plus")
    assert (renewed["state"], renewed["notice_versions"]) == ("RenewedConsentGiven", {REVIEW: 2})
    assert renewed["sites"] == ["in-hyd", "ro-buc", "us-sea"]
    assert renewed["events"][-1] | {"at": None} == {
        "seq": 1,
        "at": None,
        "state": "RenewedConsentGiven",
        "actor": "owner:hh-plus",
        "notice_versions": {REVIEW: 2},
        "sites": ["in-hyd", "ro-buc", "us-sea"],
    }
    (permitted,) = _valid(store, clip_id, "hh-plus", REVIEW, AFTER_V2)
    assert (permitted.notice_version, permitted.sites) == (2, ("in-hyd", "ro-buc", "us-sea"))


def test_an_ended_consent_cannot_be_renewed(store: Store, fleet: Fleet) -> None:
    consent = give(store, "hh-free", fleet.clip_ids["hh-free"][0], REVIEW, at=BEFORE_V2)
    service.withdraw(store, consent["id"], "hh-free", BEFORE_V2 + MINUTE, "owner:hh-free")
    with pytest.raises(Conflict, match="give a new consent instead"):
        service.renew(store, consent["id"], "hh-free", AFTER_V2, "owner:hh-free")
    assert count(store, consent_events) == 2
    again = give(store, "hh-free", fleet.clip_ids["hh-free"][0], REVIEW, at=AFTER_V2)
    assert (again["notice_versions"], again["sites"]) == ({REVIEW: 2}, ["ro-buc"])


# The enforcement point's lookup


def test_the_lookup_finds_the_clips_own_and_the_account_wide_consents(store: Store, fleet: Fleet) -> None:
    first, second = fleet.clip_ids["hh-plus"][:2]
    review = give(store, "hh-plus", first, REVIEW)["id"]
    support = give(store, "hh-plus", second, "troubleshooting")["id"]
    tester = give(store, "hh-plus", None, "tester_program")["id"]
    give(store, "hh-free", fleet.clip_ids["hh-free"][0], REVIEW)
    found = {
        (clip, household, purpose): [v.consent_id for v in _valid(store, clip, household, purpose)]
        for clip, household, purpose in [
            (first, "hh-plus", REVIEW),
            (first, "hh-plus", "tester_program"),
            (first, "hh-plus", "troubleshooting"),
            (second, "hh-plus", "troubleshooting"),
            (first, "hh-free", REVIEW),  # the clip is not that household's
            (fleet.clip_ids["hh-free"][0], "hh-free", "tester_program"),
        ]
    }
    assert list(found.values()) == [[review], [tester], [], [support], [], []]


def test_the_lookup_is_one_query(store: Store, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-plus"][0]
    give(store, "hh-plus", clip_id, REVIEW)
    give(store, "hh-plus", None, "tester_program")
    with store.connect() as conn, _statements(store) as seen:
        assert len(service.valid_consents_for_clip(conn, clip_id, "hh-plus", REVIEW, AT)) == 1
    queries = [statement for statement in seen if statement != "BEGIN"]  # SQLite's own BEGIN
    assert len(queries) == 1 and "FROM consents JOIN consent_events" in queries[0]


# Expiry


def test_consents_expire_when_every_purposes_retention_has_run_out(store: Store, fleet: Fleet) -> None:
    clips = fleet.clip_ids["hh-plus"]
    review_only = give(store, "hh-plus", clips[0], REVIEW)["id"]  # 90 days
    both = give(store, "hh-plus", clips[1], REVIEW, "automated_training")["id"]  # 90 and 365 days
    withdrawn = give(store, "hh-plus", clips[2], REVIEW)["id"]
    service.withdraw(store, withdrawn, "hh-plus", AT + MINUTE, "owner:hh-plus")
    assert service.expire_due(store, AT + timedelta(days=90) - MINUTE) == []
    assert service.expire_due(store, AT + timedelta(days=90)) == [review_only]
    assert service.expire_due(store, AT + timedelta(days=90)) == []
    later = AT + timedelta(days=91)
    assert [v.purpose for v in _valid(store, clips[1], "hh-plus", "automated_training", later)] == [
        "automated_training"
    ]
    assert service.expire_due(store, AT + timedelta(days=365)) == [both]
    states = {c["id"]: c["state"] for c in service.consents_for_household(store, "hh-plus", AT + timedelta(days=400))}
    assert states == {review_only: "ConsentExpired", both: "ConsentExpired", withdrawn: "ConsentWithdrawn"}


# Changes are announced inside their transaction


def test_every_change_is_announced_inside_its_transaction(store: Store, fleet: Fleet) -> None:
    heard: list[tuple[str, dict[str, Any], bool]] = []

    def on_change(conn: Connection, kind: str, fields: dict[str, Any]) -> None:
        stored = conn.execute(
            select(consent_events.c.state).where(
                consent_events.c.consent_id == fields["consent_id"], consent_events.c.seq == fields["seq"]
            )
        )
        heard.append((kind, fields, stored.scalar() == kind and conn.in_transaction()))

    clip_id = fleet.clip_ids["hh-plus"][0]
    consent_id = service.give_consent(
        store, "hh-plus", clip_id, [REVIEW], None, False, None, BEFORE_V2, "owner:hh-plus", on_change
    )["id"]
    service.renew(store, consent_id, "hh-plus", AFTER_V2, "owner:hh-plus", on_change=on_change)
    service.withdraw(store, consent_id, "hh-plus", AFTER_V2 + MINUTE, "owner:hh-plus", on_change=on_change)
    kinds = [kind for kind, _, _ in heard]
    assert kinds == ["ConsentGiven", "RenewedConsentGiven", "ConsentWithdrawn"]
    assert all(inside for _, _, inside in heard)
    assert heard[2][1] == {
        "consent_id": consent_id,
        "household_id": "hh-plus",
        "clip_id": clip_id,
        "purposes": [REVIEW],
        "notice_versions": {REVIEW: 2},
        "sites": ["in-hyd", "ro-buc", "us-sea"],
        "seq": 2,
        "state": "ConsentWithdrawn",
        "at": "2025-09-02T00:01:00Z",
        "actor": "owner:hh-plus",
    }


def test_a_failing_listener_undoes_the_change(store: Store, fleet: Fleet) -> None:
    def broken(conn: Connection, kind: str, fields: dict[str, Any]) -> None:
        raise RuntimeError("audit log unavailable")

    clip_id = fleet.clip_ids["hh-plus"][0]
    with pytest.raises(RuntimeError):
        service.give_consent(store, "hh-plus", clip_id, [REVIEW], None, False, None, AT, "owner:hh-plus", broken)
    assert (count(store, consents), count(store, consent_events)) == (0, 0)
    consent_id = give(store, "hh-plus", clip_id, REVIEW)["id"]
    with pytest.raises(RuntimeError):
        service.withdraw(store, consent_id, "hh-plus", AT + MINUTE, "owner:hh-plus", on_change=broken)
    assert service.get_consent(store, consent_id, "hh-plus", AT + MINUTE)["state"] == "ConsentGiven"


# Append-only history


def test_history_is_append_only(store: Store, fleet: Fleet) -> None:
    clips = fleet.clip_ids["hh-plus"]
    sizes = [count(store, consent_events)]
    with _statements(store) as seen:
        first = give(store, "hh-plus", clips[0], REVIEW, at=BEFORE_V2)["id"]
        sizes.append(count(store, consent_events))
        give(store, "hh-plus", clips[1], "automated_training", at=BEFORE_V2)
        sizes.append(count(store, consent_events))
        service.renew(store, first, "hh-plus", AFTER_V2, "owner:hh-plus")
        sizes.append(count(store, consent_events))
        service.withdraw(store, first, "hh-plus", AFTER_V2 + MINUTE, "owner:hh-plus")
        sizes.append(count(store, consent_events))
        service.expire_due(store, BEFORE_V2 + timedelta(days=365))
        sizes.append(count(store, consent_events))
    assert sizes == [0, 1, 2, 3, 4, 5]
    rewrites = [s for s in seen if re.match(r"\s*(UPDATE|DELETE)\b", s, re.IGNORECASE)]
    assert rewrites == []
    assert any(re.match(r"\s*INSERT INTO consent_events", s) for s in seen)

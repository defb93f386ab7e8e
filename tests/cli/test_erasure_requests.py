"""Erasure requests on the command line: each deletion is recorded as a request with its GDPR Art. 12(3)
deadline and closes with its certificate; erasing a household ends its consents; a request an interruption
left open is finished by `erasure resume`; the retention sweep also expires consents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from cli_support import ok

from clipwarden.consent.notices import NOTICES
from clipwarden.services import erasure_requests
from clipwarden.store import Store
from clipwarden.times import one_month_after, utc_now

if TYPE_CHECKING:
    from conftest import CliResult, Fleet

Cli = Callable[..., "CliResult"]
REVIEW = "human_review_for_model_improvement"
AT = "2025-01-01T09:00:00Z"


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (datetime(2025, 1, 15, 10, tzinfo=UTC), datetime(2025, 2, 15, 10, tzinfo=UTC)),
        (datetime(2025, 1, 31, 23, 59, tzinfo=UTC), datetime(2025, 2, 28, 23, 59, tzinfo=UTC)),
        (datetime(2024, 1, 31, tzinfo=UTC), datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2025, 12, 31, 8, tzinfo=UTC), datetime(2026, 1, 31, 8, tzinfo=UTC)),
        (datetime(2025, 3, 31, tzinfo=UTC), datetime(2025, 4, 30, tzinfo=UTC)),
    ],
)
def test_the_deadline_is_one_calendar_month_after_receipt(received: datetime, due: datetime) -> None:
    assert one_month_after(received) == due


def test_a_deletion_is_a_request_closed_by_its_certificate(cli: Cli, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-free"][0]
    before = utc_now()
    certificate = ok(cli("clips", "delete", clip_id))
    request = certificate["request"]
    received = datetime.fromisoformat(request["received_at"])
    assert before - timedelta(seconds=1) <= received <= utc_now()
    assert datetime.fromisoformat(request["deadline"]) == one_month_after(received)
    assert request["within_deadline"] is True
    [listed] = ok(cli("erasure", "requests"))
    assert listed["id"] == request["id"]
    assert listed["subject"] == {"type": "clip", "id": clip_id}
    assert (listed["status"], listed["certificate_id"], listed["within_deadline"]) == (
        "closed",
        certificate["certificate_id"],
        True,
    )
    assert listed["household_id"] == "hh-free" and listed["requested_by"] == "operator"
    assert ok(cli("erasure", "requests", "--open")) == []
    shown = cli("erasure", "requests", as_json=False)
    assert shown.code == 0 and request["id"] in shown.out and "closed" in shown.out


def test_a_refused_deletion_records_no_request(cli: Cli, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-free"][0]
    ok(cli("clips", "delete", clip_id))
    again = cli("clips", "delete", clip_id)
    assert again.code == 1 and "clip is deleted" in again.err
    unknown = cli("households", "erase", "hh-nobody")
    assert unknown.code == 1 and "unknown household" in unknown.err
    assert len(ok(cli("erasure", "requests"))) == 1


def test_erasing_a_household_revokes_its_consents(cli: Cli, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-free"][1]
    shared = ok(cli("consents", "give", "--household", "hh-free", "--clip", clip_id, "--purpose", REVIEW, "--at", AT))
    tester = ok(cli("consents", "give", "--household", "hh-free", "--purpose", "tester_program", "--at", AT))
    other = ok(cli("consents", "give", "--household", "hh-plus", "--purpose", "tester_program", "--at", AT))
    certificate = ok(cli("households", "erase", "hh-free"))
    revoked = {a["consent_id"] for a in certificate["artefacts"] if a["kind"] == "consent_revoked"}
    assert revoked == {shared["id"], tester["id"]}
    states = {c["id"]: c["state"] for c in ok(cli("consents", "list", "--household", "hh-free"))}
    assert states == {shared["id"]: "ConsentRevoked", tester["id"]: "ConsentRevoked"}
    assert [c["state"] for c in ok(cli("consents", "list", "--household", "hh-plus"))] == ["ConsentGiven"]
    assert other["id"] not in revoked
    replay = ok(cli("audit", "replay"))
    assert (replay["ok"], replay["views_without_consent"]) == (True, 0)
    assert ok(cli("audit", "verify"))["ok"] is True


def test_deleting_a_clip_ends_its_own_consents_but_not_the_accounts(cli: Cli, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-free"][1]
    shared = ok(cli("consents", "give", "--household", "hh-free", "--clip", clip_id, "--purpose", REVIEW, "--at", AT))
    tester = ok(cli("consents", "give", "--household", "hh-free", "--purpose", "tester_program", "--at", AT))
    certificate = ok(cli("clips", "delete", clip_id))
    assert [a["consent_id"] for a in certificate["artefacts"] if a["kind"] == "consent_revoked"] == [shared["id"]]
    states = {c["id"]: c["state"] for c in ok(cli("consents", "list", "--household", "hh-free"))}
    assert states == {shared["id"]: "ConsentRevoked", tester["id"]: "ConsentGiven"}


def test_resume_finishes_a_request_an_interruption_left_open(cli: Cli, fleet: Fleet, store: Store) -> None:
    clip_id = fleet.clip_ids["hh-plus"][0]
    # The request was recorded, then the process stopped before the erasure ran.
    left = erasure_requests.receive(store, "clip", clip_id, "owner:hh-plus", utc_now())
    erased_with_household = erasure_requests.receive(store, "household", "hh-free", "owner:hh-free", utc_now())
    ok(cli("households", "erase", "hh-free"))  # a second request got there first
    assert {r["id"] for r in ok(cli("erasure", "requests", "--open"))} == {left["id"], erased_with_household["id"]}
    finished = {r["id"]: r for r in ok(cli("erasure", "resume"))}
    assert finished.keys() == {left["id"], erased_with_household["id"]}
    assert all(r["status"] == "closed" and r["certificate_id"] for r in finished.values())
    assert clip_id not in [clip["id"] for clip in ok(cli("clips", "list"))]
    assert ok(cli("erasure", "requests", "--open")) == []
    assert ok(cli("erasure", "resume")) == []


def test_the_retention_sweep_also_expires_consents(cli: Cli, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-plus"][0]  # plus plan: the clip is kept 30 days
    days = next(n.retention_days for n in NOTICES if n.purpose == "troubleshooting")
    shared = ok(cli("consents", "give", "--household", "hh-plus", "--clip", clip_id, "--purpose", "troubleshooting",
                     "--at", AT))  # fmt: skip
    early = ok(cli("retention", "sweep", "--at", "2025-01-02T09:00:00Z"))
    assert early["consents_expired"] == []
    due = (datetime.fromisoformat(AT) + timedelta(days=days, seconds=1)).isoformat()
    swept = ok(cli("retention", "sweep", "--at", due))
    assert swept["consents_expired"] == [shared["id"]]
    states = {c["id"]: c["state"] for c in ok(cli("consents", "list", "--household", "hh-plus", "--at", due))}
    assert states[shared["id"]] == "ConsentExpired"

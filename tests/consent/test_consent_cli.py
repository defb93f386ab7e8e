"""`notices list` and the owner's `consents give|renew|withdraw|list|expire` on the command line: the
JSON they print, their text form, and bad input as one line on stderr, exit 1, nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from clipwarden.consent.vocabulary import PURPOSES

from .helpers import REVIEW

if TYPE_CHECKING:
    from conftest import CliResult, Fleet

Cli = Callable[..., "CliResult"]
CONTRACT_FIELDS = {"purpose", "version", "sha256", "text", "human_review", "sites", "retention_days"}
AT = "2025-01-01T09:00:00Z"


def _ok(result: CliResult) -> Any:
    assert (result.code, result.err) == (0, "")
    return result.json()


def _fails(result: CliResult, message: str) -> None:
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert message in result.err


def test_notices_list_prints_the_notices_in_force(cli_raw: Cli) -> None:
    listed = _ok(cli_raw("--json", "notices", "list", "--at", "2025-08-20T00:00:00Z"))
    assert [notice["purpose"] for notice in listed] == list(PURPOSES)
    assert all(notice.keys() >= CONTRACT_FIELDS for notice in listed)
    assert {n["purpose"]: n["version"] for n in listed}[REVIEW] == 1
    latest = _ok(cli_raw("--json", "notices", "list"))
    # The training purposes' notices say that models learn and forget, and every notice says how to withdraw
    # in the app's words, not as an API request (clearer wording, both on 2026-12-07).
    assert {n["purpose"]: n["version"] for n in latest} == {PURPOSES[0]: 3, REVIEW: 4, PURPOSES[2]: 3, PURPOSES[3]: 3}
    assert all("forgets" in n["text"] for n in latest[1:])
    assert all("press Withdraw" in n["text"] and "/api/" not in n["text"] for n in latest)
    shown = cli_raw("notices", "list")
    assert shown.code == 0
    assert "no person watches; sites: none; kept 365 days" in shown.out
    assert f"{REVIEW} v4 (sha256 {latest[1]['sha256'][:16]}...)" in shown.out


def test_an_owner_gives_lists_and_withdraws_consent(cli: Cli, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-free"][0]
    given = _ok(
        cli(
            "consents",
            "give",
            "--household",
            "hh-free",
            "--clip",
            clip_id,
            "--purpose",
            REVIEW,
            "--purpose",
            "troubleshooting",
            "--site",
            "ro-buc",
            "--site",
            "us-sea",
            "--allow-unredacted",
            "--notice-version",
            "1",
            "--at",
            AT,
        )
    )
    assert (given["clip_id"], given["purposes"], given["sites"]) == (
        clip_id,
        [REVIEW, "troubleshooting"],
        ["ro-buc", "us-sea"],
    )
    assert (given["given_by"], given["allow_unredacted"], given["given_at"]) == ("owner:hh-free", True, AT)
    assert [c["id"] for c in _ok(cli("consents", "list", "--household", "hh-free", "--at", AT))] == [given["id"]]
    withdrawn = _ok(cli("consents", "withdraw", given["id"], "--household", "hh-free", "--at", "2025-01-01T10:00:00Z"))
    assert withdrawn["state"] == "ConsentWithdrawn"
    (listed,) = _ok(cli("consents", "list", "--household", "hh-free", "--at", "2025-01-01T10:00:00Z"))
    assert [e["state"] for e in listed["events"]] == ["ConsentGiven", "ConsentWithdrawn"]
    shown = cli("consents", "list", "--household", "hh-free", as_json=False)
    assert f"consent {given['id']} for clip {clip_id}: ConsentWithdrawn" in shown.out
    assert "not valid: consent is ConsentWithdrawn" in shown.out


def test_an_owner_renews_after_a_material_change_and_consents_expire(cli: Cli, kept_fleet: Fleet) -> None:
    clip_id = kept_fleet.clip_ids["hh-plus"][0]
    give = ["consents", "give", "--household", "hh-plus", "--clip", clip_id, "--purpose", REVIEW]
    consent_id = _ok(cli(*give, "--at", "2025-08-20T00:00:00Z"))["id"]
    lapsed = _ok(cli("consents", "list", "--household", "hh-plus", "--at", "2025-09-02T00:00:00Z"))[0]
    assert lapsed["valid"][REVIEW]["valid"] is False
    renewed = _ok(cli("consents", "renew", consent_id, "--household", "hh-plus", "--at", "2025-09-02T00:00:00Z"))
    assert (renewed["notice_versions"], renewed["valid"][REVIEW]["valid"]) == ({REVIEW: 2}, True)
    assert _ok(cli("consents", "expire", "--at", "2025-11-17T00:00:00Z")) == {"expired": []}
    assert _ok(cli("consents", "expire", "--at", "2025-11-18T00:00:00Z")) == {"expired": [consent_id]}
    assert cli("consents", "expire", "--at", "2025-11-19T00:00:00Z", as_json=False).out.strip() == "expired 0 consents"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--purpose", "marketing"], "unknown purpose 'marketing'"),
        (
            ["--purpose", REVIEW, "--notice-version", "1", "--at", "2025-10-01T00:00:00Z"],
            "notice version 1 is not in force",
        ),
        (["--purpose", REVIEW, "--site", "in-hyd", "--at", AT], "sites in-hyd are not named in the notice"),
        (["--purpose", REVIEW, "--at", "yesterday"], "not an ISO 8601 time"),
        (["--purpose", "tester_program"], "whole account"),
    ],
    ids=["purpose", "notice-version", "site", "time", "scope"],
)
def test_bad_consents_fail_with_one_line_and_change_nothing(
    cli: Cli, kept_fleet: Fleet, args: list[str], message: str
) -> None:
    clip_id = kept_fleet.clip_ids["hh-plus"][0]
    _fails(cli("consents", "give", "--household", "hh-plus", "--clip", clip_id, *args), message)
    assert _ok(cli("consents", "list", "--household", "hh-plus")) == []


def test_another_households_consent_cannot_be_withdrawn(cli: Cli, fleet: Fleet) -> None:
    consent_id = _ok(cli("consents", "give", "--household", "hh-plus", "--purpose", "tester_program"))["id"]
    _fails(cli("consents", "withdraw", consent_id, "--household", "hh-free"), f"unknown consent id: {consent_id}")
    assert [c["state"] for c in _ok(cli("consents", "list", "--household", "hh-plus"))] == ["ConsentGiven"]
    _fails(cli("consents", "list", "--household", "nobody"), "unknown household id: nobody")

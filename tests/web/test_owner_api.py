"""The owner API through HTTP: clips, sharing with consent, withdrawal, receipts, access logs, and the
IDOR suite: no owner reads, shares or withdraws anything of another household's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from clipwarden.signing import verify_jws
from clipwarden.store import Store
from clipwarden.store.schema import audit_entries, consent_events, review_tasks

REVIEW = "human_review_for_model_improvement"


def _audit_size(store: Store) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_entries)).scalar_one())


def _queued(store: Store) -> list[tuple[str, str]]:
    with store.connect() as conn:
        rows = conn.execute(select(review_tasks.c.clip_id, review_tasks.c.status)).all()
    return sorted((row.clip_id, row.status) for row in rows)


def test_an_owner_lists_reads_and_plays_own_clips(api: Any, fleet: Any) -> None:
    own = fleet.clip_ids["hh-free"]
    answer = api.call("free", "GET", "/api/clips")
    assert answer.status_code == 200, answer.text
    listed = answer.json()
    assert [clip["id"] for clip in listed] == own
    assert {clip["household_id"] for clip in listed} == {"hh-free"}
    assert api.call("free", "GET", f"/api/clips/{own[0]}").json()["id"] == own[0]
    media = api.call("free", "GET", f"/api/clips/{own[0]}/media")
    assert media.status_code == 200
    assert media.content == fleet.media[own[0]]
    assert media.headers["cache-control"] == "no-store"


def test_the_clip_list_comes_a_page_at_a_time_with_a_link_to_the_next(api: Any, fleet: Any) -> None:
    own = fleet.clip_ids["hh-free"]
    assert len(own) >= 3
    pages, path = [], "/api/clips?limit=2"
    while path:
        answer = api.call("free", "GET", path)
        assert answer.status_code == 200, answer.text
        pages.append([clip["id"] for clip in answer.json()])
        link = answer.headers.get("link")
        path = link.split(">")[0].removeprefix("<") if link else ""
        assert not link or link.endswith('; rel="next"')
    assert [clip for page in pages for clip in page] == own and all(len(page) <= 2 for page in pages)
    for bad in ("limit=0", "limit=501", "limit=two", "cursor=-1"):
        refused = api.call("free", "GET", f"/api/clips?{bad}")
        assert refused.status_code == 422 and "detail" in refused.json(), bad


def test_requests_without_a_valid_token_are_refused(api: Any, fleet: Any) -> None:
    clip = fleet.clip_ids["hh-free"][0]
    assert api.client.get(f"/api/clips/{clip}").status_code == 401
    assert api.client.get(f"/api/clips/{clip}", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert api.call("auditor", "GET", f"/api/clips/{clip}/media").status_code == 403


def test_the_media_answers_ranges_and_head_and_refuses_in_json(api: Any, fleet: Any) -> None:
    clip = fleet.clip_ids["hh-free"][0]
    media, url = fleet.media[clip], f"/api/clips/{clip}/media"
    part = api.client.get(url, headers={**api.as_("free"), "Range": "bytes=2-9"})
    assert (part.status_code, part.content) == (206, media[2:10])
    past = api.client.get(url, headers={**api.as_("free"), "Range": "bytes=99999-"})
    assert (past.status_code, past.headers["content-range"]) == (416, f"bytes */{len(media)}")
    assert "past the end" in past.json()["detail"]
    head = api.call("free", "HEAD", url)
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", str(len(media)))
    assert head.headers["content-type"] == "video/mp4"


def test_the_token_is_checked_before_the_body(api: Any, fleet: Any, store: Store) -> None:
    clip = fleet.clip_ids["hh-free"][0]
    for headers in [{}, {"Authorization": "Bearer nope"}]:
        for body in [b"{", b'{"purposes": 3}', b"\xff"]:
            answer = api.client.post(
                f"/api/clips/{clip}/shares", content=body, headers={"content-type": "application/json", **headers}
            )
            assert answer.status_code == 401, (headers, body, answer.text)
            assert answer.json()["detail"] in {"bearer token required", "unknown token"}


def test_share_gives_a_consent_with_a_verifiable_receipt_and_queues_it(api: Any, fleet: Any, store: Store) -> None:
    clip = fleet.clip_ids["hh-free"][1]
    shared = api.call("free", "POST", f"/api/clips/{clip}/shares", json={"purposes": [REVIEW], "notice_version": 1})
    assert shared.status_code == 201, shared.text
    body = shared.json()
    assert body["held"] is False
    assert (clip, "queued") in _queued(store)
    token = api.call("free", "GET", body["receipt_url"]).text
    jwks = api.client.get("/.well-known/jwks.json").json()
    header, payload = verify_jws(token, jwks)
    assert b'"consentReceiptID":"' + body["consent_id"].encode() in payload
    assert header["alg"] == "EdDSA"


def test_withdrawal_is_one_action_and_takes_the_clip_out_of_the_queue(api: Any, fleet: Any, store: Store) -> None:
    clip = fleet.clip_ids["hh-free"][1]
    consent = api.call("free", "POST", f"/api/clips/{clip}/shares", json={"purposes": [REVIEW]}).json()["consent_id"]
    api.clock.advance(minutes=1)
    withdrawn = api.call("free", "POST", f"/api/consents/{consent}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    assert _queued(store) == [(clip, "removed")]
    states = [c["state"] for c in api.call("free", "GET", "/api/consents").json() if c["id"] == consent]
    assert states == ["ConsentWithdrawn"]
    assert api.call("free", "POST", f"/api/consents/{consent}/withdraw").status_code == 409


def test_deleting_a_clip_removes_it_from_the_queue_and_certifies_it(api: Any, fleet: Any, store: Store) -> None:
    clip = fleet.clip_ids["hh-free"][2]
    api.call("free", "POST", f"/api/clips/{clip}/shares", json={"purposes": [REVIEW]})
    certificate = api.call("free", "DELETE", f"/api/clips/{clip}").json()
    kinds = {artefact["kind"] for artefact in certificate["artefacts"]}
    assert {"clip_media", "clip_row", "review_task", "screen_result", "audit_entry"} <= kinds
    assert _queued(store) == [(clip, "removed")]
    assert api.call("free", "GET", f"/api/clips/{clip}/media").status_code == 403
    assert fleet.sha256(clip) not in fleet.files_in_blob_dir(store.data_dir)


def test_a_troubleshooting_share_is_never_queued_for_annotation(api: Any, fleet: Any, store: Store) -> None:
    clip = fleet.clip_ids["hh-free"][0]
    shared = api.call("free", "POST", f"/api/clips/{clip}/shares", json={"purposes": ["troubleshooting"]})
    assert shared.status_code == 201, shared.text
    assert "held" not in shared.json()
    assert _queued(store) == []


def test_bad_share_requests_change_nothing_and_are_logged(api: Any, fleet: Any, store: Store) -> None:
    clip = fleet.clip_ids["hh-free"][0]
    bad_bodies: list[dict[str, Any]] = [
        {"purposes": ["selling_to_advertisers"]},
        {"purposes": [REVIEW], "notice_version": 7},
        {"purposes": []},
        {"purposes": [REVIEW], "surprise": True},
        {"purposes": ["tester_program"]},
    ]
    for body in bad_bodies:
        before = _audit_size(store)
        answer = api.call("free", "POST", f"/api/clips/{clip}/shares", json=body)
        assert 400 <= answer.status_code < 500, (body, answer.text)
        assert "detail" in answer.json()
        assert _queued(store) == []
        assert _audit_size(store) > before, f"{body} was not logged"
    assert api.call("free", "GET", "/api/consents").json() == []


def test_access_log_shows_the_operator_export_but_not_the_owner(
    api: Any, kept_fleet: Any, cli: Any, tmp_path: Any
) -> None:
    clip = kept_fleet.clip_ids["hh-free"][0]
    api.call("free", "GET", f"/api/clips/{clip}/media")
    assert api.call("free", "GET", f"/api/clips/{clip}/access-log").json() == []
    assert cli("clips", "export", clip, str(tmp_path / "copy.mp4")).code == 0
    log = api.call("free", "GET", f"/api/clips/{clip}/access-log").json()
    assert [(entry["viewer"], entry["action"], entry["allowed"]) for entry in log] == [
        ("operator (command line)", "export", True)
    ]


def _foreign_requests(fleet: Any, consent_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    requests: list[tuple[str, str, dict[str, Any] | None]] = []
    for clip in fleet.clip_ids["hh-plus"]:
        requests += [
            ("GET", f"/api/clips/{clip}", None),
            ("GET", f"/api/clips/{clip}/media", None),
            ("GET", f"/api/clips/{clip}/access-log", None),
            ("GET", f"/api/clips/{clip}/models", None),
            ("POST", f"/api/clips/{clip}/shares", {"purposes": [REVIEW]}),
            ("POST", f"/api/clips/{clip}/confirm-sensitive", None),
            ("DELETE", f"/api/clips/{clip}", None),
        ]
    requests += [
        ("POST", f"/api/consents/{consent_id}/withdraw", None),
        ("GET", f"/api/consents/{consent_id}/receipt", None),
    ]
    return requests


def test_idor_no_owner_reaches_another_households_clips_or_consents(api: Any, fleet: Any, store: Store) -> None:
    victim_clip = fleet.clip_ids["hh-plus"][1]
    consent = api.call("plus", "POST", f"/api/clips/{victim_clip}/shares", json={"purposes": [REVIEW]}).json()
    queued_before = _queued(store)
    with store.connect() as conn:
        events_before = conn.execute(select(func.count()).select_from(consent_events)).scalar_one()
    for method, path, body in _foreign_requests(fleet, consent["consent_id"]):
        before = _audit_size(store)
        answer = api.call("free", method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
        assert _audit_size(store) > before, f"{method} {path} was not logged"
    assert {clip["id"] for clip in api.call("free", "GET", "/api/clips").json()}.isdisjoint(fleet.clip_ids["hh-plus"])
    assert api.call("free", "GET", "/api/consents").json() == []
    assert _queued(store) == queued_before
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(consent_events)).scalar_one() == events_before
    assert len(api.call("plus", "GET", "/api/clips").json()) == 3


def test_an_owner_sees_only_their_own_erasure_requests_and_can_erase_the_household(
    api: Any, fleet: Any, store: Store
) -> None:
    certificate = api.call("free", "DELETE", f"/api/clips/{fleet.clip_ids['hh-free'][0]}").json()
    api.call("plus", "DELETE", f"/api/clips/{fleet.clip_ids['hh-plus'][0]}")
    [mine] = api.call("free", "GET", "/api/erasure-requests").json()
    assert (mine["id"], mine["certificate_id"], mine["status"]) == (
        certificate["request"]["id"],
        certificate["certificate_id"],
        "closed",
    )
    assert mine["deadline"] == "2025-02-01T08:30:00Z"  # the clock stands at 2025-01-01T08:30:00Z
    erased = api.call("free", "POST", "/api/household/erase")
    assert erased.status_code == 200, erased.text
    assert erased.json()["subject"] == {"type": "household", "id": "hh-free"}
    assert "owner_account" in {artefact["kind"] for artefact in erased.json()["artefacts"]}
    assert api.call("free", "GET", "/api/clips").status_code == 401  # the account went with the household
    assert [r["subject"]["type"] for r in api.call("plus", "GET", "/api/erasure-requests").json()] == ["clip"]
    assert api.call("auditor", "GET", "/api/erasure-requests").status_code == 403


def test_past_its_retention_a_clip_is_listed_and_deletable_but_never_played_or_shared(api: Any, fleet: Any) -> None:
    clip = fleet.clip_ids["hh-free"][0]  # the free plan keeps clips 24 hours
    expires_at = api.call("free", "GET", f"/api/clips/{clip}").json()["expires_at"]
    api.clock.now = datetime.fromisoformat(expires_at)  # the retention sweep has not run
    for method, path, body in (("GET", "media", None), ("POST", "shares", {"purposes": [REVIEW]})):
        refused = api.call("free", method, f"/api/clips/{clip}/{path}", json=body)
        assert refused.status_code == 403, refused.text
        assert f"clip expired at {expires_at}" in refused.json()["detail"]
    assert api.call("free", "GET", f"/api/clips/{clip}").status_code == 200
    assert api.call("free", "DELETE", f"/api/clips/{clip}").status_code == 200

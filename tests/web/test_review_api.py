"""The reviewer API end to end over HTTP: leases, k answers from different reviewers, signed media URLs bound
to the session, the daily cap, "private content: stop", withdrawal mid-view, tracing a leaked rendition, and
every bad input CONTRACT names answered 4xx, logged, with nothing changed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from media.scenes import crossing, frames
from pages_support import Clock
from sqlalchemy import func, select, update

from clipwarden.domain import AiVerdict, Camera, Household, RecordedClip
from clipwarden.media.codec import EncodeSettings, decode_frames, encode_mp4
from clipwarden.media.rendition import trace as read_watermark
from clipwarden.policy import gate
from clipwarden.policy.decision import Actor
from clipwarden.review import renditions
from clipwarden.review.leases import ReviewSettings
from clipwarden.services import ingest_clip, owner, register_camera, register_household
from clipwarden.services.clip_history import clip_history
from clipwarden.services.intake import queue_if_enrolled
from clipwarden.services.users import add_user
from clipwarden.signing import secret, verify_jws
from clipwarden.store import Store, open_store
from clipwarden.store.schema import (
    audit_entries,
    clips,
    notifications,
    review_annotations,
    review_leases,
    review_tasks,
    users,
    view_sessions,
)
from clipwarden.web.app import create_app

REVIEW = "human_review_for_model_improvement"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
WIDTH, HEIGHT, FPS, SECONDS = 320, 180, 10, 3


def _clip_frames(seed: int) -> list[np.ndarray]:
    """A textured room with a figure crossing it."""
    return list(frames(WIDTH, HEIGHT, FPS * SECONDS, [crossing(FPS * SECONDS)], seed=seed))


@dataclass
class Floor:
    """A household with three shared clips, its owner, and four reviewers at one site."""

    client: TestClient
    clock: Clock
    store: Store
    tokens: dict[str, str] = field(default_factory=dict)
    clip_ids: list[str] = field(default_factory=list)

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def next(self, who: str, holding: list[str] | None = None) -> Any:
        return self.call(who, "POST", "/api/review/next", json={"holding": holding or []})

    def count(self, table: Any, *where: Any) -> int:
        with self.store.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


@pytest.fixture
def floor(store: Store) -> Iterator[Floor]:
    register_household(store, Household("hh-rev", "US", "plus", "Cy Example", "3 Sample Ave"))
    register_camera(store, Camera("cam-rev", "hh-rev", "hall", "entrance", WIDTH, HEIGHT, FPS))
    clip_ids = []
    for n in range(3):
        data = encode_mp4(_clip_frames(n), WIDTH, HEIGHT, FPS)
        recorded = RecordedClip(
            "cam-rev", T0 + timedelta(minutes=10 * n), float(SECONDS), WIDTH, HEIGHT, FPS, "h264", data
        )
        clip_ids.append(ingest_clip(store, recorded, AiVerdict("visitor", False, 0.6)))
    clock = Clock(T0 + timedelta(hours=1))
    settings = ReviewSettings(daily_cap=150)
    app = create_app(store, clock=clock)
    app.state.review_settings = settings
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        made = Floor(client, clock, store, clip_ids=clip_ids)
        made.tokens["owner"] = add_user(store, "owner", "hh-rev", None, clock.now)["token"]
        for name in ("ana", "bo", "cy", "di"):
            made.tokens[name] = add_user(store, "reviewer", None, "us-sea", clock.now)["token"]
        for clip_id in clip_ids:
            shared = made.call("owner", "POST", f"/api/clips/{clip_id}/shares", json={"purposes": [REVIEW]})
            assert shared.status_code == 201, shared.text
            assert not shared.json().get("held"), shared.json()
        yield made


def _clip_of(floor: Floor, work: dict[str, Any]) -> str:
    """The clip behind a task token: the test may know it; the reviewer never does."""
    with floor.store.connect() as conn:
        lease = review_leases.c
        return str(conn.execute(select(lease.clip_id).where(lease.id == work["task_token"])).scalar_one())


def _media(floor: Floor, who: str, work: dict[str, Any], **headers: str) -> Any:
    return floor.client.get(work["media_url"], headers={"Authorization": f"Bearer {floor.tokens[who]}", **headers})


def test_a_reviewer_gets_a_token_a_rendition_and_submits(floor: Floor) -> None:
    answer = floor.next("ana")
    assert answer.status_code == 200, answer.text
    work = answer.json()
    assert set(work) >= {"task_token", "media_url", "expires_at", "schema"}
    assert not any(clip_id in str(work) for clip_id in floor.clip_ids) and "hh-rev" not in str(work)
    media = _media(floor, "ana", work)
    assert media.status_code == 200 and media.headers["content-type"] == "video/mp4"
    assert media.headers["cache-control"] == "no-store"
    assert b"hh-rev" not in media.content and b"Lavf" not in media.content
    part = _media(floor, "ana", work, Range="bytes=0-99")
    assert part.status_code == 206 and len(part.content) == 100 and part.content == media.content[:100]
    submitted = floor.call("ana", "POST", f"/api/review/tasks/{work['task_token']}/annotations", json={
        "label": "visitor", "ai_correct": True, "segments": [{"start_s": 0.5, "end_s": 2.0, "label": "visitor"}],
        "boxes": [{"t_s": 1.0, "x": 0.1, "y": 0.3, "w": 0.2, "h": 0.5}],
    })  # fmt: skip
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["task_done"] is False  # k = 2 answers are wanted
    assert _media(floor, "ana", work).status_code == 403  # the lease ended with the answer


def test_each_clip_gets_k_answers_from_different_reviewers(floor: Floor) -> None:
    seen: dict[str, list[str]] = {}
    for who in ("ana", "bo", "cy", "ana", "bo", "cy"):
        work = floor.next(who).json()
        token = work["task_token"]
        seen.setdefault(_clip_of(floor, work), []).append(who)
        done = floor.call(who, "POST", f"/api/review/tasks/{token}/annotations", json={"label": "visitor"})
        assert done.status_code == 201, done.text
    assert sorted(len(set(reviewers)) for reviewers in seen.values()) == [2, 2, 2]
    assert floor.count(review_tasks, review_tasks.c.status == "done") == 3
    assert floor.next("di").status_code == 204  # every task has its answers


def test_next_hands_back_the_lease_held_and_prepares_one_more(floor: Floor) -> None:
    first = floor.next("ana").json()
    assert floor.next("ana").json()["task_token"] == first["task_token"]
    second = floor.next("ana", holding=[first["task_token"]]).json()
    assert second["task_token"] != first["task_token"]
    assert floor.next("ana", holding=[first["task_token"], second["task_token"]]).status_code == 204  # two at once


def test_an_expired_lease_returns_its_task_to_the_queue(floor: Floor) -> None:
    work = floor.next("ana").json()
    floor.clock.advance(minutes=11)
    late = floor.call("ana", "POST", f"/api/review/tasks/{work['task_token']}/annotations", json={"label": "pet"})
    assert late.status_code == 409 and "ended" in late.json()["detail"]
    assert floor.count(review_annotations) == 0
    assert _media(floor, "ana", work).status_code == 403
    assert floor.next("bo").status_code == 200 and floor.next("cy").status_code == 200


def test_a_refusal_names_the_task_never_the_clip(floor: Floor) -> None:
    floor.client.app.state.review_settings = ReviewSettings(daily_cap=1)  # type: ignore[attr-defined]
    first = floor.next("ana").json()
    floor.client.app.state.review_settings = ReviewSettings(daily_cap=2)  # type: ignore[attr-defined]
    second = floor.next("ana", holding=[first["task_token"]]).json()
    floor.client.app.state.review_settings = ReviewSettings(daily_cap=1)  # type: ignore[attr-defined]
    refused = _media(floor, "ana", second)  # the cap, as configured, counts on every fetch
    assert refused.status_code == 403 and "daily cap of 1" in refused.json()["detail"]
    assert not any(clip_id in refused.text for clip_id in floor.clip_ids)


def test_the_daily_cap_stops_offers(floor: Floor) -> None:
    floor.client.app.state.review_settings = ReviewSettings(daily_cap=1)  # type: ignore[attr-defined]
    work = floor.next("ana").json()
    floor.call("ana", "POST", f"/api/review/tasks/{work['task_token']}/annotations", json={"label": "visitor"})
    assert floor.next("ana").status_code == 204
    floor.clock.advance(days=1)
    assert floor.next("ana").status_code == 200


def test_the_rendition_answers_head_and_range_errors_in_json(floor: Floor) -> None:
    work = floor.next("ana").json()
    whole = _media(floor, "ana", work)
    head = floor.call("ana", "HEAD", work["media_url"])
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(whole.content)) and head.headers["content-type"] == "video/mp4"
    for malformed in ["bytes=abc", "pages=0-1", "bytes=5-2", "bytes=0-1,4-5"]:  # ignored: the whole file
        answer = _media(floor, "ana", work, Range=malformed)
        assert (answer.status_code, answer.content) == (200, whole.content), malformed
    before = floor.count(audit_entries)
    past = _media(floor, "ana", work, Range=f"bytes={len(whole.content)}-")
    assert (past.status_code, past.headers["content-range"]) == (416, f"bytes */{len(whole.content)}")
    assert "past the end" in past.json()["detail"]
    assert floor.count(audit_entries) > before, "the refusal was not logged"
    bad_body = floor.client.post(
        f"/api/review/tasks/{work['task_token']}/annotations",
        content=b"{",
        headers={"content-type": "application/json"},
    )
    assert (bad_body.status_code, bad_body.json()["detail"]) == (401, "bearer token required")


def test_media_urls_are_bound_to_the_session_and_expire(floor: Floor) -> None:
    work = floor.next("ana").json()
    assert _media(floor, "bo", work).status_code == 403  # another reviewer's session
    url = urlsplit(work["media_url"])
    query = parse_qs(url.query)
    tampered = f"{url.path}?expires={int(query['expires'][0]) + 600}&signature={query['signature'][0]}"
    headers = {"Authorization": f"Bearer {floor.tokens['ana']}"}
    assert floor.client.get(tampered, headers=headers).status_code == 403
    floor.clock.advance(minutes=5, seconds=1)
    expired = _media(floor, "ana", work)
    assert expired.status_code == 403 and "expired" in expired.json()["detail"]


@pytest.mark.parametrize("signature", ["%C3%A9", "%FF", "%E2%82%AC" * 21])
def test_a_signature_outside_ascii_is_refused_and_logged(floor: Floor, signature: str) -> None:
    work = floor.next("ana").json()
    before = floor.count(audit_entries)
    url = f"{urlsplit(work['media_url']).path}?expires=1&signature={signature}"
    answer = floor.call("ana", "GET", url)
    assert answer.status_code == 403 and "not valid" in answer.json()["detail"]
    assert floor.count(audit_entries) > before, "the refusal was not logged"


def test_bad_annotations_are_refused_logged_and_change_nothing(floor: Floor) -> None:
    work = floor.next("ana").json()
    token = work["task_token"]
    bad: list[tuple[str, str, dict[str, Any], int]] = [
        ("ana", token, {"label": "burglar"}, 422),
        ("ana", token, {"label": "pet", "surprise": 1}, 422),
        ("ana", token, {"label": "pet", "segments": [{"start_s": 2, "end_s": 1, "label": "pet"}]}, 422),
        ("ana", token, {"label": "pet", "segments": [{"start_s": 1, "end_s": 1, "label": "pet"}]}, 422),
        ("ana", token, {"label": "pet", "boxes": [{"t_s": 0, "x": 0.9, "y": 0, "w": 0.5, "h": 0.1}]}, 422),
        ("bo", token, {"label": "pet"}, 404),  # not leased to bo
        ("ana", "tt_made_up", {"label": "pet"}, 404),
    ]
    for who, task, body, status in bad:
        before = floor.count(audit_entries)
        answer = floor.call(who, "POST", f"/api/review/tasks/{task}/annotations", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert "detail" in answer.json()
        assert floor.count(audit_entries) > before, f"{body} was not logged"
    before = floor.count(audit_entries)
    huge = floor.call("ana", "POST", f"/api/review/tasks/{token}/annotations", content=b"{" + b" " * 2_000_000 + b"}",
                      headers={"content-type": "application/json"})  # fmt: skip
    assert huge.status_code == 413
    assert floor.count(audit_entries) > before, "the oversized body was not logged"
    assert floor.count(review_annotations) == 0
    assert floor.count(review_leases, review_leases.c.status == "active") == 1
    assert floor.call("owner", "POST", "/api/review/next").status_code == 403


def test_private_content_stop_quarantines_and_tells_the_owner(floor: Floor) -> None:
    ana = floor.next("ana").json()
    bo = floor.next("bo").json()  # the same oldest clip, for its second answer
    stopped = floor.call("ana", "POST", f"/api/review/tasks/{ana['task_token']}/flag-private")
    assert stopped.status_code == 200, stopped.text
    assert _media(floor, "ana", ana).status_code == 403
    assert _media(floor, "bo", bo).status_code == 403  # every other view of the clip ends too
    assert floor.count(review_tasks, review_tasks.c.status == "queued") == 2
    assert floor.count(notifications) == 1
    log = floor.call("owner", "GET", f"/api/clips/{_clip_of(floor, ana)}/access-log").json()
    viewers = {entry["viewer"] for entry in log if entry["allowed"] and entry["action"] == "view_media"}
    assert len(viewers) == 2 and all(viewer.startswith("reviewer") for viewer in viewers)
    again = floor.call("ana", "POST", f"/api/review/tasks/{ana['task_token']}/flag-private")
    assert again.status_code == 409
    certificate = floor.call("owner", "DELETE", f"/api/clips/{_clip_of(floor, ana)}").json()
    assert "owner_notification" in {artefact["kind"] for artefact in certificate["artefacts"]}
    assert floor.count(notifications) == 0


def test_the_owners_history_has_a_row_per_viewing_session_answer_and_stop_in_words(floor: Floor) -> None:
    ana = floor.next("ana").json()
    assert _media(floor, "ana", ana).status_code == 200
    answered = {"label": "visitor", "ai_correct": True, "segments": [], "boxes": []}
    assert floor.call("ana", "POST", f"/api/review/tasks/{ana['task_token']}/annotations", json=answered).is_success
    bo = floor.next("bo").json()
    assert _clip_of(floor, bo) == _clip_of(floor, ana)  # the same clip, for its second answer
    assert _media(floor, "bo", bo).status_code == 200
    assert floor.call("bo", "POST", f"/api/review/tasks/{bo['task_token']}/flag-private").is_success
    clip_id = _clip_of(floor, ana)
    with floor.store.connect() as conn:
        owner_id = conn.execute(select(users.c.id).where(users.c.role == "owner")).scalar_one()
    who = Actor(owner_id, "owner", household_id="hh-rev")
    history = clip_history(floor.store, who, clip_id, floor.clock.now)
    kinds = [row["kind"] for row in history]
    assert kinds.count("viewed") == 2 and kinds.count("answered") == 1 and kinds.count("stopped") == 1
    assert kinds.index("viewed") < kinds.index("answered")
    seattle = "Seattle, United States (our own staff)"
    for row in history:
        assert row["where"] == seattle and row["who"].startswith("reviewer")
        assert not any(raw in str(row) for raw in ("view_media", REVIEW, "clip_", "user_"))
    viewed = [row for row in history if row["kind"] == "viewed"]
    assert {row["what"] for row in viewed} == {"watched it, people pixelated"}
    assert all(row["consent"].startswith("your share of this clip, given ") and row["until"] for row in viewed)
    [answer] = [row for row in history if row["kind"] == "answered"]
    assert answer["what"] == "said what it shows: visitor"
    [stop] = [row for row in history if row["kind"] == "stopped"]
    assert "flagged it as private" in stop["what"]


def test_withdrawal_stops_the_clip_being_served_mid_view(floor: Floor) -> None:
    work = floor.next("ana").json()
    assert _media(floor, "ana", work).status_code == 200
    consents = floor.call("owner", "GET", "/api/consents").json()
    floor.clock.advance(seconds=30)
    clip_id = _clip_of(floor, work)
    consent = next(c["id"] for c in consents if c["clip_id"] == clip_id)
    assert floor.call("owner", "POST", f"/api/consents/{consent}/withdraw").status_code == 200
    assert _media(floor, "ana", work).status_code == 403
    late = floor.call("ana", "POST", f"/api/review/tasks/{work['task_token']}/annotations", json={"label": "pet"})
    assert late.status_code == 409


def test_trace_names_the_session_of_a_leaked_rendition(floor: Floor, cli: Any, tmp_path: Path) -> None:
    work = floor.next("ana").json()
    leaked = _media(floor, "ana", work).content
    found = read_watermark(leaked, secret(floor.store.data_dir, "watermark"))
    assert found.payload is not None
    (tmp_path / "leak.mp4").write_bytes(leaked)
    traced = cli("trace", str(tmp_path / "leak.mp4"))
    assert traced.code == 0, traced.err
    document = traced.json()
    session_id = urlsplit(work["media_url"]).path.rsplit("/", 1)[1]
    assert (document["session"], document["task"]) == (session_id, work["task_token"])
    assert document["reviewer"].startswith("reviewer")
    (tmp_path / "not-a-leak.mp4").write_bytes(encode_mp4(_clip_frames(9), WIDTH, HEIGHT, FPS))
    unmarked = cli("trace", str(tmp_path / "not-a-leak.mp4"))
    assert unmarked.code == 1 and "no watermark" in unmarked.err
    assert hashlib.sha256(leaked).hexdigest() not in str(document)


def test_deleting_a_clip_under_review_ends_the_view_and_certifies_the_rendition(floor: Floor) -> None:
    work = floor.next("ana").json()
    floor.call("ana", "POST", f"/api/review/tasks/{work['task_token']}/annotations", json={"label": "visitor"})
    viewing = floor.next("bo").json()
    clip_id = _clip_of(floor, viewing)
    assert clip_id == _clip_of(floor, work)
    certificate = floor.call("owner", "DELETE", f"/api/clips/{clip_id}").json()
    kinds = [artefact["kind"] for artefact in certificate["artefacts"]]
    assert {"annotation", "review_lease_ended", "rendition", "review_task"} <= set(kinds), kinds
    assert certificate["verified"] is True
    assert _media(floor, "bo", viewing).status_code == 403
    assert floor.count(review_annotations) == 0
    assert [path for path in (floor.store.data_dir / "renditions").rglob("*") if path.is_file()] == []


def test_consolidation_settles_agreement_and_sends_disagreement_to_adjudication(floor: Floor, cli: Any) -> None:
    answers = {"ana": "visitor", "bo": "visitor", "cy": "visitor"}
    first_clip = None
    for who in ("ana", "bo", "cy", "ana", "bo", "cy"):
        work = floor.next(who).json()
        clip_id = _clip_of(floor, work)
        first_clip = first_clip or clip_id
        label = "pet" if (who == "bo" and clip_id == first_clip) else answers[who]
        floor.call(who, "POST", f"/api/review/tasks/{work['task_token']}/annotations", json={"label": label})
    summary = cli("review", "consolidate").json()
    assert summary["clips_consolidated"] == 3
    assert summary["needing_review"] >= 1 and summary["adjudications_queued"] == summary["needing_review"]
    disputed = cli("review", "gold", first_clip)
    assert disputed.code == 1 and "not settled enough" in disputed.err
    adjudicator = floor.next("di").json()
    assert _clip_of(floor, adjudicator) == first_clip  # the one clip the answers did not settle
    floor.call("di", "POST", f"/api/review/tasks/{adjudicator['task_token']}/annotations", json={"label": "visitor"})
    again = cli("review", "consolidate").json()
    assert again["adjudications_queued"] == 0  # one adjudication per clip
    # Agreement is the first answers': 2 of 3 clips agreed. Counting the adjudicator's would have left only
    # the two that agreed among the clips with two answers, and kappa 1.0.
    assert again["fleiss_kappa"] == summary["fleiss_kappa"] < 0.5
    settled = next(clip for clip in floor.clip_ids if clip != first_clip)
    gold = cli("review", "gold", settled, "--min-confidence", "0.5")
    assert gold.code == 0, gold.err
    assert gold.json()["gold_label"] == "visitor"
    assert again["needing_review"] == 0  # the third answer settled it
    assert cli("review", "gold", "clip_unknown").code == 1
    floor.client.app.state.review_settings = ReviewSettings(gold_rate=1.0)  # type: ignore[attr-defined]
    checked = floor.next("di").json()  # di has not seen the gold clip; nothing on the task says it is gold
    assert _clip_of(floor, checked) == settled and "gold" not in str(checked)
    floor.call("di", "POST", f"/api/review/tasks/{checked['task_token']}/annotations", json={"label": "pet"})
    scores = cli("review", "consolidate").json()["gold_accuracy"]
    assert [(score["correct"], score["answered"]) for score in scores.values()] == [(0, 1)]


def _attacked(rendition: bytes, attack: str) -> bytes:
    """What a leaker might do to a copy before passing it on."""
    frames = list(decode_frames(rendition))
    if attack == "half size":
        frames = [cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
                  for frame in frames]  # fmt: skip
    elif attack == "10 s excerpt":
        middle = len(frames) // 2
        frames = frames[middle - 5 * FPS : middle + 5 * FPS]
    height, width = frames[0].shape[:2]
    return encode_mp4(frames, width, height, FPS, EncodeSettings(crf=30))


@pytest.mark.parametrize("attack", ["crf 30", "half size", "10 s excerpt"])
def test_trace_names_the_session_of_an_altered_copy(cli_raw: Any, tmp_path: Path, attack: str) -> None:
    with open_store(tmp_path / "data") as store:
        work, rendition = _served_rendition(store)
    (tmp_path / "leak.mp4").write_bytes(_attacked(rendition, attack))
    traced = cli_raw("--data", str(tmp_path / "data"), "--json", "trace", str(tmp_path / "leak.mp4"))
    assert traced.code == 0, traced.err
    assert traced.json()["task"] == work["task_token"]
    assert traced.json()["session"] == urlsplit(work["media_url"]).path.rsplit("/", 1)[1]


def _served_rendition(store: Store) -> tuple[dict[str, Any], bytes]:
    """A 24-s 640x360 clip shared for review, and the rendition a reviewer was served of it."""
    register_household(store, Household("hh-long", "US", "plus", "Di Example", "4 Sample Way"))
    register_camera(store, Camera("cam-long", "hh-long", "hall", "entrance", 640, 360, FPS))
    frames = [cv2.resize(frame, (640, 360)) for frame in _clip_frames(5) * 8]  # 24 s
    data = encode_mp4(frames, 640, 360, FPS)
    clip_id = ingest_clip(
        store, RecordedClip("cam-long", T0, 24.0, 640, 360, FPS, "h264", data), AiVerdict("visitor", False, 0.6)
    )
    clock = Clock(T0 + timedelta(hours=1))
    with TestClient(create_app(store, clock=clock), client=("127.0.0.1", 50000)) as client:
        owner_token = add_user(store, "owner", "hh-long", None, clock.now)["token"]
        reviewer_token = add_user(store, "reviewer", None, "us-sea", clock.now)["token"]
        shared = client.post(f"/api/clips/{clip_id}/shares", json={"purposes": [REVIEW]},
                             headers={"Authorization": f"Bearer {owner_token}"})  # fmt: skip
        assert shared.status_code == 201 and not shared.json().get("held")
        reviewer = {"Authorization": f"Bearer {reviewer_token}"}
        work = client.post("/api/review/next", headers=reviewer).json()
        rendition = client.get(work["media_url"], headers=reviewer).content
    return work, rendition


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--gold-rate", "2", "--gold-rate must be in [0, 1]"),
        ("--daily-cap", "0", "--daily-cap must be at least 1"),
        ("--task-minutes", "-5", "--task-minutes must be between 0 and 1440"),
    ],
)
def test_serve_refuses_bad_review_settings_in_one_line(
    cli_raw: Any, tmp_path: Path, option: str, value: str, message: str
) -> None:
    refused = cli_raw("--data", str(tmp_path / "data"), "serve", option, value)
    assert refused.code == 1 and refused.out == ""
    assert refused.err.startswith(f"error: {message}") and refused.err.count("\n") == 1


def test_a_clip_past_its_retention_is_neither_offered_nor_served(floor: Floor) -> None:
    ends = floor.clock.now + timedelta(minutes=2)
    with floor.store.begin() as conn:  # a short plan: each clip's retention ends in two minutes
        conn.execute(update(clips).where(clips.c.id.in_(floor.clip_ids)).values(expires_at=ends))
    work = floor.next("ana").json()
    floor.clock.now = ends  # the retention ends while the lease runs; the sweep has not run
    refused = _media(floor, "ana", work)
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"].startswith("denied for this task: clip expired at")
    assert floor.next("bo").status_code == 204


def _rendition_of(floor: Floor, work: dict[str, Any]) -> Path | None:
    """The file of the viewing session behind a work item, or None once its rendition is forgotten."""
    with floor.store.connect() as conn:
        sha256 = conn.execute(
            select(view_sessions.c.rendition_sha256).where(view_sessions.c.lease_id == work["task_token"])
        ).scalar_one()
    return None if sha256 is None else renditions.rendition_store(floor.store).path(sha256)


def test_withdrawal_deletes_the_rendition_in_the_same_step(floor: Floor) -> None:
    work = floor.next("ana").json()
    assert _media(floor, "ana", work).status_code == 200
    rendition = _rendition_of(floor, work)
    assert rendition is not None and rendition.exists()
    clip_id = _clip_of(floor, work)
    consent = next(c["id"] for c in floor.call("owner", "GET", "/api/consents").json() if c["clip_id"] == clip_id)
    floor.clock.advance(seconds=30)
    assert floor.call("owner", "POST", f"/api/consents/{consent}/withdraw").status_code == 200
    assert _rendition_of(floor, work) is None and not rendition.exists()  # nobody asked for work since


def test_withdrawing_a_clips_share_excludes_it_from_the_tester_program_until_shared_again(floor: Floor) -> None:
    household_owner = Actor("owner-hh-rev", "owner", household_id="hh-rev")
    owner.enroll_tester(floor.store, household_owner, floor.clock.now)
    assert [queue_if_enrolled(floor.store, clip_id, floor.clock.now) for clip_id in floor.clip_ids] == ["queued"] * 3
    work = floor.next("ana").json()
    clip_id = _clip_of(floor, work)
    consent = next(c["id"] for c in floor.call("owner", "GET", "/api/consents").json() if c["clip_id"] == clip_id)
    floor.clock.advance(seconds=30)
    assert floor.call("owner", "POST", f"/api/consents/{consent}/withdraw").status_code == 200

    assert _media(floor, "ana", work).status_code == 403
    assert floor.count(review_tasks, review_tasks.c.clip_id == clip_id, review_tasks.c.status == "queued") == 0
    offered = [floor.next(who) for who in ("bo", "cy", "di")]
    assert clip_id not in {_clip_of(floor, answer.json()) for answer in offered if answer.status_code == 200}
    assert queue_if_enrolled(floor.store, clip_id, floor.clock.now) == "not enrolled"
    reviewer = Actor("reviewer-x", "reviewer", site="us-sea")
    asked = gate.Ask(reviewer, "view_media", clip_id, REVIEW, floor.clock.now, gate.Circumstances(lease_active=True))
    decision = gate.check(floor.store, asked)
    assert not decision.allow and "the owner withdrew their share of this clip" in decision.reason
    receipt = floor.call("owner", "GET", f"/api/consents/{consent}/receipt").text
    _, payload = verify_jws(receipt, floor.client.get("/.well-known/jwks.json").json())
    assert "the tester program included, until the owner shares it again" in json.loads(payload)["withdrawal"]["effect"]

    floor.clock.advance(minutes=1)
    shared = floor.call("owner", "POST", f"/api/clips/{clip_id}/shares", json={"purposes": [REVIEW]})
    assert shared.status_code == 201, shared.text
    assert queue_if_enrolled(floor.store, clip_id, floor.clock.now) == "queued"
    assert gate.check(floor.store, replace(asked, at=floor.clock.now)).allow


def test_a_clip_is_queued_once_and_stays_queued_while_any_consent_covers_it(floor: Floor) -> None:
    owner.enroll_tester(floor.store, Actor("owner-hh-rev", "owner", household_id="hh-rev"), floor.clock.now)
    data = encode_mp4(_clip_frames(3), WIDTH, HEIGHT, FPS)
    recorded = RecordedClip("cam-rev", T0 + timedelta(minutes=40), float(SECONDS), WIDTH, HEIGHT, FPS, "h264", data)
    clip_id = ingest_clip(floor.store, recorded, AiVerdict("visitor", False, 0.6))
    assert queue_if_enrolled(floor.store, clip_id, floor.clock.now) == "queued"
    floor.clock.advance(minutes=5)
    # The owner also shares the tester clip: one task, one pair of eyes per answer, not two tasks.
    shared = floor.call("owner", "POST", f"/api/clips/{clip_id}/shares", json={"purposes": [REVIEW]})
    assert shared.status_code == 201, shared.text
    assert floor.count(review_tasks, review_tasks.c.clip_id == clip_id) == 1
    # The household leaves the tester program: the clip stays queued, under the share that still covers it.
    tester = next(c["id"] for c in floor.call("owner", "GET", "/api/consents").json() if c["clip_id"] is None)
    floor.clock.advance(minutes=5)
    assert floor.call("owner", "POST", f"/api/consents/{tester}/withdraw").status_code == 200
    with floor.store.connect() as conn:
        task = conn.execute(select(review_tasks).where(review_tasks.c.clip_id == clip_id)).one()
    assert (task.status, task.consent_id) == ("queued", shared.json()["consent_id"])
    assert floor.count(audit_entries, audit_entries.c.kind == "review_task_moved") == 1
    assert floor.count(review_tasks, review_tasks.c.status == "queued") == 4  # the three shared clips' tasks stay

"""The reviewer workstation in a real browser: a reviewer labels clips by keyboard while they play and the
prepared next clip takes over at once; a share withdrawn on the owner's pages leaves the reviewer's queue
(its media URL answers 403, next() no longer offers it, a late answer is refused); "Private content: stop"
ends the view in the page before any request, quarantines the clip, ends every lease on it and tells its
owner. Nothing the reviewer's browser receives names the owner, the household, the camera or the clip.

Each test has a store and a server of its own (the queue is global, so tests sharing one would see each
other's tasks): one household, one camera, six 320x180 clips of 6 s, an owner and two reviewers. Two tests
need no browser and run without Chromium: the service behind the owner pages' messages, and who gets the
workstation page, with which headers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from argon2 import PasswordHasher
from axe_support import serious_violations
from media.scenes import crossing, frames
from screenshots import keep
from sqlalchemy import select

from clipwarden.consent.notices import notices_in_force
from clipwarden.domain import AiVerdict, Camera, Household, RecordedClip
from clipwarden.media.codec import encode_mp4
from clipwarden.policy.decision import Actor
from clipwarden.policy.gate import Denied
from clipwarden.services import ingest_clip, notices_to_owners, owner, register_camera, register_household, users
from clipwarden.store import Store, open_store
from clipwarden.store.schema import clip_controls, notifications, review_annotations, review_leases, review_tasks
from clipwarden.web.app import create_app
from clipwarden.web.auth import WebSettings
from clipwarden.web.pages import REVIEW_CONTENT_SECURITY_POLICY

REVIEW = "human_review_for_model_improvement"
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)  # the server's clock stands still here
PASSWORD = "correct horse battery staple"
WIDTH, HEIGHT, FPS, SECONDS, CLIPS = 320, 180, 10, 6, 6
HOUSEHOLD = Household("hh-ws-7f3a", "US", "plus", "Dora Quillfeather", "17 Larkspur Lane, Springfield")
CAMERA = Camera("cam-ws-7f3a", HOUSEHOLD.id, "Porch by the lilacs", "entrance", WIDTH, HEIGHT, FPS)

# The clip in view, and the prepared one: the page marks its two <video> elements with their roles.
CURRENT = "document.querySelector('video[data-role=current]')"
PREPARED = "document.querySelector('video[data-role=prepared]')"
PLAYING = f"() => {{ const v = {CURRENT}; return !!v && !v.hidden && !v.paused && v.readyState >= 2; }}"


def _frames(seed: int) -> list[np.ndarray]:
    """A textured room with a figure crossing it (the screen does not hold such a clip)."""
    return list(frames(WIDTH, HEIGHT, FPS * SECONDS, [crossing(FPS * SECONDS)], seed=seed))


@dataclass
class Floor:
    url: str
    store: Store
    clip_ids: list[str]
    accounts: dict[str, str] = field(default_factory=dict)  # name -> user id
    tokens: dict[str, str] = field(default_factory=dict)  # name -> API token

    def owner(self) -> Actor:
        found = users.authenticate(self.store, self.accounts["owner"], PASSWORD, datetime.now(UTC))
        assert found is not None
        return found

    def share(self, index: int) -> None:
        """The owner shares one clip for human review, as the API would; earlier clips queue first."""
        at = NOW - timedelta(minutes=CLIPS - index)
        shared = owner.share_clip(self.store, self.owner(), self.clip_ids[index], [REVIEW], None, False, None, at)
        assert not shared.get("held"), shared

    def clip_of(self, task_token: str) -> str:
        """The clip behind a task token: the test may know it; the reviewer never does."""
        with self.store.connect() as conn:
            query = select(review_leases.c.clip_id).where(review_leases.c.id == task_token)
            return str(conn.execute(query).scalar_one())

    def rows(self, query: Any) -> list[Any]:
        with self.store.connect() as conn:
            return list(conn.execute(query).all())

    def api_next(self, name: str) -> httpx.Response:
        """A reviewer's script asking for work with a bearer token, as bots do."""
        headers = {"Authorization": f"Bearer {self.tokens[name]}"}
        return httpx.post(f"{self.url}/api/review/next", json={"holding": []}, headers=headers)


@pytest.fixture
def floor(tmp_path: Path, serve_app: Callable[[Any], str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Floor]:
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    with open_store(tmp_path / "data") as store:
        register_household(store, HOUSEHOLD)
        register_camera(store, CAMERA)
        clip_ids = []
        for n in range(CLIPS):
            recorded = RecordedClip(
                CAMERA.id, NOW - timedelta(hours=2, minutes=-5 * n), float(SECONDS), WIDTH, HEIGHT, FPS, "h264",
                encode_mp4(_frames(n), WIDTH, HEIGHT, FPS),
            )  # fmt: skip
            clip_ids.append(ingest_clip(store, recorded, AiVerdict("visitor", False, 0.6)))
        url = serve_app(create_app(store, clock=lambda: NOW, settings=WebSettings()))
        made = Floor(url, store, clip_ids)
        for name, role, household, site in [("owner", "owner", HOUSEHOLD.id, None), ("ana", "reviewer", None, "us-sea"),
                                            ("bo", "reviewer", None, "us-sea")]:  # fmt: skip
            account = users.add_user(store, role, household, site, NOW - timedelta(days=1), password=PASSWORD)
            made.accounts[name], made.tokens[name] = account["user_id"], account["token"]
        yield made


@pytest.fixture
def open_page(browser: Any, floor: Floor) -> Iterator[Callable[[], Any]]:
    """Pages in fresh browser contexts (no shared cookies: one per person)."""
    contexts: list[Any] = []

    def opened() -> Any:
        context = browser.new_context(base_url=floor.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield opened
    for context in contexts:
        context.close()


def test_the_workstation_has_no_serious_accessibility_violation(
    floor: Floor, browser: Any, axe_script: str, tmp_path: Path
) -> None:
    floor.share(0)
    # Its own context: bypassing the page's CSP lets axe-core in, and no other test here runs under it.
    context = browser.new_context(base_url=floor.url, bypass_csp=True)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        _sign_in(page, floor, "ana")
        page.wait_for_url("**/review")
        _watching(page)  # a clip in view, the answer keys live
        assert serious_violations(page, axe_script) == []
        keep(page, "reviewer-workstation", tmp_path)
    finally:
        context.close()


def _sign_in(page: Any, floor: Floor, name: str) -> None:
    page.goto("/sign-in")
    page.fill('input[name="user_id"]', floor.accounts[name])
    page.fill('input[name="password"]', PASSWORD)
    page.click('button:has-text("Sign in")')


def _watching(page: Any) -> str:
    """Wait until the clip in view plays and its time advances; its task token."""
    page.wait_for_function(PLAYING)
    shown_at = page.evaluate(f"() => {CURRENT}.currentTime")
    page.wait_for_function(f"() => {CURRENT}.currentTime > {shown_at} + 0.1")
    return str(page.locator("#task-token").inner_text())


def _wait_until(done: Callable[[], bool], failure: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(failure)
        time.sleep(0.05)


def _fetch_status(page: Any, url: str) -> int:
    """A GET from the page itself, with its cookie session (the credential its media URLs are bound to)."""
    return int(page.evaluate("async url => (await fetch(url, {cache: 'no-store'})).status", url))


def _next_from_page(page: Any, holding: list[str]) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """async holding => {
                const headers = {'Content-Type': 'application/json'};
                const r = await fetch('/api/review/next', {method: 'POST', headers, body: JSON.stringify({holding})});
                return {status: r.status, work: r.status === 200 ? await r.json() : null};
            }""",
            holding,
        )
    )


def test_a_reviewer_labels_three_clips_by_keyboard_while_they_play(floor: Floor, open_page: Any) -> None:
    for index in range(5):
        floor.share(index)
    page = open_page()
    received: list[Any] = []
    page.on("response", lambda response: received.append(response))
    _sign_in(page, floor, "ana")
    page.wait_for_url("**/review")
    headers = page.evaluate("async () => Object.fromEntries((await fetch('/review')).headers)")
    assert headers["cache-control"] == "no-store"
    assert headers["content-security-policy"] == REVIEW_CONTENT_SECURITY_POLICY  # self only, no inline script

    # Runs after the page's own key handler, in the same dispatch: what is in view once the key is handled.
    page.evaluate(f"() => window.addEventListener('keydown', () => {{ window.inViewAfterKey = {CURRENT}?.src; }})")
    answered: dict[str, tuple[str, bool]] = {}
    for key, label, verdict in [("2", "resident", "y"), ("4", "pet", "n"), ("7", "no_event", "y")]:
        token = _watching(page)
        page.wait_for_function(f"() => !!{PREPARED} && {PREPARED}.readyState >= 2")
        prepared_src = page.evaluate(f"() => {PREPARED}.src")
        assert page.locator("#ai-label").inner_text() == "visitor"
        page.keyboard.press(key)
        page.keyboard.press(verdict)
        assert page.locator(f'[data-label="{label}"]').get_attribute("aria-pressed") == "true"
        assert page.evaluate(f"() => !{CURRENT}.paused && !{CURRENT}.ended"), "the clip should still be playing"
        page.keyboard.press("Enter")
        answered[token] = (label, verdict == "y")
        # The prepared video takes over while the key is handled, before any request goes out.
        assert page.evaluate("() => window.inViewAfterKey") == prepared_src
        assert _watching(page) not in answered

    _wait_until(lambda: len(floor.rows(select(review_annotations))) == 3, "three annotations should land")
    columns = review_annotations.c
    rows = floor.rows(select(columns.lease_id, columns.label, columns.ai_correct))
    assert {row.lease_id: (row.label, row.ai_correct) for row in rows} == answered
    assert "Recorded: no event." in page.locator("#status").inner_text()

    # Invariant 4: nothing the reviewer's browser was sent names the owner, home, camera or clip.
    secrets = [HOUSEHOLD.id, HOUSEHOLD.owner_name, HOUSEHOLD.address, CAMERA.id, CAMERA.name, *floor.clip_ids]
    answers = [r for r in received if "/api/" in r.url and r.headers.get("content-type") == "application/json"]
    assert len(answers) >= 6  # at least three next() and three annotations
    texts = [page.content(), *(answer.text() for answer in answers)]
    assert not [secret for secret in secrets for text in texts if secret in text]


def test_a_share_withdrawn_on_the_owners_pages_leaves_the_reviewers_queue(floor: Floor, open_page: Any) -> None:
    clip = floor.clip_ids[0]
    owner_page = open_page()
    _sign_in(owner_page, floor, "owner")
    owner_page.goto(f"/clips/{clip}")
    notice = next(n for n in notices_in_force(NOW) if n["purpose"] == REVIEW)
    shown = owner_page.locator(f'fieldset[data-purpose="{REVIEW}"]')
    assert shown.locator(".notice-text").is_visible() and shown.locator(".notice-text").inner_text() == notice["text"]
    shown.locator('input[name="purpose"]').check()
    owner_page.click("#share-button")
    assert owner_page.locator("h1").inner_text() == "Shared"

    reviewer = open_page()
    _sign_in(reviewer, floor, "ana")
    token = _watching(reviewer)
    assert floor.clip_of(token) == clip  # the queue held the shared clip, and the page shows it
    media_url = reviewer.evaluate(f"() => {CURRENT}.src")
    assert _fetch_status(reviewer, media_url) == 200
    floor.share(1)  # another clip arrives meanwhile

    owner_page.goto("/consents")
    owner_page.locator(f'tr[data-consent]:has(a[href="/clips/{clip}"]) button:has-text("Withdraw")').click()
    assert "Consent withdrawn" in owner_page.locator("p.done").inner_text()

    assert _fetch_status(reviewer, media_url) == 403
    offered = _next_from_page(reviewer, [])  # the page holds nothing else yet: next() grants a new lease
    assert offered["status"] == 200 and floor.clip_of(offered["work"]["task_token"]) != clip
    reviewer.keyboard.press("1")
    reviewer.keyboard.press("Enter")  # a late answer on the withdrawn clip
    reviewer.wait_for_function("() => document.getElementById('status').textContent.startsWith('Not recorded')")
    assert "ended" in reviewer.locator("#status").inner_text()
    assert floor.clip_of(_watching(reviewer)) == floor.clip_ids[1]  # and the page moved on to the other clip
    assert floor.rows(select(review_annotations)) == []
    tasks = floor.rows(select(review_tasks.c.status).where(review_tasks.c.clip_id == clip))
    assert [task.status for task in tasks] == ["removed"]
    assert _next_from_page(reviewer, [reviewer.locator("#task-token").inner_text()])["status"] == 204


def test_private_content_stop_ends_the_view_quarantines_and_tells_the_owner(floor: Floor, open_page: Any) -> None:
    for index in range(3):
        floor.share(index)
    clip = floor.clip_ids[0]
    page = open_page()
    _sign_in(page, floor, "ana")
    token = _watching(page)
    assert floor.clip_of(token) == clip
    other = floor.api_next("bo").json()  # a second reviewer watches the same clip, for its second answer
    assert floor.clip_of(other["task_token"]) == clip

    # The button ends the view in the same turn of the page's event loop, before any request is answered.
    after_click = page.evaluate(
        f"""() => {{
            const v = {CURRENT};
            document.getElementById('stop').click();
            return {{paused: v.paused, src: v.getAttribute('src'), hidden: v.hidden, role: v.dataset.role}};
        }}"""
    )
    assert after_click == {"paused": True, "src": None, "hidden": True, "role": ""}
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('Stopped: the clip')")

    controls = floor.rows(select(clip_controls.c.quarantined_at).where(clip_controls.c.clip_id == clip))
    assert controls and controls[0].quarantined_at is not None
    tasks = review_tasks.c
    assert floor.rows(select(tasks.id).where(tasks.clip_id == clip, tasks.status == "queued")) == []
    leases = floor.rows(select(review_leases.c.id, review_leases.c.status).where(review_leases.c.clip_id == clip))
    assert dict(leases) == {token: "stopped", other["task_token"]: "revoked"}
    bo = {"Authorization": f"Bearer {floor.tokens['bo']}"}
    assert httpx.get(f"{floor.url}{other['media_url']}", headers=bo).status_code == 403
    assert floor.clip_of(floor.api_next("bo").json()["task_token"]) != clip

    # The page moved on; the key asks first: Escape goes back to the clip, P twice stops it.
    following = _watching(page)
    assert floor.clip_of(following) == floor.clip_ids[1]
    page.keyboard.press("p")
    assert page.locator("#confirm-stop").is_visible() and page.evaluate(f"() => {CURRENT}.paused")
    page.keyboard.press("Escape")
    assert _watching(page) == following
    shown = page.evaluate(f"() => {CURRENT}.getAttribute('src')")
    page.keyboard.press("p")
    page.keyboard.press("p")
    assert page.evaluate(
        "src => ![...document.querySelectorAll('video')].some(v => v.getAttribute('src') === src)", shown
    )
    stopped = select(review_leases.c.status).where(review_leases.c.id == following)
    _wait_until(lambda: [row.status for row in floor.rows(stopped)] == ["stopped"], "the key should stop the clip")

    owner_page = open_page()
    _sign_in(owner_page, floor, "owner")
    owner_page.wait_for_url("**/clips")
    notes = owner_page.locator("#notifications li[data-kind=clip_quarantined]")
    assert notes.count() == 2 and "may show private content" in notes.first.inner_text()
    owner_page.goto(f"/clips/{clip}")
    assert "taken out of review" in owner_page.locator("p.notification").inner_text()


def test_notifications_are_shown_to_the_households_owners_only(store: Store) -> None:
    """The service behind the owner pages' messages (no browser needed): own household, newest first,
    per clip on request; anyone else is refused."""
    register_household(store, HOUSEHOLD)
    register_household(store, Household("hh-other", "US", "plus", "Eve Other", "2 Elsewhere"))
    with store.begin() as conn:
        for n, clip_id in enumerate(["clip-a", "clip-b"]):
            conn.execute(
                notifications.insert().values(
                    household_id=HOUSEHOLD.id, clip_id=clip_id, kind="clip_quarantined", text=f"note {n}",
                    at=NOW + timedelta(minutes=n),
                )
            )  # fmt: skip
    mine = Actor("user_owner", "owner", household_id=HOUSEHOLD.id)
    assert [note["text"] for note in notices_to_owners.for_owner(store, mine)] == ["note 1", "note 0"]
    assert notices_to_owners.for_owner(store, mine, "clip-a") == [
        {"clip_id": "clip-a", "kind": "clip_quarantined", "text": "note 0", "at": "2025-06-02T09:00:00Z"}
    ]
    assert notices_to_owners.for_owner(store, Actor("user_eve", "owner", household_id="hh-other")) == []
    for stranger in (Actor("user_rev", "reviewer", site="us-sea"), Actor("user_admin", "admin")):
        with pytest.raises(Denied):
            notices_to_owners.for_owner(store, stranger)


@contextmanager
def _signed_in(floor: Floor, name: str) -> Iterator[httpx.Client]:
    """An HTTP client (no browser) signed in through the sign-in form, posting from the app's origin."""
    with httpx.Client(base_url=floor.url, headers={"Origin": floor.url}) as client:
        answer = client.post("/sign-in", data={"user_id": floor.accounts[name], "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        yield client


def test_the_workstation_page_is_for_signed_in_reviewers_only(floor: Floor) -> None:
    """Without a browser: who gets the page, with which headers, and that it carries no clip data."""
    with httpx.Client(base_url=floor.url) as anonymous:
        sent_away = anonymous.get("/review")
        assert sent_away.status_code == 303 and sent_away.headers["location"] == "/sign-in?next=/review"
    with _signed_in(floor, "owner") as owner_client:
        assert owner_client.get("/review").status_code == 403
    floor.share(0)
    with _signed_in(floor, "ana") as reviewer:
        page = reviewer.get("/review")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert page.headers["content-security-policy"] == REVIEW_CONTENT_SECURITY_POLICY
        assert "<script>" not in page.text and 'src="/static/review.js"' in page.text
        assert all(f'data-key="{n}"' in page.text for n in "1234567")
        assert not [secret for secret in (HOUSEHOLD.id, CAMERA.id, *floor.clip_ids) if secret in page.text]

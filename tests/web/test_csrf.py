"""Cross-site request forgery: a state-changing form post is done only when it comes from the app's own
origin and carries the signed-in session's token. Anything else gets 403, changes nothing, and leaves an
audit "refusal" entry, as the API's refusals do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from pages_support import ORIGIN, PASSWORD, Clock, PageClient, Site, audit_size, cheap_hasher, entries_since

from clipwarden.services import owner
from clipwarden.services.users import authenticate
from clipwarden.store import Store
from clipwarden.web.auth import WebSettings
from clipwarden.web.sessions import SessionSettings

REVIEW = "human_review_for_model_improvement"


@pytest.fixture
def site(store: Store, fleet: Any, fleet_class: Any, monkeypatch: pytest.MonkeyPatch) -> Site:
    cheap_hasher(monkeypatch)
    made = Site(store, Clock(fleet_class.start + timedelta(minutes=30)), WebSettings())
    made.add("free", "owner", household_id="hh-free")
    return made


@pytest.fixture
def browser(site: Site) -> Iterator[PageClient]:
    with site.browser() as opened:
        assert opened.sign_in("free").status_code == 303
        yield opened


@pytest.fixture
def consent_id(site: Site, fleet: Any) -> str:
    """A valid consent of the signed-in owner's, which a forged withdrawal would end."""
    who = authenticate(site.store, site.accounts["free"], PASSWORD, site.clock.now)
    assert who is not None
    clip = fleet.clip_ids["hh-free"][1]
    return str(owner.share_clip(site.store, who, clip, [REVIEW], None, False, None, site.clock.now)["consent_id"])


def _state(site: Site, consent_id: str) -> str:
    who = authenticate(site.store, site.accounts["free"], PASSWORD, site.clock.now)
    assert who is not None
    return next(c["state"] for c in owner.consents(site.store, who, site.clock.now) if c["id"] == consent_id)


def _forged(browser: PageClient, path: str, headers: dict[str, str], token: str | None) -> Any:
    data = {"submit": "Withdraw"} | ({} if token is None else {"csrf_token": token})
    return browser.http.post(path, data=data, headers=headers)


@pytest.mark.parametrize(
    ("headers", "with_token", "why"),
    [
        ({"Origin": "http://evil.example"}, True, "it came from http://evil.example"),
        ({"Origin": "http://testserver:8080"}, True, "not from http://testserver"),  # same site, other port
        ({"Origin": "null"}, True, "it came from null"),  # a sandboxed or file: page
        ({"Referer": "http://evil.example/page"}, True, "it came from http://evil.example"),
        ({}, True, "names no Origin or Referer"),
        ({"Origin": ORIGIN}, False, "the form lacks this session token"),
    ],
    ids=["other-site", "other-port", "null-origin", "other-referer", "no-origin", "no-token"],
)
def test_a_forged_withdrawal_is_refused_changes_nothing_and_is_logged(
    browser: PageClient, site: Site, consent_id: str, headers: dict[str, str], with_token: bool, why: str
) -> None:
    token = browser.token() if with_token else None
    before = audit_size(site.store)
    answer = _forged(browser, f"/consents/{consent_id}/withdraw", headers, token)
    assert answer.status_code == 403
    assert why in answer.text and "cross-site form post refused" in answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert _state(site, consent_id) == "ConsentGiven"
    [refusal] = entries_since(site.store, before, "refusal")
    assert refusal["path"] == f"/consents/{consent_id}/withdraw"
    assert refusal["status"] == 403 and why in refusal["detail"]


def test_a_token_from_another_session_does_not_do(site: Site, browser: PageClient, consent_id: str) -> None:
    with site.browser() as other:
        other.sign_in("free")
        foreign = other.token()
    answer = _forged(browser, f"/consents/{consent_id}/withdraw", {"Origin": ORIGIN}, foreign)
    assert answer.status_code == 403
    assert _state(site, consent_id) == "ConsentGiven"


def test_the_same_post_from_the_app_itself_is_done(browser: PageClient, site: Site, consent_id: str) -> None:
    answer = browser.post(f"/consents/{consent_id}/withdraw")
    assert (answer.status_code, answer.headers["location"]) == (303, "/consents?done=withdrawn")
    assert _state(site, consent_id) == "ConsentWithdrawn"


def test_a_same_origin_referer_stands_in_for_a_missing_origin(browser: PageClient, site: Site, consent_id: str) -> None:
    answer = _forged(browser, f"/consents/{consent_id}/withdraw", {"Referer": f"{ORIGIN}/consents"}, browser.token())
    assert answer.status_code == 303
    assert _state(site, consent_id) == "ConsentWithdrawn"


def test_a_post_without_a_session_is_sent_to_sign_in(site: Site, consent_id: str) -> None:
    with site.browser() as stranger:
        answer = stranger.http.post(f"/consents/{consent_id}/withdraw", headers={"Origin": ORIGIN})
    assert (answer.status_code, answer.headers["location"]) == (303, f"/sign-in?next=/consents/{consent_id}/withdraw")
    assert _state(site, consent_id) == "ConsentGiven"


def test_form_bodies_must_be_url_encoded_and_small(browser: PageClient, site: Site, consent_id: str) -> None:
    path = f"/consents/{consent_id}/withdraw"
    as_json = browser.http.post(path, json={"csrf_token": browser.token()}, headers={"Origin": ORIGIN})
    assert as_json.status_code == 415
    limit = SessionSettings().max_form_bytes
    huge = browser.http.post(path, data={"csrf_token": browser.token(), "pad": "x" * limit}, headers={"Origin": ORIGIN})
    assert huge.status_code == 413
    assert _state(site, consent_id) == "ConsentGiven"

"""The owner portal and the auditor console in a real browser: sign in, see only your own clips, play one,
read the notice in full before sharing, find the consent, the access log and the receipt, withdraw; a form
posted from another origin is refused; the auditor sees the signed tree head and a replay with no view
without consent."""

from __future__ import annotations

import http.server
import re
import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from axe_support import serious_violations
from screenshots import keep

from clipwarden.consent.notices import notices_in_force
from clipwarden.policy.decision import Actor
from clipwarden.policy.gate import Ask, Circumstances, check
from clipwarden.services import owner
from clipwarden.services.users import authenticate
from clipwarden.signing import load_or_create, verify_jws

REVIEW = "human_review_for_model_improvement"
Served = Any  # conftest.Served: the server's URL, store, seeded fleet, clock and password (conftest is not importable)


def _tab_to(page: Any, selector: str, most: int = 80) -> None:
    """Press Tab until the element ``selector`` names has the focus, as a keyboard user would."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => document.activeElement === document.querySelector({selector!r})"):
            return
    raise AssertionError(f"{selector} was not reached in {most} presses of Tab")


def test_an_owner_signs_in_and_shares_with_the_keyboard_alone(page: Any, server: Served) -> None:
    clip = server.fleet.clip_ids["hh-plus"][1]
    page.goto("/sign-in")
    _tab_to(page, 'input[name="user_id"]')
    page.keyboard.type(server.fleet.accounts["plus"])
    page.keyboard.press("Tab")
    page.keyboard.type(server.password)
    page.keyboard.press("Enter")
    page.wait_for_url("**/clips")
    _tab_to(page, f'tr[data-clip="{clip}"] a')
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/clips/{clip}")
    purpose = f'fieldset[data-purpose="{REVIEW}"] input[name="purpose"]'
    _tab_to(page, purpose)
    page.keyboard.press("Space")
    assert page.locator(purpose).is_checked()
    # Where the focus is can be seen: the focused control draws an outline.
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"
    _tab_to(page, "#share-button")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/clips/{clip}/share")
    assert page.locator("h1").inner_text() == "Shared"


REVIEWER = Actor("user_reviewer_ro", "reviewer", site="ro-buc", pseudonym="reviewer-ro-buc-5e1f00")


def _sign_in(page: Any, name: str, served: Served) -> None:
    page.goto("/sign-in")
    page.fill('input[name="user_id"]', served.fleet.accounts[name])
    page.fill('input[name="password"]', served.password)
    page.click('button:has-text("Sign in")')


def _owner(served: Served, name: str) -> Actor:
    found = authenticate(served.store, served.fleet.accounts[name], served.password, datetime.now(UTC))
    assert found is not None
    return found


def _share(served: Served, clip_id: str) -> str:
    """A consent given outside the browser (as the API would), for the tests that need one to exist."""
    who = _owner(served, "free")
    return str(owner.share_clip(served.store, who, clip_id, [REVIEW], None, False, None, served.now)["consent_id"])


def _reviewer_watches(served: Served, clip_id: str) -> None:
    """A reviewer at the Bucharest site views the clip under a lease: an allowed, consented view."""
    decision = check(served.store, Ask(REVIEWER, "view_media", clip_id, REVIEW, served.now, Circumstances(True)))
    assert decision.allow, decision.reason


def test_an_owner_signs_in_and_sees_only_their_clips(page: Any, server: Served) -> None:
    _sign_in(page, "free", server)
    page.wait_for_url("**/clips")
    rows = page.locator("tr[data-clip]")
    assert rows.evaluate_all("rows => rows.map(row => row.dataset.clip)") == server.fleet.clip_ids["hh-free"][::-1]
    body = page.content()
    assert all(clip not in body for clip in server.fleet.clip_ids["hh-plus"])
    assert "Intruder" in rows.last.inner_text()  # the oldest clip, labelled intruder
    # Every thumbnail loads: a keyframe served through the gate, 160 pixels wide.
    thumbnails = page.locator("td.thumb img")
    thumbnails.last.scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('td.thumb img')].every(img => img.complete)")
    assert thumbnails.evaluate_all("images => images.map(image => image.naturalWidth)") == [160] * rows.count()


def test_a_wrong_password_shows_an_error_and_no_clips(page: Any, server: Served) -> None:
    page.goto("/sign-in")
    page.fill('input[name="user_id"]', server.fleet.accounts["free"])
    page.fill('input[name="password"]', "not the password")
    page.click('button:has-text("Sign in")')
    assert "unknown account or wrong password" in page.locator("p.error").inner_text()
    assert page.goto("/clips").url.endswith("/sign-in?next=/clips")


def test_an_owner_plays_a_clip(page: Any, server: Served) -> None:
    _sign_in(page, "free", server)
    page.goto(f"/clips/{server.fleet.clip_ids['hh-free'][0]}")
    video = page.locator("#clip-video")
    video.evaluate("video => video.play()")
    page.wait_for_function("() => document.getElementById('clip-video').readyState >= 2")
    page.wait_for_function("() => document.getElementById('clip-video').currentTime > 0.2")
    assert video.evaluate("video => [video.videoWidth, video.videoHeight, video.error]") == [320, 180, None]


def test_an_owner_shares_after_reading_the_notice_then_withdraws_and_keeps_the_receipt(
    page: Any, server: Served, tmp_path: Path
) -> None:
    clip = server.fleet.clip_ids["hh-free"][1]
    _sign_in(page, "free", server)
    page.goto(f"/clips/{clip}")
    notice = next(n for n in notices_in_force(server.now) if n["purpose"] == REVIEW)
    shown = page.locator(f'fieldset[data-purpose="{REVIEW}"]')
    assert shown.locator(".notice-text").inner_text() == notice["text"]
    assert shown.locator(".notice-text").is_visible()
    assert f"{notice['retention_days']} days" in shown.inner_text() and "Bucharest, Romania" in shown.inner_text()
    share = page.locator("#share-button")
    assert share.is_disabled()  # nothing ticked yet
    shown.locator('input[name="purpose"]').check()
    share.click()
    assert page.locator("h1").inner_text() == "Shared"

    page.goto("/consents")
    row = page.locator("tr[data-consent]")
    assert row.count() == 1 and row.locator(".state").inner_text() == "In force"
    consent_id = row.get_attribute("data-consent")
    with page.expect_download() as downloading:
        row.locator("text=Receipt").click()
    saved = tmp_path / "receipt.jws"
    downloading.value.save_as(saved)
    _, payload = verify_jws(saved.read_text(), load_or_create(server.store.data_dir).jwks())
    assert f'"consentReceiptID":"{consent_id}"'.encode() in payload

    row.locator('button:has-text("Withdraw")').click()
    assert "Consent withdrawn" in page.locator("p.done").inner_text()
    assert page.locator(f'tr[data-consent="{consent_id}"] .state').inner_text() == "Withdrawn"
    assert page.locator(f'tr[data-consent="{consent_id}"] button').count() == 0


def test_an_owner_reads_who_watched_their_clip(page: Any, server: Served) -> None:
    clip = server.fleet.clip_ids["hh-free"][2]
    _share(server, clip)
    _reviewer_watches(server, clip)
    _sign_in(page, "free", server)
    page.goto(f"/clips/{clip}")
    entries = page.locator("#access-log tbody tr")
    assert entries.count() == 1
    when, who, where, what, why, under = entries.first.locator("td").all_inner_texts()
    assert under == ""  # a bare gate check, outside any viewing session: no consent to name
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} \S+", when)  # a time a person reads
    assert (who, where) == (REVIEWER.pseudonym, "Bucharest, Romania (Carpathia Annotation SRL)")
    assert what == "was allowed to watch it" and why == "Human review to improve the camera AI"
    assert "your share of this clip" in page.locator("#covering").inner_text()
    assert "user_reviewer_ro" not in page.content()


@pytest.fixture
def other_origin(server: Served) -> Iterator[str]:
    """A page on another origin (same host, another port) with a form aimed at the app."""
    consent_id = _share(server, server.fleet.clip_ids["hh-free"][3])
    form = (
        f'<form method="post" action="{server.url}/consents/{consent_id}/withdraw">'
        '<input type="hidden" name="csrf_token" value="guessed"><button>Win a prize</button></form>'
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(form.encode())

        def log_message(self, *args: Any) -> None:
            pass

    with socketserver.TCPServer(("127.0.0.1", 0), Handler) as other:
        threading.Thread(target=other.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{other.server_address[1]}/#{consent_id}"
        other.shutdown()


def test_a_form_posted_from_another_origin_is_refused(page: Any, server: Served, other_origin: str) -> None:
    consent_id = other_origin.rsplit("#", 1)[1]
    _sign_in(page, "free", server)
    page.wait_for_url("**/clips")
    page.goto(other_origin)
    page.click("text=Win a prize")
    page.wait_for_url(f"{server.url}/consents/{consent_id}/withdraw")
    assert "cross-site form post refused" in page.locator("p.error").inner_text()
    states = {c["id"]: c["state"] for c in owner.consents(server.store, _owner(server, "free"), server.now)}
    assert states[consent_id] == "ConsentGiven"


def test_the_auditor_sees_the_signed_head_and_a_clean_replay(page: Any, server: Served) -> None:
    clip = server.fleet.clip_ids["hh-plus"][0]
    plus = _owner(server, "plus")
    owner.share_clip(server.store, plus, clip, [REVIEW], None, False, ["ro-buc"], server.now)
    _reviewer_watches(server, clip)
    _sign_in(page, "auditor", server)
    page.wait_for_url("**/audit")
    size = int(page.locator("#tree-head .size").inner_text())
    assert size > 0
    assert re.fullmatch(r"[0-9a-f]{64}", page.locator("#tree-head .root-hash").inner_text())
    replay = page.locator("#replay p").first.inner_text()
    views = int(replay.split(" views")[0])
    assert views >= 1 and ", 0 without consent" in replay and "0 disagreements" in replay
    page.fill('input[name="index"]', str(size - 1))
    page.click('button:has-text("Prove")')
    assert "the path leads to the root hash" in page.locator("#proof").inner_text()


def test_pages_load_nothing_from_elsewhere(page: Any, server: Served) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    _sign_in(page, "free", server)
    page.goto(f"/clips/{server.fleet.clip_ids['hh-free'][0]}")
    page.wait_for_load_state("networkidle")
    assert requested and all(url.startswith(server.url) for url in requested)
    assert page.evaluate("() => getComputedStyle(document.body).fontFamily") != ""


def _every_page(page: Any, server: Served) -> Iterator[str]:
    """Open each page in turn, signed out, then as an owner and as an auditor, with a shared clip a reviewer
    watched (so that its page has every section filled); yield where the browser is."""
    clip = server.fleet.clip_ids["hh-free"][2]  # no earlier test of the module withdraws its share
    _share(server, clip)
    _reviewer_watches(server, clip)
    for path in ["/sign-in", "/no-such-page"]:
        page.goto(path)
        yield path
    pages = {
        "free": ["/clips", f"/clips/{clip}", "/consents", "/erasure-requests", f"/clips/{clip}/delete", "/audit"],
        "auditor": ["/audit?index=0&first=1", "/audit/entries"],
    }
    for name, paths in pages.items():
        page.context.clear_cookies()
        _sign_in(page, name, server)
        page.wait_for_url("**/clips" if name == "free" else "**/audit")
        for path in paths:
            page.goto(path)
            yield f"{name} {path}"


# What a developer's console shows and a person should not have to read: outside a details disclosure (where
# ids, hashes and receipts stay for whoever wants to verify), none of these may appear on an owner's page.
RAW = {
    "ISO time": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"),
    "CamelCase state": re.compile(r"\b(?:Renewed)?Consent[A-Z][a-z]+"),
    "snake_case name": re.compile(r"\b[a-z]+_[a-z0-9_]+\b"),
    "UUID": re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"),
    "long hash": re.compile(r"\b[0-9a-f]{16,}\b"),
    "API path": re.compile(r"/api/"),
}
_TEXT_OUTSIDE_DETAILS = """() => {
  document.querySelectorAll("details").forEach((details) => { details.hidden = true; });
  return document.body.innerText;
}"""


def test_an_owners_pages_read_in_words_with_ids_one_click_away(page: Any, server: Served) -> None:
    raw = {}
    for where in _every_page(page, server):
        if where.startswith("free "):
            text = page.evaluate(_TEXT_OUTSIDE_DETAILS)
            raw[where] = {name: pattern.findall(text) for name, pattern in RAW.items() if pattern.search(text)}
    assert len(raw) == 6 and {where: found for where, found in raw.items() if found} == {}
    # Times read in the reader's time zone (here India's, UTC+5:30), with the exact UTC instant on hover.
    page.context.clear_cookies()
    page.context.new_cdp_session(page).send("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Kolkata"})
    _sign_in(page, "free", server)
    newest = page.locator("tr[data-clip] time").first  # recorded at START + 3 hours: 11:00 UTC
    assert newest.get_attribute("title") == "4 Jan 2027, 11:00 UTC"
    assert newest.inner_text() == "4 Jan 2027, 16:30 GMT+5:30"


WIDTHS = ({"width": 1280, "height": 900}, {"width": 390, "height": 844})  # a laptop, a phone


@pytest.mark.parametrize("viewport", WIDTHS, ids=["1280px", "390px"])
def test_no_page_is_wider_than_the_window(page: Any, server: Served, viewport: dict[str, int]) -> None:
    page.set_viewport_size(viewport)
    for where in _every_page(page, server):
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{where} is {overflow} px wider than a {viewport['width']} px window"


def test_every_page_of_owners_and_auditors_has_no_serious_accessibility_violation(
    page: Any, server: Served, axe_script: str, tmp_path: Path
) -> None:
    clip = server.fleet.clip_ids["hh-free"][2]  # the clip _every_page shares and has watched
    # The pages docs/web.md shows, by where _every_page is when it opens them.
    screenshots = {
        "free /clips": "owner-clips",
        f"free /clips/{clip}": "owner-clip",
        "auditor /audit/entries": "auditor-log",
    }
    found, shot = {}, []
    for where in _every_page(page, server):
        found[where] = serious_violations(page, axe_script)
        if where in screenshots:
            shot.append(keep(page, screenshots[where], tmp_path))
    assert {where: problems for where, problems in found.items() if problems} == {}
    assert len(shot) == len(screenshots)

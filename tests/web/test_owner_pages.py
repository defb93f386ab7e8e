"""The owner portal and the auditor console through HTTP: each page shows what the JSON API answers, every
action goes through the same use cases (and so the enforcement point), and no page shows or changes
another household's clips."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import cv2
import numpy as np
import pytest
from pages_support import PASSWORD, Clock, PageClient, Site, audit_size, cheap_hasher, entries_since
from sqlalchemy import select

from clipwarden.consent.notices import notices_in_force
from clipwarden.media.codec import decode_frames
from clipwarden.media.screen import ScreenResult
from clipwarden.services import owner, screening
from clipwarden.services.users import authenticate
from clipwarden.signing import load_or_create, verify_jws
from clipwarden.store import Store
from clipwarden.store.schema import clips
from clipwarden.web.auth import WebSettings
from clipwarden.web.pages import CONTENT_SECURITY_POLICY

REVIEW = "human_review_for_model_improvement"


def _version(site: Site, purpose: str = REVIEW) -> str:
    """The version of the purpose's notice the share form shows now."""
    return str(next(n["version"] for n in notices_in_force(site.clock.now) if n["purpose"] == purpose))


@pytest.fixture
def site(store: Store, fleet: Any, fleet_class: Any, monkeypatch: pytest.MonkeyPatch) -> Site:
    cheap_hasher(monkeypatch)
    made = Site(store, Clock(fleet_class.start + timedelta(minutes=30)), WebSettings())
    made.add("free", "owner", household_id="hh-free")
    made.add("plus", "owner", household_id="hh-plus")
    made.add("auditor", "auditor")
    return made


@pytest.fixture
def free(site: Site) -> Iterator[PageClient]:
    with site.browser() as opened:
        assert opened.sign_in("free").status_code == 303
        yield opened


def _consents(site: Site, name: str) -> list[dict[str, Any]]:
    who = authenticate(site.store, site.accounts[name], PASSWORD, site.clock.now)
    assert who is not None
    return owner.consents(site.store, who, site.clock.now)


def test_the_clip_list_shows_the_households_clips_and_no_other(free: PageClient, fleet: Any) -> None:
    page = free.get("/clips")
    assert page.status_code == 200
    assert re.findall(r'data-clip="([^"]+)"', page.text) == fleet.clip_ids["hh-free"][::-1]  # newest first
    assert "intruder" in page.text and "pet" in page.text
    for foreign in fleet.clip_ids["hh-plus"]:
        assert foreign not in page.text


def _listed(page: Any) -> list[str]:
    return re.findall(r'data-clip="([^"]+)"', page.text)


def test_the_clip_list_marks_filters_and_pages_the_clips(free: PageClient, fleet: Any, site: Site) -> None:
    newest, middle, oldest = fleet.clip_ids["hh-free"][::-1]
    assert free.post(
        f"/clips/{middle}/share", {"purpose": REVIEW, f"notice_version:{REVIEW}": _version(site)}
    ).is_success
    with site.store.begin() as conn:
        screening.quarantine(conn, oldest, site.clock.now, "a reviewer stopped the view: private content")
    page = free.get("/clips").text
    marks = dict(re.findall(r'<tr data-clip="([^"]+)">.*?<td class="marks">(.*?)</td>', page, re.S))
    assert 'data-mark="shared"' in marks[middle] and 'data-mark="stopped"' in marks[oldest]
    assert "data-mark" not in marks[newest] and "Ada Example&#39;s door" in page and "hours" in page
    assert _listed(free.get("/clips?shared=yes")) == [middle]
    assert _listed(free.get("/clips?shared=no&label=intruder")) == [oldest]
    assert (
        _listed(free.get("/clips?watched=yes")) == []
        and "No clip matches these filters" in free.get("/clips?watched=yes").text
    )
    first = free.get("/clips?cursor=0")
    assert _listed(first) == [newest, middle, oldest] and 'id="older"' not in first.text
    later = free.get("/clips?cursor=2")
    assert _listed(later) == [oldest] and 'id="newer"' in later.text
    for bad in ["/clips?camera=cam-hh-plus", "/clips?label=ghost", "/clips?shared=maybe", "/clips?cursor=-1"]:
        refused = free.get(bad)
        assert refused.status_code == 400 and "Nothing was changed" in refused.text, bad


def test_pages_are_never_cached_and_run_nothing_foreign(free: PageClient, fleet: Any) -> None:
    clip = fleet.clip_ids["hh-free"][0]
    for path in ["/clips", f"/clips/{clip}", f"/clips/{clip}/video", "/consents", "/erasure-requests", "/sign-in"]:
        answer = free.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["cache-control"] == "no-store", path
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert answer.headers["x-content-type-options"] == "nosniff", path
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "http" not in CONTENT_SECURITY_POLICY
    page = free.get(f"/clips/{clip}").text
    assert "<script>" not in page and "style=" not in page  # nothing inline for the policy to allow
    assert not re.search(r'(src|href|action)="(https?:)?//', page)  # nothing from elsewhere


def test_each_clip_has_a_thumbnail_served_through_the_gate_and_erased_with_it(
    free: PageClient, fleet: Any, site: Site
) -> None:
    clip, theirs = fleet.clip_ids["hh-free"][0], fleet.clip_ids["hh-plus"][0]
    assert f'src="/clips/{clip}/thumbnail"' in free.get("/clips").text
    before = audit_size(site.store)
    shown = free.get(f"/clips/{clip}/thumbnail")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert shown.headers["cache-control"] == "private, no-store"
    keyframe = cv2.imdecode(np.frombuffer(shown.content, np.uint8), cv2.IMREAD_COLOR)
    first = next(decode_frames(fleet.media[clip]))
    assert keyframe.shape[1] == 160 and keyframe.shape[0] == round(160 * first.shape[0] / first.shape[1] / 2) * 2
    [decision] = entries_since(site.store, before, "decision")
    assert (decision["action"], decision["resource"]["id"], decision["allow"]) == ("view_media", clip, True)
    assert free.get(f"/clips/{theirs}/thumbnail").status_code == 404  # another household's: not even there
    assert free.post(f"/clips/{clip}/delete").status_code == 200
    assert free.get(f"/clips/{clip}/thumbnail").status_code in (403, 404)
    with site.store.connect() as conn:
        assert conn.execute(select(clips.c.thumbnail).where(clips.c.id == clip)).scalar_one() is None


def test_the_video_plays_through_the_enforcement_point_with_byte_ranges(
    free: PageClient, fleet: Any, site: Site
) -> None:
    clip = fleet.clip_ids["hh-free"][0]
    media = fleet.media[clip]
    before = audit_size(site.store)
    whole = free.get(f"/clips/{clip}/video")
    assert (whole.status_code, whole.content, whole.headers["accept-ranges"]) == (200, media, "bytes")
    part = free.get(f"/clips/{clip}/video", headers={"Range": "bytes=10-19"})
    assert (part.status_code, part.content) == (206, media[10:20])
    assert part.headers["content-range"] == f"bytes 10-19/{len(media)}"
    tail = free.get(f"/clips/{clip}/video", headers={"Range": "bytes=-5"})
    assert (tail.status_code, tail.content) == (206, media[-5:])
    past = free.get(f"/clips/{clip}/video", headers={"Range": f"bytes={len(media)}-"})
    assert (past.status_code, past.headers["content-range"]) == (416, f"bytes */{len(media)}")
    several = free.get(f"/clips/{clip}/video", headers={"Range": "bytes=0-1,5-6"})
    assert (several.status_code, several.content) == (200, media)
    decisions = entries_since(site.store, before, "decision")
    assert [(d["action"], d["allow"]) for d in decisions] == [("view_media", True)] * 5


def test_another_households_clip_is_not_found_on_every_page(free: PageClient, fleet: Any, site: Site) -> None:
    foreign = fleet.clip_ids["hh-plus"][0]
    for path in [f"/clips/{foreign}", f"/clips/{foreign}/video", f"/clips/{foreign}/delete"]:
        answer = free.get(path)
        assert answer.status_code == 404, path
        assert "unknown clip id" in answer.text
    for path in [f"/clips/{foreign}/share", f"/clips/{foreign}/delete"]:
        assert free.post(path, {"purpose": REVIEW, f"notice_version:{REVIEW}": _version(site)}).status_code == 404, path
    assert free.get(f"/clips/{foreign}/video").content.startswith(b"<!doctype html>")
    assert owner.list_clips(site.store, _plus(site), site.clock.now)[0]["status"] == "stored"
    assert _consents(site, "plus") == []


def _plus(site: Site) -> Any:
    who = authenticate(site.store, site.accounts["plus"], PASSWORD, site.clock.now)
    assert who is not None
    return who


def test_the_share_form_shows_every_per_clip_notice_in_full(free: PageClient, fleet: Any, site: Site) -> None:
    page = free.get(f"/clips/{fleet.clip_ids['hh-free'][0]}").text
    for notice in notices_in_force(site.clock.now):
        shown = f'value="{notice["purpose"]}"' in page
        assert shown == (notice["purpose"] != "tester_program"), notice["purpose"]
        if shown:
            assert notice["text"] in page.replace("&#39;", "'")
            assert f'name="notice_version:{notice["purpose"]}" value="{notice["version"]}"' in page
            assert f"{notice['retention_days']} days" in page
    assert "Bucharest, Romania" in page and "Carpathia Annotation SRL" in page


def test_sharing_from_the_page_records_the_consent_to_the_version_shown(
    free: PageClient, fleet: Any, site: Site
) -> None:
    clip = fleet.clip_ids["hh-free"][1]
    version = _version(site)
    answer = free.post(
        f"/clips/{clip}/share",
        {"purpose": REVIEW, f"notice_version:{REVIEW}": version, "site": "ro-buc", "allow_unredacted": "yes"},
    )
    assert answer.status_code == 200, answer.text
    [consent] = _consents(site, "free")
    assert (consent["clip_id"], consent["purposes"], consent["sites"]) == (clip, [REVIEW], ["ro-buc"])
    assert consent["notice_versions"] == {REVIEW: int(version)} and consent["allow_unredacted"] is True
    assert f"/consents/{consent['id']}/receipt" in answer.text
    assert consent["id"][:8] in free.get(f"/clips/{clip}").text


def test_a_share_form_that_cannot_be_taken_comes_back_with_the_problem_next_to_its_field(
    free: PageClient, fleet: Any, site: Site
) -> None:
    clip, version = fleet.clip_ids["hh-free"][1], _version(site)
    before = audit_size(site.store)
    cases = [
        ({"purpose": REVIEW, f"notice_version:{REVIEW}": "7"}, "form", "version 7"),
        ({"purpose": REVIEW}, "form", "this form was changed or is out of date"),  # tampered: no version
        ({}, "purposes", "Tick at least one purpose"),
        ({"purpose": REVIEW, f"notice_version:{REVIEW}": version, "site": "mars"}, "sites", "no review site mars"),
    ]
    for fields, field, said in cases:
        answer = free.post(f"/clips/{clip}/share", fields)
        assert answer.status_code == 400, fields
        problem = re.search(r'<p id="share-problem"[^>]*data-field="(\w+)">([^<]*)</p>', answer.text)
        assert problem is not None and problem.group(1) == field and said in problem.group(2), answer.text
        assert "Nothing was shared" in problem.group(2) and 'id="share-form"' in answer.text
        assert "whole number" not in answer.text and "not &#39;&#39;" not in answer.text
        if "purpose" in fields:  # the form comes back as the owner filled it
            assert f'value="{REVIEW}" checked' in answer.text
    assert _consents(site, "free") == []
    assert len(entries_since(site.store, before, "refusal")) == len(cases)


def test_a_flagged_clip_is_held_until_the_owner_confirms_on_the_page(
    free: PageClient, fleet: Any, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(screening, "screen_clip", lambda data, placement: ScreenResult(True, 0.9, ("skin",)))
    clip = fleet.clip_ids["hh-free"][2]
    shared = free.post(f"/clips/{clip}/share", {"purpose": REVIEW, f"notice_version:{REVIEW}": _version(site)})
    assert shared.status_code == 200
    assert owner.SENSITIVE_WARNING in shared.text.replace("&#39;", "'")
    assert f'action="/clips/{clip}/confirm-sensitive"' in shared.text
    confirmed = free.post(f"/clips/{clip}/confirm-sensitive")
    assert (confirmed.status_code, confirmed.headers["location"]) == (303, f"/clips/{clip}?done=confirmed")
    assert "released for human review" in free.get(confirmed.headers["location"]).text
    assert [e["clip_id"] for e in entries_since(site.store, 0, "sensitive_confirmed")] == [clip]


def test_a_stopped_clip_says_so_shows_its_share_suspended_and_cannot_be_shared_again(
    free: PageClient, fleet: Any, site: Site
) -> None:
    clip = fleet.clip_ids["hh-free"][1]
    share = {"purpose": REVIEW, f"notice_version:{REVIEW}": _version(site)}
    assert free.post(f"/clips/{clip}/share", share).status_code == 200
    assert 'id="share-form"' in free.get(f"/clips/{clip}").text
    with site.store.begin() as conn:  # what a reviewer's "Private content: stop" does to the clip
        screening.quarantine(conn, clip, site.clock.now, "a reviewer stopped the view: private content")
    page = free.get(f"/clips/{clip}").text
    assert "a reviewer flagged this clip as private" in page and "Nobody else will see it" in page
    assert "Suspended: the clip was stopped as private" in page
    assert 'id="share-form"' not in page and 'id="not-shareable"' in page
    refused = free.post(f"/clips/{clip}/share", share)
    assert refused.status_code == 403 and "it cannot be shared again" in refused.text
    assert len(_consents(site, "free")) == 1


def test_a_clip_past_its_retention_is_shown_as_gone_with_no_share_form(
    free: PageClient, fleet: Any, site: Site
) -> None:
    kept = free.get(f"/clips/{fleet.clip_ids['hh-free'][0]}").text
    assert "Gone:" not in kept and 'id="share-form"' in kept
    site.clock.advance(hours=25)  # the free plan keeps a clip 24 hours
    assert free.sign_in("free").status_code == 303  # the session ran out meanwhile
    page = free.get(f"/clips/{fleet.clip_ids['hh-free'][0]}").text
    assert "Gone: it was kept until" in page and 'id="share-form"' not in page
    assert "Gone:" not in free.get(f"/clips/{fleet.clip_ids['hh-free'][2]}").text  # recorded later: still kept


def test_consents_page_withdraws_and_hands_out_the_signed_receipt(free: PageClient, fleet: Any, site: Site) -> None:
    clip = fleet.clip_ids["hh-free"][0]
    trouble = "troubleshooting"
    free.post(f"/clips/{clip}/share", {"purpose": trouble, f"notice_version:{trouble}": _version(site, trouble)})
    [consent] = _consents(site, "free")
    page = free.get("/consents").text
    assert f'data-consent="{consent["id"]}"' in page and f'action="/consents/{consent["id"]}/withdraw"' in page
    receipt = free.get(f"/consents/{consent['id']}/receipt")
    assert receipt.headers["content-type"] == "application/jose"
    assert receipt.headers["content-disposition"].startswith("attachment;")
    _, payload = verify_jws(receipt.text, load_or_create(site.store.data_dir).jwks())
    assert consent["id"].encode() in payload
    site.clock.advance(minutes=1)
    withdrawn = free.post(f"/consents/{consent['id']}/withdraw")
    assert withdrawn.headers["location"] == "/consents?done=withdrawn"
    page = free.get("/consents?done=withdrawn").text
    assert "Consent withdrawn" in page and f'action="/consents/{consent["id"]}/withdraw"' not in page
    assert _consents(site, "free")[0]["state"] == "ConsentWithdrawn"
    assert free.post(f"/consents/{consent['id']}/withdraw").status_code == 409


def test_another_households_consent_cannot_be_withdrawn_or_read(free: PageClient, fleet: Any, site: Site) -> None:
    theirs = owner.share_clip(
        site.store, _plus(site), fleet.clip_ids["hh-plus"][0], [REVIEW], None, False, None, site.clock.now
    )["consent_id"]
    assert free.post(f"/consents/{theirs}/withdraw").status_code == 404
    assert free.get(f"/consents/{theirs}/receipt").status_code == 404
    assert theirs not in free.get("/consents").text
    assert _consents(site, "plus")[0]["state"] == "ConsentGiven"


def test_deleting_asks_first_then_certifies_and_lists_the_request(free: PageClient, fleet: Any, site: Site) -> None:
    clip = fleet.clip_ids["hh-free"][2]
    asked = free.get(f"/clips/{clip}/delete")
    assert "cannot be undone" in asked.text and f'action="/clips/{clip}/delete"' in asked.text
    assert clip in free.get("/clips").text  # asking deleted nothing
    deleted = free.post(f"/clips/{clip}/delete")
    assert deleted.status_code == 200 and "Deletion certificate" in deleted.text
    assert clip not in free.get("/clips").text
    assert free.get(f"/clips/{clip}/video").status_code == 403
    requests = free.get("/erasure-requests").text
    assert "A clip" in requests and f"<code>{clip}</code></details>" in requests and "Done" in requests


def test_erasing_the_household_from_the_page_takes_the_account_and_session(
    free: PageClient, fleet: Any, site: Site
) -> None:
    wrong = free.post("/household/erase", {"confirm": "hh-plus"})
    assert wrong.status_code == 400 and "That is not your household id: type hh-free" in wrong.text
    assert 'aria-describedby="erase-problem"' in wrong.text  # the form again, the problem next to its field
    assert len(free.get("/clips").text.split("data-clip=")) == 4
    erased = free.post("/household/erase", {"confirm": "hh-free"}, token_from="/household/erase")
    assert erased.status_code == 200 and "Deleted: your whole household" in erased.text
    assert "web sessions" in erased.text and "owner account" in erased.text
    assert free.get("/clips").status_code == 303
    assert free.sign_in("free").status_code == 401
    assert len(owner.list_clips(site.store, _plus(site), site.clock.now)) == 3


def test_the_auditor_console_shows_the_head_a_checked_proof_the_replay_and_quarantine(site: Site, fleet: Any) -> None:
    clip = fleet.clip_ids["hh-free"][0]
    owner.share_clip(site.store, _plus(site), fleet.clip_ids["hh-plus"][1], [REVIEW], None, False, None, site.clock.now)
    with site.store.begin() as conn:
        screening.quarantine(conn, clip, site.clock.now, "flagged private by a reviewer")
    with site.browser() as auditor:
        auditor.sign_in("auditor")
        page = auditor.get("/audit")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        size = int(re.search(r'class="size">(\d+)<', page.text).group(1))  # type: ignore[union-attr]
        assert size > 0 and re.search(r'class="root-hash">[0-9a-f]{64}<', page.text)
        assert '<strong class="without-consent">0</strong>' in page.text
        assert clip in page.text and "flagged private by a reviewer" in page.text
        assert "the path leads to the root hash" in auditor.get("/audit?index=0&size=").text  # size left empty
        proved = auditor.get(f"/audit?index=0&size={size}")  # the first entry: a path as long as the tree is deep
        assert "the path leads to the root hash" in proved.text and proved.text.count("<li><code>") >= 2
        for bad in [f"/audit?index={size + 5}", "/audit?index=-1", "/audit?index=abc"]:
            refused = auditor.get(bad)
            assert 400 <= refused.status_code < 500 and "Nothing was changed" in refused.text, bad
        assert auditor.get("/clips").status_code == 403


def test_the_auditor_browses_filters_and_pages_the_log_each_entry_checked(site: Site, fleet: Any) -> None:
    clip = fleet.clip_ids["hh-free"][0]
    with site.store.begin() as conn:
        screening.quarantine(conn, clip, site.clock.now, "flagged private by a reviewer")
    owner.share_clip(site.store, _plus(site), fleet.clip_ids["hh-plus"][1], [REVIEW], None, False, None, site.clock.now)
    with site.browser() as auditor:
        auditor.sign_in("auditor")
        assert 'href="/audit/entries"' in auditor.get("/audit").text
        everything = auditor.get("/audit/entries").text
        indices = [int(i) for i in re.findall(r'<tr data-index="(\d+)">', everything)]
        assert indices == sorted(indices, reverse=True) and len(indices) == min(50, audit_size(site.store))
        assert "NOT in the tree" not in everything and "checked: its bytes hash into the signed head" in everything
        by_kind = auditor.get("/audit/entries?kind=consent").text
        kinds = re.findall(r"</td>\s*<td>([a-z_]+)</td>\s*<td><details>", by_kind)
        assert kinds and set(kinds) == {"consent"}
        shared = auditor.get(f"/audit/entries?clip={fleet.clip_ids['hh-plus'][1]}").text
        assert 'data-index="' in shared and fleet.clip_ids["hh-plus"][1] in shared and clip not in shared
        paged = auditor.get("/audit/entries?kind=&actor=&clip=&since=&until=&before=3").text
        assert [int(i) for i in re.findall(r'<tr data-index="(\d+)">', paged)] == [2, 1, 0]
        later = (site.clock.now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        assert "No entry matches" in auditor.get(f"/audit/entries?since={later}").text
        size = audit_size(site.store)
        checked = auditor.get(f"/audit?first=1&second={size}").text
        assert "the earlier tree is a prefix of the later one" in checked
        for bad in ["/audit/entries?kind=no_such_kind", "/audit/entries?since=yesterday", "/audit/entries?before=x"]:
            refused = auditor.get(bad)
            assert refused.status_code == 400 and "Nothing was changed" in refused.text, bad
        beyond = auditor.get("/audit?first=1000000")
        assert beyond.status_code == 404 and "Nothing was changed" in beyond.text


def test_owners_do_not_get_the_auditor_console(free: PageClient) -> None:
    refused = free.get("/audit")
    assert refused.status_code == 403
    assert re.search(r"<h1>\s*Not allowed\s*</h1>", refused.text)


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_an_unknown_address_is_a_page_in_words_for_a_browser_and_json_for_the_api(free: PageClient, site: Site) -> None:
    before = audit_size(site.store)
    page = free.get("/no-such-page", headers=BROWSER)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert re.search(r"<h1>\s*Not found\s*</h1>", page.text) and "no page at this address" in page.text
    assert "written to the audit log" not in page.text  # nothing was asked of anyone: nothing logged
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    for path, headers in (("/no-such-page", {"Accept": "application/json"}), ("/api/no-such-route", BROWSER)):
        answer = free.get(path, headers=headers)
        assert (answer.status_code, answer.json()) == (404, {"detail": "Not Found"}), path
    assert audit_size(site.store) == before

"""The notices: what each text tells the owner, which version is in force when, and their publication."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from clipwarden.consent import records
from clipwarden.consent.notices import NOTICES, NoticeVersion, in_force, notices_in_force
from clipwarden.consent.vocabulary import PURPOSES, SITES
from clipwarden.errors import ClipwardenError
from clipwarden.sim.config import SimConfig
from clipwarden.store import Store
from clipwarden.store.schema import notices

from .helpers import AFTER_V2, AT, BEFORE_V2, REVIEW, count

CONTRACT_FIELDS = ["purpose", "version", "sha256", "text", "human_review", "sites", "retention_days"]


@pytest.mark.parametrize("at", [AT, SimConfig().start], ids=["test-fleet", "simulation"])
def test_every_purpose_has_one_notice_in_force(at: datetime) -> None:
    listed = notices_in_force(at)
    assert [notice["purpose"] for notice in listed] == list(PURPOSES)
    for notice in listed:
        assert list(notice)[: len(CONTRACT_FIELDS)] == CONTRACT_FIELDS
        assert notice["sha256"] == hashlib.sha256(notice["text"].encode()).hexdigest()


def test_the_version_in_force_is_the_latest_published_by_then() -> None:
    v2_published = datetime(2025, 9, 1, tzinfo=UTC)
    assert [n["version"] for n in notices_in_force(BEFORE_V2) if n["purpose"] == REVIEW] == [1]
    assert [n["version"] for n in notices_in_force(v2_published) if n["purpose"] == REVIEW] == [2]
    assert in_force(NOTICES, REVIEW, v2_published - timedelta(microseconds=1)).version == 1  # type: ignore[union-attr]
    assert notices_in_force(datetime(2024, 5, 31, tzinfo=UTC)) == []


def test_the_history_holds_a_material_and_a_non_material_change() -> None:
    changes = {(n.purpose, n.material) for n in NOTICES if n.version > 1}
    assert (REVIEW, True) in changes and ("troubleshooting", False) in changes
    review = [n for n in NOTICES if n.purpose == REVIEW]
    assert set(review[1].sites) - set(review[0].sites) == {"in-hyd"}


@pytest.mark.parametrize("notice", NOTICES, ids=lambda n: f"{n.purpose}-v{n.version}")
def test_each_text_says_in_plain_words_who_watches_where_how_long_and_how_to_withdraw(
    notice: NoticeVersion,
) -> None:
    text = notice.text
    if notice.human_review:
        assert "People will watch" in text
        assert "pixelated" in text and "unredacted" in text
    else:
        assert "No person will watch" in text and "not redacted" in text
    for code in notice.sites:
        site = SITES[code]
        assert f"{site.city}, {site.country} (site {code}" in text
        assert site.contractor is None or site.contractor in text
    for code in SITES.keys() - set(notice.sites):
        assert code not in text
    assert f"for {notice.retention_days} days" in text
    # How to withdraw: in the app's words since 7 Dec 2026, as the request the app sends before.
    in_words = "open Consents in the app and press Withdraw next to this consent" in text and "/api/" not in text
    assert in_words or ("withdraw at any time with one click" in text and "POST /api/consents/{id}/withdraw" in text)
    assert "takes effect at once" in text


def test_the_texts_say_what_each_purpose_is_for() -> None:
    texts = {n.purpose: n.text for n in NOTICES}  # the latest version of each
    assert "never used to train" in texts["troubleshooting"]
    assert "labels train" in texts[REVIEW]
    assert "whole account" in texts["tester_program"]
    assert "automated training" in texts["automated_training"]


def test_publishing_copies_the_history_once(store: Store) -> None:
    with store.begin() as conn:
        records.publish_notices(conn)
        records.publish_notices(conn)
    with store.connect() as conn:
        rows = conn.execute(select(notices).order_by(notices.c.purpose, notices.c.version)).all()
    assert len(rows) == len(NOTICES)
    by_key = {(n.purpose, n.version): n for n in NOTICES}
    for row in rows:
        notice = by_key[(row.purpose, row.version)]
        assert (row.sha256, row.text, row.sites, row.published_at) == (
            notice.sha256,
            notice.text,
            list(notice.sites),
            notice.published_at,
        )


def test_a_published_version_is_never_rewritten(store: Store) -> None:
    with store.begin() as conn:
        records.publish_notices(conn)
    edited = tuple(replace(n, text=n.text + " Edited.") if n.purpose == REVIEW else n for n in NOTICES)
    refused = pytest.raises(ClipwardenError, match=f"notice {REVIEW} v1 differs .* publish the change as a new")
    with refused, store.begin() as conn:
        records.publish_notices(conn, edited)
    with store.connect() as conn:
        texts = dict(conn.execute(select(notices.c.version, notices.c.text).where(notices.c.purpose == REVIEW)).all())
    assert texts == {n.version: n.text for n in NOTICES if n.purpose == REVIEW}


def test_a_new_version_is_added_beside_the_old(store: Store) -> None:
    with store.begin() as conn:
        records.publish_notices(conn)
    latest = NOTICES[-1]
    newer = replace(latest, version=latest.version + 1, text="Reworded.", published_at=AFTER_V2, material=False)
    with store.begin() as conn:
        records.publish_notices(conn, (*NOTICES, newer))
    assert count(store, notices) == len(NOTICES) + 1

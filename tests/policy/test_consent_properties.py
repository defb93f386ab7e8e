"""Property: over random sequences of share, withdraw, delete, notice change, time passing and view
requests, the enforcement point allows a view exactly when a valid consent covers it at its time (the
clip within its plan's retention, no withdrawal of the clip's share standing), and the independent audit
replay agrees with every decision."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clipwarden.audit import AuditLog
from clipwarden.audit.replay import replay
from clipwarden.domain import PLAN_RETENTION_HOURS, AiVerdict, Camera, Household, RecordedClip
from clipwarden.errors import ClipwardenError
from clipwarden.media.codec import encode_mp4
from clipwarden.policy import gate
from clipwarden.policy.decision import Actor
from clipwarden.services import ingest_clip, owner, register_camera, register_household
from clipwarden.services.screening import _set_controls
from clipwarden.store import Store, open_store

REVIEW = "human_review_for_model_improvement"
START = datetime(2025, 8, 25, tzinfo=UTC)
MATERIAL_CHANGE = datetime(2025, 9, 1, tzinfo=UTC)  # human review notice v2 adds the Hyderabad site
SITES_BY_VERSION = {1: {"ro-buc", "us-sea"}, 2: {"in-hyd", "ro-buc", "us-sea"}}
RETENTION = timedelta(days=90)
HOUSEHOLDS = {"hh-eu": "EU", "hh-us": "US"}
PLANS = {"hh-eu": "pro", "hh-us": "free"}  # clips kept 60 days, and 24 hours
CLIPS = [("hh-eu", 0), ("hh-eu", 1), ("hh-us", 0), ("hh-us", 1)]


@dataclass
class Given:
    clip: int
    version: int
    sites: set[str]
    at: datetime
    withdrawn_at: datetime | None = None


def _tiny_mp4(shade: int) -> bytes:
    """Two flat frames: a real video, each clip its own bytes."""
    return encode_mp4([np.full((48, 64, 3), shade, np.uint8)] * 2, 64, 48, 10)


def _seed(store: Store) -> list[str]:
    ids = []
    for household, jurisdiction in HOUSEHOLDS.items():
        register_household(store, Household(household, jurisdiction, PLANS[household]))  # type: ignore[arg-type]
        register_camera(store, Camera(f"cam-{household}", household, "door", "entrance"))
    for number, (household, n) in enumerate(CLIPS):
        clip = RecordedClip(
            f"cam-{household}", START - timedelta(hours=n + 1), 20.0, 64, 48, 10, "h264", _tiny_mp4(number)
        )
        clip_id = ingest_clip(store, clip, AiVerdict("pet", False, 0.5))
        with store.begin() as conn:  # screened and found harmless, so that consent decides
            _set_controls(conn, clip_id, screened_at=START, screen_flagged=False, screen_score=0.0, screen_reasons=[])
        ids.append(clip_id)
    return ids


steps = st.lists(
    st.one_of(
        st.tuples(st.just("share"), st.integers(0, 3), st.booleans()),
        st.tuples(st.just("withdraw"), st.integers(0, 7), st.just(False)),
        st.tuples(st.just("delete"), st.integers(0, 3), st.just(False)),
        st.tuples(st.just("later"), st.sampled_from([1, 3, 60, 24 * 60, 5 * 24 * 60, 100 * 24 * 60]), st.just(False)),
        st.tuples(st.just("view"), st.integers(0, 3), st.sampled_from(["ro-buc", "in-hyd", "us-sea"])),
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_views_are_allowed_exactly_when_consent_covers_them_and_replay_agrees(script: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as data, open_store(Path(data), None) as store:
        clip_ids = _seed(store)
        owners = {h: Actor(f"owner-{h}", "owner", household_id=h) for h in HOUSEHOLDS}
        now, given, consent_ids, deleted = START, [], [], set()
        for action, number, option in script:
            now += timedelta(seconds=1)
            household = CLIPS[number % 4][0]
            if action == "later":
                now += timedelta(minutes=number)
            elif action == "share":
                sites = ["ro-buc", "us-sea"] if option else None
                try:
                    shared = owner.share_clip(
                        store, owners[household], clip_ids[number], [REVIEW], None, False, sites, now
                    )
                except ClipwardenError:
                    assert number in deleted or now >= _expires(number)
                    continue
                version = 2 if now >= MATERIAL_CHANGE else 1
                chosen = (
                    set(sites)
                    if sites
                    else {s for s in SITES_BY_VERSION[version] if HOUSEHOLDS[household] != "EU" or s == "ro-buc"}
                )
                given.append(Given(number, version, chosen, now))
                consent_ids.append((shared["consent_id"], household))
            elif action == "withdraw" and number < len(consent_ids):
                consent_id, household = consent_ids[number]
                try:
                    owner.withdraw_consent(store, owners[household], consent_id, now)
                    given[number].withdrawn_at = now
                except ClipwardenError:
                    # Already ended: withdrawn before, or revoked when its clip was deleted.
                    assert given[number].withdrawn_at is not None or given[number].clip in deleted
            elif action == "delete" and number not in deleted:
                owner.delete_clip(store, owners[household], clip_ids[number], now)
                deleted.add(number)
            elif action == "view":
                reviewer = Actor(f"reviewer-{option}", "reviewer", site=option)
                decision = gate.check(
                    store, gate.Ask(reviewer, "view_media", clip_ids[number], REVIEW, now, gate.Circumstances(True))
                )
                assert decision.allow == _covered(given, number, option, now, deleted), decision.reason
        result = replay(entry.leaf for entry in AuditLog(store).entries())
        assert result.views_without_consent == 0
        assert result.disagreements == ()


def _expires(clip: int) -> datetime:
    household, n = CLIPS[clip]
    return START - timedelta(hours=n + 1) + timedelta(hours=PLAN_RETENTION_HOURS[PLANS[household]])


def _covered(given: list[Given], clip: int, site: str, at: datetime, deleted: set[int]) -> bool:
    """The reference model, straight from the notices: a standing consent to a version not older than
    the latest material one, within its retention, that names the site; the clip kept by its plan; and no
    withdrawal of a share of the clip without a share given after it."""
    if clip in deleted or at >= _expires(clip):
        return False
    own = [g for g in given if g.clip == clip]
    withdrawals = [g.withdrawn_at for g in own if g.withdrawn_at is not None]
    if withdrawals and not any(g.at > max(withdrawals) for g in own):
        return False
    required = 2 if at >= MATERIAL_CHANGE else 1
    return any(
        g.withdrawn_at is None
        and g.version >= required
        and at < g.at + RETENTION
        and site in g.sites & SITES_BY_VERSION[g.version]
        for g in own
    )

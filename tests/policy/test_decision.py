"""The enforcement point's pure rules: deny by default, each rule with its reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from clipwarden.policy.decision import Actor, ClipFacts, Context, Decision, Grant, Request, decide

AT = datetime(2026, 1, 5, 12, tzinfo=UTC)
OWNER = Actor("u-owner", "owner", household_id="hh-1")
STRANGER = Actor("u-other", "owner", household_id="hh-2")
REVIEWER_EU = Actor("u-rev-ro", "reviewer", site="ro-buc")
REVIEWER_IN = Actor("u-rev-in", "reviewer", site="in-hyd")
CLIP = ClipFacts("clip-1", "hh-1", "EU", "stored", screened=True)
REVIEW = "human_review_for_model_improvement"
GRANT = Grant("c-1", frozenset({REVIEW}), frozenset({"ro-buc"}))


def review(actor: Actor = REVIEWER_EU, clip: ClipFacts | None = CLIP, **context: object) -> Request:
    settings = {"grants": (GRANT,), "lease_active": True} | context
    return Request(actor, "view_media", clip, REVIEW, Context(at=AT, **settings))  # type: ignore[arg-type]


def test_a_reviewer_with_consent_lease_and_site_may_view() -> None:
    decision = decide(review())
    assert decision.allow and decision.consent_id == "c-1"


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (review(grants=()), "no valid consent covers human_review_for_model_improvement"),
        (review(lease_active=False), "no active lease on a task for this clip"),
        (review(views_today=150), "daily cap of 150 clips reached"),
        (review(clip=replace(CLIP, status="deleted")), "clip is deleted"),
        (review(clip=replace(CLIP, quarantined=True)), "clip is quarantined"),
        (review(clip=replace(CLIP, screened=False)), "clip has not been through the sensitive-content screen"),
        (review(clip=None), "no such clip"),
        (review(actor=REVIEWER_IN), "residency: an EU clip, and the owner did not agree to transfer to site in-hyd"),
    ],
)
def test_each_missing_condition_denies_with_its_reason(request_: Request, reason: str) -> None:
    decision = decide(request_)
    assert not decision.allow
    assert decision.reason == reason


def test_a_flagged_clip_is_held_until_its_owner_confirms() -> None:
    flagged = replace(CLIP, flagged=True)
    assert not decide(review(clip=flagged)).allow
    assert decide(review(clip=replace(flagged, owner_confirmed_sensitive=True))).allow


def test_a_troubleshooting_share_never_feeds_annotation_or_training() -> None:
    troubleshooting = Grant("c-2", frozenset({"troubleshooting"}), frozenset({"ro-buc"}))
    assert not decide(review(grants=(troubleshooting,))).allow
    trainer = Actor("trainer", "system")
    train = Request(trainer, "train", CLIP, "automated_training", Context(at=AT, grants=(troubleshooting,)))
    assert decide(train).reason == "no valid consent covers automated_training"


def test_an_eu_owner_may_agree_to_a_site_outside_the_eu() -> None:
    agreed = Grant("c-3", frozenset({REVIEW}), frozenset({"ro-buc", "in-hyd"}))
    assert decide(review(actor=REVIEWER_IN, grants=(agreed,))).allow


def test_the_tester_program_covers_human_review() -> None:
    tester = Grant("c-4", frozenset({"tester_program"}), frozenset({"in-hyd"}))
    us_clip = replace(CLIP, jurisdiction="US")
    assert decide(review(actor=REVIEWER_IN, clip=us_clip, grants=(tester,))).allow


def test_owners_see_their_own_clips_even_quarantined_and_nobody_elses() -> None:
    own = Request(OWNER, "view_media", replace(CLIP, quarantined=True), "owner_access", Context(at=AT))
    assert decide(own).allow
    foreign = Request(STRANGER, "view_media", CLIP, "owner_access", Context(at=AT))
    assert decide(foreign).reason == "no such clip"
    gone = Request(OWNER, "view_media", replace(CLIP, status="deleted"), "owner_access", Context(at=AT))
    assert decide(gone).reason == "clip is deleted"


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_auditors_and_operators_never_view_pixels(role: str) -> None:
    actor = Actor(f"u-{role}", role)  # type: ignore[arg-type]
    assert not decide(Request(actor, "view_media", CLIP, REVIEW, Context(at=AT, grants=(GRANT,)))).allow


def test_reviewers_cannot_do_owner_things() -> None:
    for action in ("delete", "share", "export", "view_metadata"):
        context = Context(at=AT, grants=(GRANT,), lease_active=True)
        assert not decide(Request(REVIEWER_EU, action, CLIP, REVIEW, context)).allow  # type: ignore[arg-type]


EXPIRED = replace(CLIP, expires_at=AT)  # its retention ends at the request's instant; not swept yet
GONE = "clip expired at 2026-01-05T12:00:00Z: its retention ended and the owner's copy is gone"


@pytest.mark.parametrize("actor", [OWNER, Actor("operator", "admin")])
def test_past_its_retention_a_clip_is_still_listed_and_deletable_but_never_used(actor: Actor) -> None:
    allowed = {"view_media": False, "share": False, "export": False, "view_metadata": True, "delete": True}
    for action, allow in allowed.items():
        decision = decide(Request(actor, action, EXPIRED, "owner_access", Context(at=AT)))  # type: ignore[arg-type]
        assert (decision.allow, decision.reason) == (allow, decision.reason if allow else GONE), action
    kept = replace(EXPIRED, expires_at=AT.replace(hour=13))
    assert decide(Request(actor, "export", kept, "owner_access", Context(at=AT))).allow


def test_past_its_retention_nobody_reviews_or_trains_on_a_clip() -> None:
    assert decide(review(clip=EXPIRED)).reason == GONE
    training = Grant("c-5", frozenset({"automated_training"}), frozenset())
    train = Request(Actor("trainer", "system"), "train", EXPIRED, "automated_training", Context(AT, (training,)))
    assert decide(train).reason == GONE


def test_a_withdrawn_share_of_the_clip_names_the_exclusion() -> None:
    tester = Grant("c-4", frozenset({"tester_program"}), frozenset({"ro-buc"}))
    decision = decide(review(grants=(tester,), share_withdrawn_at=AT.replace(hour=9)))
    assert not decision.allow
    assert decision.reason == (
        "no valid consent covers human_review_for_model_improvement: the owner withdrew their share of this clip "
        "at 2026-01-05T09:00:00Z, which excludes it from every consent of the household until they share it again"
    )


def test_training_takes_no_clip_the_screen_holds_and_says_whether_it_may_be_unredacted() -> None:
    training = Grant("c-6", frozenset({"tester_program"}), frozenset(), allow_unredacted=True)

    def train(clip: ClipFacts) -> Decision:
        return decide(
            Request(Actor("trainer", "system"), "train", clip, "automated_training", Context(AT, (training,)))
        )

    assert (train(CLIP).allow, train(CLIP).unredacted) == (True, True)
    held = replace(CLIP, flagged=True)
    assert train(held).reason.startswith("held: the screen flagged")
    assert train(replace(held, owner_confirmed_sensitive=True)).allow
    assert not train(replace(CLIP, screened=False)).allow


def test_the_dataset_job_exports_exactly_where_it_may_train_and_does_nothing_else() -> None:
    training = Grant("c-7", frozenset({"automated_training"}), frozenset(), allow_unredacted=False)
    job = Actor("dataset-export", "system")

    def ask(action: str, clip: ClipFacts, grants: tuple[Grant, ...] = (training,)) -> Decision:
        return decide(Request(job, action, clip, "automated_training", Context(AT, grants)))  # type: ignore[arg-type]

    for clip in (CLIP, EXPIRED, replace(CLIP, quarantined=True), replace(CLIP, flagged=True)):
        assert (ask("export", clip).allow, ask("export", clip).reason) == (
            ask("train", clip).allow,
            ask("train", clip).reason,
        )
    assert ask("export", CLIP).allow and not ask("export", CLIP).unredacted
    assert ask("export", CLIP, ()).reason == "no valid consent covers automated_training"
    for action in ("view_media", "view_metadata", "delete", "annotate"):
        assert ask(action, CLIP).reason == "the training job only trains and exports datasets"

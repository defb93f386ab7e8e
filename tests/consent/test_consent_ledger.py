"""The pure consent rules: property tests against a reference model, and the rules on the real notices."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import accumulate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clipwarden.consent import ledger
from clipwarden.consent.ledger import Consent, ConsentEvent, Terms
from clipwarden.consent.notices import NOTICES, NoticeVersion, check_history
from clipwarden.consent.vocabulary import CONSENT_STATES, FINAL_STATES, ConsentState, Purpose
from clipwarden.errors import ClipwardenError

from .helpers import AFTER_V2, BEFORE_V2, REVIEW

BASE = datetime(2030, 1, 1, tzinfo=UTC)
PURPOSE: Purpose = "troubleshooting"
HOUR = timedelta(hours=1)
STANDING = [state for state in CONSENT_STATES if state not in FINAL_STATES]


def _notice(version: int, published_at: datetime, material: bool, retention_days: int) -> NoticeVersion:
    return NoticeVersion(
        PURPOSE, version, f"text {version}", True, ("ro-buc",), True, retention_days, material, published_at
    )


def _consent(version: int = 1, given_at: datetime = BASE, purposes: tuple[str, ...] = (PURPOSE,)) -> Consent:
    return Consent(
        "c1", "h1", "clip1", purposes, Terms({PURPOSE: version}, ("ro-buc",)), False, "US", given_at, "owner:h1"
    )


def _renewal(seq: int, at: datetime, version: int) -> ConsentEvent:
    return ConsentEvent(seq, at, "RenewedConsentGiven", "owner:h1", Terms({PURPOSE: version}, ("ro-buc",)))


@st.composite
def histories(draw: st.DrawFn) -> tuple[NoticeVersion, ...]:
    """Versions 1..n of one purpose's notice: v1 just before BASE, later ones hours apart, each
    material or not, all with one retention."""
    count = draw(st.integers(1, 4))
    gaps = draw(st.lists(st.integers(1, 300), min_size=count - 1, max_size=count - 1))
    materials = [True, *draw(st.lists(st.booleans(), min_size=count - 1, max_size=count - 1))]
    retention = draw(st.integers(1, 30))
    times = [BASE - HOUR, *(BASE + hours * HOUR for hours in accumulate(gaps))]
    return tuple(
        _notice(version, published, material, retention)
        for version, (published, material) in enumerate(zip(times, materials, strict=True), start=1)
    )


@st.composite
def timelines(
    draw: st.DrawFn, history: tuple[NoticeVersion, ...], states: st.SearchStrategy[ConsentState]
) -> list[ConsentEvent]:
    """ConsentGiven at BASE, then random DPV states at non-decreasing times; renewals to any version."""
    drawn = draw(st.lists(st.tuples(st.integers(0, 400), states, st.integers(1, len(history))), max_size=6))
    events = [ConsentEvent(0, BASE, "ConsentGiven", "owner:h1")]
    at = BASE
    for seq, (gap, state, version) in enumerate(drawn, start=1):
        at += gap * HOUR
        renewed = _renewal(seq, at, version)
        events.append(renewed if state == "RenewedConsentGiven" else replace(renewed, state=state, terms=None))
    return events


def reference_valid(
    consent: Consent,
    events: list[ConsentEvent],
    history: tuple[NoticeVersion, ...],
    at: datetime,
    purpose: str,
) -> bool:
    """The rules as a walk through time: what an auditor replaying the history would conclude."""
    if purpose not in consent.purposes:
        return False
    happened: list[tuple[datetime, int, int, NoticeVersion | ConsentEvent]]
    happened = [(n.published_at, 0, n.version, n) for n in history if n.purpose == purpose]
    happened += [(e.at, 1, e.seq, e) for e in events]
    state, version, required = None, consent.terms.notice_versions[purpose], 0
    for when, _, _, thing in sorted(happened, key=lambda item: item[:3]):
        if when > at:
            break
        if isinstance(thing, NoticeVersion):
            required = thing.version if thing.material else required
        elif state not in FINAL_STATES:
            state = thing.state
            version = thing.terms.notice_versions[purpose] if thing.terms else version
    if state not in ("ConsentGiven", "RenewedConsentGiven"):
        return False
    retention = next(n.retention_days for n in history if n.version == version)
    return version >= required and at < consent.given_at + timedelta(days=retention)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[tuple[NoticeVersion, ...], list[ConsentEvent], list[datetime]]:
    history = draw(histories())
    events = draw(timelines(history, st.sampled_from(CONSENT_STATES)))
    checks = draw(st.lists(st.integers(-5, 1200), min_size=1, max_size=8))
    return history, events, [BASE + hours * HOUR for hours in checks]


@given(scenarios(), st.sampled_from([PURPOSE, "automated_training"]))
def test_validity_matches_the_reference_model(
    scenario: tuple[tuple[NoticeVersion, ...], list[ConsentEvent], list[datetime]], purpose: str
) -> None:
    history, events, checks = scenario
    consent = _consent()
    for at in checks:
        valid, reason = ledger.is_valid(consent, events, history, at, purpose)
        assert valid == reference_valid(consent, events, history, at, purpose), reason
        assert (ledger.valid_for(consent, events, history, at, purpose) is not None) == valid


@given(histories(), st.data())
def test_a_final_state_is_never_left(history: tuple[NoticeVersion, ...], data: st.DataObject) -> None:
    # Whatever follows a withdrawal (renewals included), the consent permits nothing from then on.
    before = data.draw(timelines(history, st.sampled_from(STANDING)))
    final = data.draw(st.sampled_from(sorted(FINAL_STATES)))
    ended_at = before[-1].at + data.draw(st.integers(0, 50)) * HOUR
    ended = ConsentEvent(len(before), ended_at, final, "owner:h1")  # type: ignore[arg-type]
    after = data.draw(timelines(history, st.just("RenewedConsentGiven")))[1:]
    later = [replace(e, seq=e.seq + len(before), at=e.at - BASE + ended_at) for e in after]
    events = [*before, ended, *later]
    for hours in data.draw(st.lists(st.integers(0, 1000), min_size=1, max_size=5)):
        at = ended_at + hours * HOUR
        assert ledger.state_at(events, at) == final
        assert not ledger.is_valid(_consent(), events, history, at, PURPOSE)[0]
        assert not ledger.retention_over(_consent(), events, history, at)


@given(st.booleans(), st.integers(1, 100), st.integers(0, 100), st.integers(0, 100))
def test_a_material_change_lapses_older_consents_until_renewed(
    material: bool, published_after: int, renewed_after: int, checked_after: int
) -> None:
    v2_at = BASE + published_after * HOUR
    history = (_notice(1, BASE - HOUR, True, 60), _notice(2, v2_at, material, 60))
    given_only = [ConsentEvent(0, BASE, "ConsentGiven", "owner:h1")]
    assert ledger.is_valid(_consent(), given_only, history, v2_at - HOUR, PURPOSE)[0]
    valid, reason = ledger.is_valid(_consent(), given_only, history, v2_at + checked_after * HOUR, PURPOSE)
    assert valid is not material
    assert ("changed materially in version 2" in reason) is material
    renewed_at = v2_at + renewed_after * HOUR
    renewed = [*given_only, _renewal(1, renewed_at, 2)]
    assert ledger.is_valid(_consent(), renewed, history, renewed_at + checked_after * HOUR, PURPOSE)[0]


@given(histories(), st.integers(0, 2000))
def test_retention_runs_from_when_consent_was_given(history: tuple[NoticeVersion, ...], hours: int) -> None:
    consent = _consent(version=len(history))  # on the latest version: no lapse
    events = [ConsentEvent(0, BASE, "ConsentGiven", "owner:h1")]
    at = max(BASE + hours * HOUR, history[-1].published_at)
    end = BASE + timedelta(days=history[-1].retention_days)
    valid, reason = ledger.is_valid(consent, events, history, at, PURPOSE)
    assert valid == (at < end)
    assert ledger.retention_over(consent, events, history, at) == (at >= end)
    if not valid:
        assert reason.startswith(f"retention of the shared copy for {PURPOSE} ended")


def test_the_shared_copy_expires_exactly_at_the_end_of_retention() -> None:
    history = (_notice(1, BASE - HOUR, True, 30), replace(_notice(1, BASE - HOUR, True, 90), purpose=REVIEW))
    consent = replace(_consent(purposes=(PURPOSE, REVIEW)), terms=Terms({PURPOSE: 1, REVIEW: 1}, ("ro-buc",)))
    events = [ConsentEvent(0, BASE, "ConsentGiven", "owner:h1")]
    short_end, long_end = BASE + timedelta(days=30), BASE + timedelta(days=90)
    tick = timedelta(microseconds=1)
    assert ledger.is_valid(consent, events, history, short_end - tick, PURPOSE)[0]
    assert not ledger.is_valid(consent, events, history, short_end, PURPOSE)[0]
    assert ledger.is_valid(consent, events, history, short_end, REVIEW)[0]
    # The consent as a whole ends when the last purpose's retention does.
    assert not ledger.retention_over(consent, events, history, long_end - tick)
    assert ledger.retention_over(consent, events, history, long_end)


def test_nothing_is_valid_before_consent_is_given() -> None:
    events = [ConsentEvent(0, BASE, "ConsentGiven", "owner:h1")]
    history = (_notice(1, BASE - HOUR, True, 30),)
    assert ledger.state_at(events, BASE - HOUR) is None
    assert ledger.is_valid(_consent(), events, history, BASE - HOUR, PURPOSE) == (
        False,
        "consent is not given yet",
    )


# The rules on the notices the service publishes.


def test_the_real_review_notice_change_lapses_consents_to_version_1() -> None:
    consent = replace(_consent(given_at=BEFORE_V2, purposes=(REVIEW,)), terms=Terms({REVIEW: 1}, ("ro-buc",)))
    events = [ConsentEvent(0, BEFORE_V2, "ConsentGiven", "owner:h1")]
    assert ledger.is_valid(consent, events, NOTICES, AFTER_V2 - timedelta(days=2), REVIEW)[0]
    valid, reason = ledger.is_valid(consent, events, NOTICES, AFTER_V2, REVIEW)
    assert not valid and "changed materially in version 2" in reason
    terms = Terms({REVIEW: 2}, ("in-hyd", "ro-buc"))
    renewed = [*events, ConsentEvent(1, AFTER_V2, "RenewedConsentGiven", "owner:h1", terms)]
    assert ledger.is_valid(consent, renewed, NOTICES, AFTER_V2, REVIEW) == (
        True,
        f"RenewedConsentGiven to notice {REVIEW} v2",
    )
    permitted = ledger.valid_for(consent, renewed, NOTICES, AFTER_V2, REVIEW)
    assert permitted is not None and (permitted.notice_version, permitted.sites) == (2, ("in-hyd", "ro-buc"))
    assert ledger.agreement(consent, renewed) == (AFTER_V2, terms)


def test_the_real_troubleshooting_rewording_keeps_consents_to_version_1() -> None:
    given_at = datetime(2025, 5, 20, tzinfo=UTC)
    consent = _consent(given_at=given_at)
    events = [ConsentEvent(0, given_at, "ConsentGiven", "owner:h1")]
    assert ledger.is_valid(consent, events, NOTICES, datetime(2025, 6, 2, tzinfo=UTC), PURPOSE)[0]


def test_sites_agreed_to_count_only_where_the_notice_names_them() -> None:
    consent = replace(_consent(purposes=(PURPOSE,)), terms=Terms({PURPOSE: 1}, ("in-hyd", "ro-buc")))
    events = [ConsentEvent(0, BASE, "ConsentGiven", "owner:h1")]
    permitted = ledger.valid_for(consent, events, (_notice(1, BASE - HOUR, True, 30),), BASE, PURPOSE)
    assert permitted is not None and permitted.sites == ("ro-buc",)


# Checking requests


def test_purposes_are_checked_and_deduplicated() -> None:
    assert ledger.check_purposes([REVIEW, "automated_training", REVIEW], "clip1") == (REVIEW, "automated_training")
    assert ledger.check_purposes(["tester_program"], None) == ("tester_program",)
    refusals: dict[str, tuple[list[str], str | None]] = {
        "unknown purpose 'marketing'": (["marketing"], "clip1"),
        "at least one purpose": ([], "clip1"),
        "whole account, not for one clip": (["tester_program"], "clip1"),
        "name the clip": ([REVIEW], None),
    }
    for message, (purposes, clip_id) in refusals.items():
        with pytest.raises(ClipwardenError, match=message):
            ledger.check_purposes(purposes, clip_id)


def test_only_the_notice_version_in_force_can_be_agreed_to() -> None:
    assert ledger.agreed_notices([REVIEW], None, NOTICES, AFTER_V2)[REVIEW].version == 2
    assert ledger.agreed_notices([REVIEW], {REVIEW: 1}, NOTICES, BEFORE_V2)[REVIEW].version == 1
    with pytest.raises(ClipwardenError, match=f"^notice version 1 is not in force for purpose {REVIEW}; "):
        ledger.agreed_notices([REVIEW], 1, NOTICES, AFTER_V2)
    with pytest.raises(ClipwardenError, match="notice version 7 is not in force"):
        ledger.agreed_notices([REVIEW], 7, NOTICES, AFTER_V2)
    with pytest.raises(ClipwardenError, match="no notice for purpose"):
        ledger.agreed_notices([REVIEW], None, NOTICES, datetime(2020, 1, 1, tzinfo=UTC))


def test_default_sites_keep_eu_clips_in_the_eu_unless_the_owner_chooses() -> None:
    agreed = ledger.agreed_notices([REVIEW], None, NOTICES, AFTER_V2)
    assert ledger.choose_sites("EU", agreed, None) == ("ro-buc",)
    assert ledger.choose_sites("US", agreed, None) == ("in-hyd", "ro-buc", "us-sea")
    assert ledger.choose_sites("IN", agreed, None) == ("in-hyd", "ro-buc", "us-sea")
    assert ledger.choose_sites("EU", agreed, ["us-sea", "ro-buc"]) == ("ro-buc", "us-sea")
    before = ledger.agreed_notices([REVIEW], None, NOTICES, BEFORE_V2)
    with pytest.raises(ClipwardenError, match="sites in-hyd are not named in the notice"):
        ledger.choose_sites("EU", before, ["in-hyd"])
    nobody = ledger.agreed_notices(["automated_training"], None, NOTICES, AFTER_V2)
    assert ledger.choose_sites("US", nobody, None) == ()
    with pytest.raises(ClipwardenError, match="it names: none"):
        ledger.choose_sites("US", nobody, ["us-sea"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda n: (replace(n[0], purpose="marketing"),), "unknown purpose"),
        (lambda n: (replace(n[0], sites=("xx-nowhere",)),), "unknown sites"),
        (lambda n: (replace(n[0], sites=()),), "sites exactly when people watch"),
        (lambda n: (n[0], replace(n[1], version=3)), "versions must run 1, 2"),
        (lambda n: (replace(n[0], material=False), n[1]), "version 1 must be material"),
        (lambda n: (n[0], replace(n[1], published_at=n[0].published_at)), "published after"),
    ],
    ids=["purpose", "site", "no-sites", "gap", "v1-material", "order"],
)
def test_impossible_notice_histories_are_refused(change: object, message: str) -> None:
    history = (_notice(1, BASE, True, 30), _notice(2, BASE + HOUR, False, 30))
    check_history(history)
    with pytest.raises(ValueError, match=message):
        check_history(change(history))  # type: ignore[operator]


def test_a_withdrawn_share_excludes_its_clip_until_the_owner_shares_it_again() -> None:
    def given(consent_id: str, clip_id: str | None, at: datetime) -> tuple[Consent, list[ConsentEvent]]:
        consent = replace(_consent(given_at=at), id=consent_id, clip_id=clip_id)
        return consent, [ConsentEvent(0, at, "ConsentGiven", "owner:h1")]

    tester, first, second = given("tester", None, BASE), given("a", "clip1", BASE), given("b", "clip1", BASE + HOUR)
    first[1].append(ConsentEvent(1, BASE + 2 * HOUR, "ConsentWithdrawn", "owner:h1"))
    recorded = [tester, first, second]
    assert ledger.share_withdrawn_at(recorded, "clip1", BASE + HOUR) is None  # not withdrawn yet
    assert ledger.share_withdrawn_at(recorded, "clip1", BASE + 3 * HOUR) == BASE + 2 * HOUR  # b stands, still out
    assert ledger.share_withdrawn_at(recorded, "clip2", BASE + 3 * HOUR) is None  # another clip
    shared_again = given("c", "clip1", BASE + 4 * HOUR)
    assert ledger.share_withdrawn_at([*recorded, shared_again], "clip1", BASE + 4 * HOUR) is None
    revoked = given("d", "clip2", BASE)
    revoked[1].append(ConsentEvent(1, BASE + HOUR, "ConsentRevoked", "erasure"))
    assert ledger.share_withdrawn_at([revoked], "clip2", BASE + 2 * HOUR) is None  # only the owner's withdrawal

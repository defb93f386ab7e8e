"""The consent rules, as pure functions over plain data: no I/O, nothing but the arguments.

A consent is a record of what an owner agreed to (purposes, the notice version shown for each, the
reviewer sites, whether reviewers may see the clip unredacted) plus an append-only history of DPV states.
It permits processing for a purpose at an instant when, at that instant, its state is ConsentGiven or
RenewedConsentGiven, the purpose is one it names, no material notice change has overtaken the version
agreed to, and the shared copy's retention has not run out. A final state (withdrawn, expired, ...) is
never left: only a new consent permits processing again (GDPR Art. 7(3)).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from clipwarden.consent import notices as notice_rules
from clipwarden.consent.notices import NoticeVersion
from clipwarden.consent.vocabulary import (
    ACCOUNT_WIDE_PURPOSES,
    FINAL_STATES,
    PURPOSES,
    SITES,
    VALID_STATES,
    ConsentState,
)
from clipwarden.errors import ClipwardenError
from clipwarden.times import iso_utc


@dataclass(frozen=True)
class Terms:
    """The notice version agreed to for each purpose, and the sites people may watch from."""

    notice_versions: Mapping[str, int]
    sites: tuple[str, ...]


@dataclass(frozen=True)
class Consent:
    id: str
    household_id: str
    clip_id: str | None  # None: account-wide (the tester program)
    purposes: tuple[str, ...]
    terms: Terms  # as first given; renewals carry their own
    allow_unredacted: bool
    jurisdiction: str
    given_at: datetime
    given_by: str


@dataclass(frozen=True)
class ConsentEvent:
    seq: int
    at: datetime
    state: ConsentState
    actor: str
    terms: Terms | None = None  # the terms renewed to, on RenewedConsentGiven


@dataclass(frozen=True)
class ValidConsent:
    """A consent that permits ``purpose`` now, with what it permits: the enforcement point's input."""

    consent_id: str
    purpose: str
    notice_version: int
    sites: tuple[str, ...]  # agreed to by the owner and named in the notice version agreed to
    allow_unredacted: bool
    account_wide: bool


Verdict = tuple[bool, str]


def state_at(events: Iterable[ConsentEvent], at: datetime) -> ConsentState | None:
    """The consent's state at ``at``: the first final state reached by then, else the latest state;
    None before the first event."""
    state: ConsentState | None = None
    for event in _ordered(events):
        if event.at > at:
            break
        state = event.state
        if state in FINAL_STATES:
            break
    return state


def terms_at(consent: Consent, events: Iterable[ConsentEvent], at: datetime) -> Terms:
    """The terms in effect at ``at``: those of the latest renewal by then, else those first given."""
    renewed = [e.terms for e in _ordered(events) if e.at <= at and e.terms is not None]
    return renewed[-1] if renewed else consent.terms


def agreement(consent: Consent, events: Iterable[ConsentEvent]) -> tuple[datetime, Terms]:
    """When the owner last gave or renewed the consent, and the terms then agreed to."""
    agreed = [event for event in _ordered(events) if event.state in VALID_STATES]
    if not agreed:
        return consent.given_at, consent.terms
    return agreed[-1].at, agreed[-1].terms or consent.terms


def retention_end(consent: Consent, notice: NoticeVersion) -> datetime:
    """When the shared copy made under ``notice`` must be gone: counted from when consent was given."""
    return consent.given_at + timedelta(days=notice.retention_days)


def is_valid(
    consent: Consent,
    events: Sequence[ConsentEvent],
    history: Sequence[NoticeVersion],
    at: datetime,
    purpose: str,
) -> Verdict:
    """Whether ``consent`` permits ``purpose`` at ``at``, and why (or why not)."""
    state = state_at(events, at)
    if state not in VALID_STATES:
        return False, f"consent is {state or 'not given yet'}"
    if purpose not in consent.purposes:
        return False, f"consent does not cover purpose {purpose}"
    version = terms_at(consent, events, at).notice_versions[purpose]
    required = notice_rules.latest_material(history, purpose, at)
    if required is not None and version < required.version:
        return False, (
            f"notice for {purpose} changed materially in version {required.version}; "
            f"consent is to version {version} and lapsed until renewed"
        )
    notice = notice_rules.find(history, purpose, version)
    if notice is None:
        return False, f"notice version {version} for {purpose} was never published"
    if at >= (end := retention_end(consent, notice)):
        return False, f"retention of the shared copy for {purpose} ended at {iso_utc(end)}"
    return True, f"{state} to notice {purpose} v{version}"


def valid_for(
    consent: Consent,
    events: Sequence[ConsentEvent],
    history: Sequence[NoticeVersion],
    at: datetime,
    purpose: str,
) -> ValidConsent | None:
    """What ``consent`` permits for ``purpose`` at ``at``, or None if it does not."""
    if not is_valid(consent, events, history, at, purpose)[0]:
        return None
    terms = terms_at(consent, events, at)
    notice = notice_rules.find(history, purpose, terms.notice_versions[purpose])
    assert notice is not None  # is_valid checked it
    return ValidConsent(
        consent_id=consent.id,
        purpose=purpose,
        notice_version=notice.version,
        sites=tuple(site for site in terms.sites if site in notice.sites),
        allow_unredacted=consent.allow_unredacted,
        account_wide=consent.clip_id is None,
    )


def share_withdrawn_at(
    recorded: Iterable[tuple[Consent, Sequence[ConsentEvent]]], clip_id: str, at: datetime
) -> datetime | None:
    """When the owner last withdrew a share of this clip, if they have not shared it again since (by ``at``).
    The owner's most specific word wins: until they share the clip again, no consent of the household
    covers it, the account-wide tester program included (DESIGN invariant 6)."""
    own = [(consent, events) for consent, events in recorded if consent.clip_id == clip_id]
    withdrawn = [e.at for _, events in own for e in events if e.state == "ConsentWithdrawn" and e.at <= at]
    if not withdrawn:
        return None
    last = max(withdrawn)
    shared_again = any(last < consent.given_at <= at for consent, _ in own)
    return None if shared_again else last


def retention_over(
    consent: Consent, events: Sequence[ConsentEvent], history: Sequence[NoticeVersion], at: datetime
) -> bool:
    """True when a consent still standing has outlived the retention of every purpose it names: time
    to record it as ConsentExpired."""
    if state_at(events, at) not in VALID_STATES:
        return False
    terms = terms_at(consent, events, at)
    agreed = (notice_rules.find(history, p, terms.notice_versions[p]) for p in consent.purposes)
    return all(notice is None or at >= retention_end(consent, notice) for notice in agreed)


# Checking a request to give or renew consent.


def check_purposes(purposes: Iterable[str], clip_id: str | None) -> tuple[str, ...]:
    """The purposes asked for, without repeats; refused if unknown, or given at the wrong scope."""
    asked = tuple(dict.fromkeys(purposes))
    if not asked:
        raise ClipwardenError("a consent needs at least one purpose")
    for purpose in asked:
        if purpose not in PURPOSES:
            raise ClipwardenError(f"unknown purpose {purpose!r}; purposes are {', '.join(PURPOSES)}")
        if purpose in ACCOUNT_WIDE_PURPOSES and clip_id is not None:
            raise ClipwardenError(f"{purpose} is given for the whole account, not for one clip")
        if purpose not in ACCOUNT_WIDE_PURPOSES and clip_id is None:
            raise ClipwardenError(f"{purpose} is given for one clip: name the clip")
    return asked


def agreed_notices(
    purposes: Sequence[str],
    requested: Mapping[str, int] | int | None,
    history: Sequence[NoticeVersion],
    at: datetime,
) -> dict[str, NoticeVersion]:
    """The notice shown for each purpose: the version in force at ``at``. ``requested`` names the
    version(s) the owner saw (one number for all purposes, or one per purpose; None: those in force);
    any other version is refused, since the owner would have agreed to a text no longer shown."""
    agreed = {}
    for purpose in purposes:
        current = notice_rules.in_force(history, purpose, at)
        if current is None:
            raise ClipwardenError(f"no notice for purpose {purpose} was in force at {iso_utc(at)}")
        wanted = requested.get(purpose) if isinstance(requested, Mapping) else requested
        if wanted is not None and wanted != current.version:
            raise ClipwardenError(
                f"notice version {wanted} is not in force for purpose {purpose}; version {current.version} is"
            )
        agreed[purpose] = current
    return agreed


def choose_sites(
    jurisdiction: str, agreed: Mapping[str, NoticeVersion], requested: Iterable[str] | None
) -> tuple[str, ...]:
    """The sites the owner agrees to. By default every site the notices name, except for EU households:
    only EU sites, since a transfer out of the EU needs the owner's explicit choice (GDPR Art. 44-46)."""
    named = sorted({site for notice in agreed.values() for site in notice.sites})
    if requested is None:
        return tuple(site for site in named if jurisdiction != "EU" or SITES[site].in_eu)
    chosen = tuple(sorted(set(requested)))
    if strays := [site for site in chosen if site not in named]:
        shown = ", ".join(named) or "none"
        raise ClipwardenError(f"sites {', '.join(strays)} are not named in the notice (it names: {shown})")
    return chosen


def _ordered(events: Iterable[ConsentEvent]) -> list[ConsentEvent]:
    return sorted(events, key=lambda event: (event.at, event.seq))

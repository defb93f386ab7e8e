"""The enforcement point's rules: a pure function from plain facts to an allow or deny, with its reason.

Deny by default. Every rule is a small function over the request and the facts gathered for it; the
first rule that objects decides. Nothing here reads a database, a file or a clock: `gate.py` gathers the
facts at the edge, calls `decide`, and logs the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from clipwarden.consent.vocabulary import SITES
from clipwarden.times import iso_utc

# CONTRACT's account roles, plus "system" for jobs that are not a person (training).
Role = Literal["owner", "reviewer", "auditor", "admin", "system"]
ROLES: tuple[Role, ...] = ("owner", "reviewer", "auditor", "admin")

Action = Literal["view_media", "view_metadata", "share", "withdraw", "delete", "export", "annotate", "train"]
ACTIONS: tuple[Action, ...] = (
    "view_media",
    "view_metadata",
    "share",
    "withdraw",
    "delete",
    "export",
    "annotate",
    "train",
)

# The purpose an owner's own requests are made under.
OWNER_ACCESS = "owner_access"
# What each processing purpose may be served by: a troubleshooting share never feeds annotation or
# training (purpose limitation); the tester program covers human review of the enrolled account.
COVERED_BY: dict[str, frozenset[str]] = {
    "human_review_for_model_improvement": frozenset({"human_review_for_model_improvement", "tester_program"}),
    "automated_training": frozenset({"automated_training", "human_review_for_model_improvement", "tester_program"}),
}
REVIEW_ACTIONS: frozenset[str] = frozenset({"view_media", "annotate"})
# What the system role does: train on a dataset, and export one (the same consent covers both).
_SYSTEM_ACTIONS: frozenset[str] = frozenset({"train", "export"})


@dataclass(frozen=True)
class Actor:
    id: str
    role: Role
    household_id: str | None = None  # owners
    site: str | None = None  # reviewers
    pseudonym: str | None = None  # how owners see this actor in their access logs

    @property
    def shown_as(self) -> str:
        return self.pseudonym or self.id


@dataclass(frozen=True)
class ClipFacts:
    """What the gate knows about a clip at the moment of the request."""

    id: str
    household_id: str
    jurisdiction: str
    status: str  # stored | deleted | expired
    expires_at: datetime | None = None  # the end of the owner's retention; the sweep marks it later
    quarantined: bool = False
    screened: bool = False  # the sensitive-content screen has run
    flagged: bool = False  # ... and found a likely private scene
    owner_confirmed_sensitive: bool = False  # the owner confirmed sharing after the warning

    def gone_at(self, at: datetime) -> str | None:
        """Why no one may use the clip at ``at`` (deleted, expired, or past its retention although the
        retention sweep has not run yet), or None while it is stored and kept."""
        if self.status != "stored":
            return f"clip is {self.status}"
        if self.expires_at is not None and at >= self.expires_at:
            return f"clip expired at {iso_utc(self.expires_at)}: its retention ended and the owner's copy is gone"
        return None


@dataclass(frozen=True)
class Grant:
    """A consent that is valid at the request's time for the clip (the ledger has checked state,
    notice version and retention); the policy checks what it covers."""

    consent_id: str
    purposes: frozenset[str]
    sites: frozenset[str]
    allow_unredacted: bool = False


@dataclass(frozen=True)
class Context:
    at: datetime
    grants: tuple[Grant, ...] = ()
    share_withdrawn_at: datetime | None = None  # the owner withdrew a share of the clip and has not shared it again
    lease_active: bool = False  # the viewer holds an unexpired lease on a task for this clip
    views_today: int = 0
    daily_cap: int = 150


@dataclass(frozen=True)
class Request:
    actor: Actor
    action: Action
    clip: ClipFacts | None  # None: the clip does not exist
    purpose: str
    context: Context = field(default_factory=lambda: Context(at=datetime.min))


@dataclass(frozen=True)
class Decision:
    allow: bool
    reason: str
    consent_id: str | None = None  # the consent an allowed processing rests on
    unredacted: bool = False  # ... and whether that consent lets people be seen unredacted (review, training)

    @staticmethod
    def deny(reason: str) -> Decision:
        return Decision(False, reason)


Rule = Callable[[Request], Decision | None]


def decide(request: Request) -> Decision:
    """Allow only what one of the role's paths allows; otherwise deny, saying why."""
    if request.clip is None:
        return Decision.deny("no such clip")
    path = _PATHS.get(request.actor.role)
    if path is None:
        return Decision.deny(f"role {request.actor.role} has no access to clips")
    return path(request)


# What an owner (or the operator on their request) may still do with a clip past its retention before the
# sweep has removed it: see that it is there, withdraw what they gave, delete it.
_STILL_ALLOWED_WHEN_EXPIRED = frozenset({"view_metadata", "withdraw", "delete"})


def _owner_path(request: Request) -> Decision:
    clip = request.clip
    assert clip is not None
    if request.actor.household_id != clip.household_id:
        # Answered as if the clip did not exist, so ids of other homes cannot be probed.
        return Decision.deny("no such clip")
    if request.action not in {"view_media", "view_metadata", "share", "withdraw", "delete", "export"}:
        return Decision.deny(f"owners cannot {request.action}")
    if clip.status != "stored":
        return Decision.deny(f"clip is {clip.status}")
    gone = clip.gone_at(request.context.at)
    if gone is not None and request.action not in _STILL_ALLOWED_WHEN_EXPIRED:
        return Decision.deny(gone)
    if request.action == "share" and clip.quarantined:
        # Nobody may watch it again, so a new share would promise what cannot happen.
        return Decision.deny(
            "a reviewer stopped this clip as private: nobody else will see it, and it cannot be shared again"
        )
    return Decision(True, "owner's own clip")


def _reviewer_path(request: Request) -> Decision:
    for rule in _REVIEW_RULES:
        objection = rule(request)
        if objection is not None:
            return objection
    grant = _covering_grant(request)
    assert grant is not None  # _needs_consent ran first
    return Decision(
        True,
        f"consent {grant.consent_id} covers {request.purpose} at site {request.actor.site}",
        consent_id=grant.consent_id,
        unredacted=grant.allow_unredacted,
    )


def _admin_path(request: Request) -> Decision:
    """The operator's console (the command line): metadata for operations, deletion and export on an
    owner's request; never viewing for any purpose of its own."""
    clip = request.clip
    assert clip is not None
    if request.action == "view_metadata":
        return Decision(True, "operator reads metadata")
    if clip.status != "stored":
        return Decision.deny(f"clip is {clip.status}")
    gone = clip.gone_at(request.context.at)
    if gone is not None and request.action not in _STILL_ALLOWED_WHEN_EXPIRED:
        return Decision.deny(gone)
    if request.action == "delete":
        return Decision(True, "operator deletes on the owner's request")
    if request.action == "export":
        return Decision(True, "operator exports for the owner (data portability); shown in the access log")
    return Decision.deny(f"operators cannot {request.action} clips")


def _training_path(request: Request) -> Decision:
    """Not a person: the training job, and the export of its datasets for outside tools. It needs a consent
    whose purpose covers training, and a clip the screen does not hold: a dataset's items go on to exports
    that people open."""
    if request.action not in _SYSTEM_ACTIONS:
        return Decision.deny("the training job only trains and exports datasets")
    for rule in (_clip_exists, _not_quarantined, _needs_consent, _screened):
        objection = rule(request)
        if objection is not None:
            return objection
    grant = _covering_grant(request)
    assert grant is not None
    return Decision(
        True,
        f"consent {grant.consent_id} covers {request.purpose}",
        consent_id=grant.consent_id,
        unredacted=grant.allow_unredacted,
    )


def _is_review_action(request: Request) -> Decision | None:
    if request.action not in REVIEW_ACTIONS:
        return Decision.deny(f"reviewers cannot {request.action}")
    if request.purpose != "human_review_for_model_improvement":
        return Decision.deny(f"purpose {request.purpose} does not allow human review")
    return None


def _clip_exists(request: Request) -> Decision | None:
    assert request.clip is not None
    gone = request.clip.gone_at(request.context.at)
    return None if gone is None else Decision.deny(gone)


def _not_quarantined(request: Request) -> Decision | None:
    assert request.clip is not None
    return Decision.deny("clip is quarantined") if request.clip.quarantined else None


def _screened(request: Request) -> Decision | None:
    clip = request.clip
    assert clip is not None
    if not clip.screened:
        return Decision.deny("clip has not been through the sensitive-content screen")
    if clip.flagged and not clip.owner_confirmed_sensitive:
        return Decision.deny("held: the screen flagged a likely private scene; the owner has not confirmed")
    return None


def _needs_consent(request: Request) -> Decision | None:
    if (withdrawn := request.context.share_withdrawn_at) is not None:
        return Decision.deny(
            f"no valid consent covers {request.purpose}: the owner withdrew their share of this clip at "
            f"{iso_utc(withdrawn)}, which excludes it from every consent of the household until they share it again"
        )
    if _covering_grant(request) is None:
        return Decision.deny(f"no valid consent covers {request.purpose}")
    return None


def _site_allowed(request: Request) -> Decision | None:
    clip, site = request.clip, request.actor.site
    assert clip is not None
    grant = _covering_grant(request)
    assert grant is not None
    if site is None or site not in SITES:
        return Decision.deny("reviewer has no known site")
    if site in grant.sites:
        return None
    if clip.jurisdiction == "EU" and not SITES[site].in_eu:
        return Decision.deny(f"residency: an EU clip, and the owner did not agree to transfer to site {site}")
    return Decision.deny(f"the owner did not agree to review at site {site}")


def _holds_lease(request: Request) -> Decision | None:
    return None if request.context.lease_active else Decision.deny("no active lease on a task for this clip")


def _under_cap(request: Request) -> Decision | None:
    context = request.context
    if request.action == "view_media" and context.views_today >= context.daily_cap:
        return Decision.deny(f"daily cap of {context.daily_cap} clips reached")
    return None


def _covering_grant(request: Request) -> Grant | None:
    """A grant for the purpose, preferring one that names the actor's site."""
    wanted = COVERED_BY.get(request.purpose, frozenset({request.purpose}))
    grants = [g for g in request.context.grants if g.purposes & wanted]
    return next((g for g in grants if request.actor.site in g.sites), grants[0] if grants else None)


_REVIEW_RULES: tuple[Rule, ...] = (
    _is_review_action,
    _clip_exists,
    _not_quarantined,
    _screened,
    _needs_consent,
    _site_allowed,
    _holds_lease,
    _under_cap,
)

_PATHS: dict[str, Callable[[Request], Decision]] = {
    "owner": _owner_path,
    "reviewer": _reviewer_path,
    "admin": _admin_path,
    "system": _training_path,
}


def decide_household(actor: Actor, household_id: str | None, action: Literal["list", "erase"]) -> Decision:
    """Household-wide requests: listing clip metadata, and erasure. `household_id` None means every
    household (the operator's listing)."""
    if actor.role == "owner":
        if household_id is None or household_id != actor.household_id:
            return Decision.deny("no such household")
        return Decision(True, f"owner's own household: {action}")
    if actor.role == "admin":
        return Decision(True, f"operator: {action} on the owner's request" if action == "erase" else "operator lists")
    return Decision.deny(f"role {actor.role} cannot {action} households")

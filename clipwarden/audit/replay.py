"""Independent replay: from the audit log's consent history alone, was each logged view covered?

Written apart from the consent ledger and the enforcement point on purpose, so that a fault in either is
not repeated here. It folds the log in order, keeping each consent's state and terms as its entries say,
and for every decision that let a person other than the owner see a clip, asks whether a consent covered
that clip, for that purpose, at that site, at that instant, under the notices as published. It also
checks every other reviewer decision that rested on consent: an allow must be covered, a denial for want
of consent must not be.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from clipwarden.audit.entries import parse_leaf
from clipwarden.consent.notices import NOTICES, NoticeVersion

VALID = {"ConsentGiven", "RenewedConsentGiven"}
# Which consented purposes serve a processing purpose (the tester programme covers human review).
SERVED_BY = {
    "human_review_for_model_improvement": {"human_review_for_model_improvement", "tester_program"},
    "automated_training": {"automated_training", "human_review_for_model_improvement", "tester_program"},
}
VIEWS = {"view_media", "annotate"}
NO_CONSENT = "no valid consent covers"


@dataclass
class _Consent:
    household_id: str
    clip_id: str | None
    purposes: set[str]
    given_at: datetime
    states: list[tuple[datetime, str]] = field(default_factory=list)
    terms: list[tuple[datetime, dict[str, int], set[str]]] = field(default_factory=list)


@dataclass(frozen=True)
class ReplayResult:
    views: int
    views_without_consent: int
    decisions_checked: int
    disagreements: tuple[int, ...]  # indexes of decisions the replay would have answered otherwise
    unreadable: tuple[int, ...] = ()  # positions of leaves that are not log entries: nothing can be said of them

    @property
    def ok(self) -> bool:
        return self.views_without_consent == 0 and not self.disagreements and not self.unreadable

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "views": self.views,
            "views_without_consent": self.views_without_consent,
            "decisions_checked": self.decisions_checked,
            "disagreements": list(self.disagreements),
            "unreadable": list(self.unreadable),
        }


def replay(leaves: Iterable[bytes], notices: Sequence[NoticeVersion] = NOTICES) -> ReplayResult:
    consents: dict[str, _Consent] = {}
    views = uncovered = checked = 0
    disagreements: list[int] = []
    unreadable: list[int] = []
    for position, leaf in enumerate(leaves):
        try:
            entry = parse_leaf(leaf)
        except ValueError:  # rewritten in the database: `audit verify` names it too
            unreadable.append(position)
            continue
        if entry["kind"] == "consent":
            _fold_consent(consents, entry)
        elif entry["kind"] == "decision" and _rests_on_consent(entry):
            checked += 1
            covered = _covered(consents, entry, notices)
            is_view = entry["allow"] and entry["action"] in VIEWS
            views += is_view
            uncovered += is_view and not covered
            if (entry["allow"] and not covered) or (entry["reason"].startswith(NO_CONSENT) and covered):
                disagreements.append(entry["index"])
    return ReplayResult(views, uncovered, checked, tuple(disagreements), tuple(unreadable))


def _fold_consent(consents: dict[str, _Consent], entry: dict[str, Any]) -> None:
    at = datetime.fromisoformat(entry["at"])
    consent = consents.setdefault(
        entry["consent_id"],
        _Consent(entry["household_id"], entry["clip_id"], set(entry["purposes"]), given_at=at),
    )
    consent.states.append((at, entry["state"]))
    consent.terms.append((at, dict(entry["notice_versions"]), set(entry["sites"])))


def _rests_on_consent(entry: dict[str, Any]) -> bool:
    """Decisions on a clip for someone other than its owner: the reviewer's and the training job's."""
    return entry["resource"]["type"] == "clip" and entry["actor"]["role"] in {"reviewer", "system"}


def _covered(consents: dict[str, _Consent], decision: dict[str, Any], notices: Sequence[NoticeVersion]) -> bool:
    at = datetime.fromisoformat(decision["at"])
    clip = decision["resource"]
    wanted = SERVED_BY.get(decision["purpose"], {decision["purpose"]})
    site = decision["actor"].get("site")
    if _share_withdrawn(consents, clip["id"], at):
        return False
    return any(
        _permits(consent, at, purpose, site, notices)
        for consent in consents.values()
        if consent.clip_id == clip["id"]
        or (consent.clip_id is None and consent.household_id == clip.get("household_id"))
        for purpose in wanted & consent.purposes
    )


def _share_withdrawn(consents: dict[str, _Consent], clip_id: str, at: datetime) -> bool:
    """The owner withdrew a share of this very clip by ``at`` and gave none since: then no consent of the
    household covers the clip, account-wide ones included (DESIGN invariant 6)."""
    own = [consent for consent in consents.values() if consent.clip_id == clip_id]
    withdrawals = [
        when for consent in own for when, state in consent.states if state == "ConsentWithdrawn" and when <= at
    ]
    if not withdrawals:
        return False
    return not any(max(withdrawals) < consent.given_at <= at for consent in own)


def _permits(consent: _Consent, at: datetime, purpose: str, site: str | None, notices: Sequence[NoticeVersion]) -> bool:
    states = [state for when, state in consent.states if when <= at]
    terms = [(versions, sites) for when, versions, sites in consent.terms if when <= at]
    if not states or states[-1] not in VALID:
        return False
    versions, sites = terms[-1]
    version = versions[purpose]
    notice = next((n for n in notices if n.purpose == purpose and n.version == version), None)
    material = [n.version for n in notices if n.purpose == purpose and n.material and n.published_at <= at]
    if notice is None or (material and version < max(material)):
        return False
    if at >= consent.given_at + timedelta(days=notice.retention_days):
        return False
    return site is None or (site in sites and site in notice.sites)

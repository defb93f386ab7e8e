"""The notices shown when consent is asked: one versioned text per purpose, kept here as data.

History is append-only (after ethyca/fides): a published version is never edited; a change is a new
version. A *material* change (new sites, less redaction, longer retention, ...) makes consents to older
versions lapse until the owner renews them; a non-material one (clearer wording) does not. The version in
force at an instant is the latest one published at or before it. ``records.publish_notices`` copies this
history into the ``notices`` table, so that every consent points at a stored text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from clipwarden.consent.vocabulary import PURPOSES, SITES, Purpose
from clipwarden.times import iso_utc

WITHDRAW = (
    "You can withdraw at any time with one click on this consent in the app "
    "(POST /api/consents/{id}/withdraw); it takes effect at once."
)
# The same, said as a person does it in the app, not as the request the app sends.
WITHDRAW_IN_APP = (
    "You can withdraw at any time, as easily as you agreed: open Consents in the app and press Withdraw next "
    "to this consent; it takes effect at once."
)


@dataclass(frozen=True)
class NoticeVersion:
    purpose: Purpose
    version: int
    text: str
    human_review: bool
    sites: tuple[str, ...]  # where people may watch; empty when nobody does
    redacted: bool  # people in the clip are pixelated for viewers unless the owner opts out
    retention_days: int  # how long the shared copy is kept after consent is given
    material: bool  # consents to older versions lapse once this one is published
    published_at: datetime

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def document(self) -> dict[str, Any]:
        """CONTRACT's ``notices list`` fields first, then the rest of the version."""
        return {
            "purpose": self.purpose,
            "version": self.version,
            "sha256": self.sha256,
            "text": self.text,
            "human_review": self.human_review,
            "sites": list(self.sites),
            "retention_days": self.retention_days,
            "redacted": self.redacted,
            "material": self.material,
            "published_at": iso_utc(self.published_at),
        }


_LAUNCH = datetime(2024, 6, 1, tzinfo=UTC)
# Clearer wording, once models could forget: what a model keeps of a clip, and what withdrawing does to it.
_UNLEARNING = datetime(2026, 12, 7, tzinfo=UTC)
LEARNS = (
    "A camera AI model learns from the clip and its label: it keeps no copy of the clip, but what it learned "
    "stays in it until it forgets."
)
FORGETS = (
    "Every camera AI model that learned from the clip is then retrained without it within minutes, so that "
    "it forgets the clip exactly, as if it had never seen it."
)

_HISTORY: tuple[NoticeVersion, ...] = (
    NoticeVersion(
        purpose="troubleshooting",
        version=1,
        text=(
            "Share this clip with support. People will watch it: a member of the support team watches this "
            "clip only to find and fix the problem you reported. Support works in Bucharest, Romania (site "
            "ro-buc, staff of our contractor Carpathia Annotation SRL) and in Seattle, United States (site "
            "us-sea, our own staff). The clip is never used to train the camera AI and never given to "
            "annotators. People in the clip are pixelated unless you choose to let support see it "
            "unredacted. We keep the shared copy for 30 days, then delete it; your own copy stays. " + WITHDRAW
        ),
        human_review=True,
        sites=("ro-buc", "us-sea"),
        redacted=True,
        retention_days=30,
        material=True,
        published_at=_LAUNCH,
    ),
    NoticeVersion(
        purpose="troubleshooting",
        version=2,
        # Clearer wording only: who sees what is unchanged, so consents to version 1 stand.
        text=(
            "Share this clip with support. People will watch it: a member of the support team watches this "
            "clip only to find and fix the problem you reported, and sees only the clip: never your name, "
            "address or where the camera is. Support works in Bucharest, Romania (site ro-buc, staff of "
            "our contractor Carpathia Annotation SRL) and in Seattle, United States (site us-sea, our own "
            "staff). The clip is never used to train the camera AI and never given to annotators. People "
            "in the clip are pixelated unless you choose to let support see it unredacted. We keep the "
            "shared copy for 30 days, then delete it; your own copy stays. " + WITHDRAW
        ),
        human_review=True,
        sites=("ro-buc", "us-sea"),
        redacted=True,
        retention_days=30,
        material=False,
        published_at=datetime(2025, 6, 1, tzinfo=UTC),
    ),
    NoticeVersion(
        purpose="human_review_for_model_improvement",
        version=1,
        text=(
            "Share this clip to improve the camera AI. People will watch it: annotators watch the clip and "
            "label what happens in it (a person, a pet, a passing car), and their labels train the "
            "camera's AI. Annotators work in Bucharest, Romania (site ro-buc, staff of our contractor "
            "Carpathia Annotation SRL) and in Seattle, United States (site us-sea, our own staff). If you "
            "live in the EU, only the EU site (ro-buc) receives the clip unless you also choose the other "
            "site. Annotators see a redacted copy, with people pixelated or shown as silhouettes, unless "
            "you allow unredacted review of this clip; they never see your name, address or where the "
            "camera is. We keep the shared copy for 90 days, then delete it. " + WITHDRAW + " The clip "
            "then leaves review and all future training sets."
        ),
        human_review=True,
        sites=("ro-buc", "us-sea"),
        redacted=True,
        retention_days=90,
        material=True,
        published_at=_LAUNCH,
    ),
    NoticeVersion(
        purpose="human_review_for_model_improvement",
        version=2,
        # Material: a new review site in a new country. Consents to version 1 lapse until renewed.
        text=(
            "Share this clip to improve the camera AI. People will watch it: annotators watch the clip and "
            "label what happens in it (a person, a pet, a passing car), and their labels train the "
            "camera's AI. Annotators work in Hyderabad, India (site in-hyd, staff of our contractor Deccan "
            "Label Works Pvt Ltd), in Bucharest, Romania (site ro-buc, staff of our contractor Carpathia "
            "Annotation SRL) and in Seattle, United States (site us-sea, our own staff). If you live in "
            "the EU, only the EU site (ro-buc) receives the clip unless you also choose other sites. "
            "Annotators see a redacted copy, with people pixelated or shown as silhouettes, unless you "
            "allow unredacted review of this clip; they never see your name, address or where the camera "
            "is. We keep the shared copy for 90 days, then delete it. " + WITHDRAW + " The clip then "
            "leaves review and all future training sets."
        ),
        human_review=True,
        sites=("in-hyd", "ro-buc", "us-sea"),
        redacted=True,
        retention_days=90,
        material=True,
        published_at=datetime(2025, 9, 1, tzinfo=UTC),
    ),
    NoticeVersion(
        purpose="human_review_for_model_improvement",
        version=3,
        # Clearer wording only: a model learns and forgets. Consents to version 2 stand.
        text=(
            "Share this clip to improve the camera AI. People will watch it: annotators watch the clip and "
            "label what happens in it (a person, a pet, a passing car), and their labels train the "
            "camera's AI. Annotators work in Hyderabad, India (site in-hyd, staff of our contractor Deccan "
            "Label Works Pvt Ltd), in Bucharest, Romania (site ro-buc, staff of our contractor Carpathia "
            "Annotation SRL) and in Seattle, United States (site us-sea, our own staff). If you live in "
            "the EU, only the EU site (ro-buc) receives the clip unless you also choose other sites. "
            "Annotators see a redacted copy, with people pixelated or shown as silhouettes, unless you "
            "allow unredacted review of this clip; they never see your name, address or where the camera "
            "is. " + LEARNS + " We keep the shared copy for 90 days, then delete it. " + WITHDRAW + " The "
            "clip then leaves review and all future training sets. " + FORGETS
        ),
        human_review=True,
        sites=("in-hyd", "ro-buc", "us-sea"),
        redacted=True,
        retention_days=90,
        material=False,
        published_at=_UNLEARNING,
    ),
    NoticeVersion(
        purpose="automated_training",
        version=1,
        text=(
            "Let computers train the camera AI with this clip. No person will watch it: the clip goes "
            "only to automated training of the camera's AI models, is sent to no review site, and nobody "
            "looks at it, so it is not redacted. We keep the training copy for 365 days, then delete it. "
            + WITHDRAW
            + " The clip then leaves all future training sets."
        ),
        human_review=False,
        sites=(),
        redacted=False,
        retention_days=365,
        material=True,
        published_at=_LAUNCH,
    ),
    NoticeVersion(
        purpose="automated_training",
        version=2,
        # Clearer wording only: a model learns and forgets. Consents to version 1 stand.
        text=(
            "Let computers train the camera AI with this clip. No person will watch it: the clip goes "
            "only to automated training of the camera's AI models, is sent to no review site, and nobody "
            "looks at it, so it is not redacted. " + LEARNS + " We keep the training copy for 365 days, then "
            "delete it. " + WITHDRAW + " The clip then leaves all future training sets. " + FORGETS
        ),
        human_review=False,
        sites=(),
        redacted=False,
        retention_days=365,
        material=False,
        published_at=_UNLEARNING,
    ),
    NoticeVersion(
        purpose="tester_program",
        version=1,
        text=(
            "Join the tester program. People will watch your clips: this covers your whole account, and "
            "every clip your cameras record may be watched by annotators who label it to train the "
            "camera's AI. Annotators work in Hyderabad, India (site in-hyd, staff of our contractor Deccan "
            "Label Works Pvt Ltd), in Bucharest, Romania (site ro-buc, staff of our contractor Carpathia "
            "Annotation SRL) and in Seattle, United States (site us-sea, our own staff). If you live in "
            "the EU, only the EU site (ro-buc) receives your clips unless you also choose other sites. "
            "Annotators see redacted copies, with people pixelated or shown as silhouettes, unless you "
            "allow unredacted review; they never see your name, address or where a camera is. We keep "
            "shared copies for 180 days, and your enrollment ends after 180 days unless you join again. "
            + WITHDRAW
            + " It then covers every clip of your account."
        ),
        human_review=True,
        sites=("in-hyd", "ro-buc", "us-sea"),
        redacted=True,
        retention_days=180,
        material=True,
        published_at=_LAUNCH,
    ),
    NoticeVersion(
        purpose="tester_program",
        version=2,
        # Clearer wording only: a model learns and forgets. Consents to version 1 stand.
        text=(
            "Join the tester program. People will watch your clips: this covers your whole account, and "
            "every clip your cameras record may be watched by annotators who label it to train the "
            "camera's AI. Annotators work in Hyderabad, India (site in-hyd, staff of our contractor Deccan "
            "Label Works Pvt Ltd), in Bucharest, Romania (site ro-buc, staff of our contractor Carpathia "
            "Annotation SRL) and in Seattle, United States (site us-sea, our own staff). If you live in "
            "the EU, only the EU site (ro-buc) receives your clips unless you also choose other sites. "
            "Annotators see redacted copies, with people pixelated or shown as silhouettes, unless you "
            "allow unredacted review; they never see your name, address or where a camera is. We keep "
            "shared copies for 180 days, and your enrollment ends after 180 days unless you join again. "
            "A camera AI model learns from each clip and its label: it keeps no copy of the clip, but what it "
            "learned stays in it until it forgets. "
            + WITHDRAW
            + " It then covers every clip of your account, and every camera AI model that learned from your "
            "clips is retrained without them within minutes, so that it forgets them exactly."
        ),
        human_review=True,
        sites=("in-hyd", "ro-buc", "us-sea"),
        redacted=True,
        retention_days=180,
        material=False,
        published_at=_UNLEARNING,
    ),
)

# Clearer wording only: how to withdraw, in the app's words. Consents to the versions before stand.
_PLAIN_WORDS = datetime(2026, 12, 7, 12, tzinfo=UTC)


def _withdrawal_in_words(notice: NoticeVersion) -> NoticeVersion:
    return replace(
        notice,
        version=notice.version + 1,
        text=notice.text.replace(WITHDRAW, WITHDRAW_IN_APP),
        material=False,
        published_at=_PLAIN_WORDS,
    )


NOTICES: tuple[NoticeVersion, ...] = _HISTORY + tuple(
    _withdrawal_in_words(max((n for n in _HISTORY if n.purpose == purpose), key=lambda n: n.version))
    for purpose in dict.fromkeys(notice.purpose for notice in _HISTORY)
)


def check_history(notices: Iterable[NoticeVersion]) -> None:
    """Refuse a history that could not have been published: raise ``ValueError`` naming the fault."""
    by_purpose: dict[str, list[NoticeVersion]] = {}
    for notice in notices:
        by_purpose.setdefault(notice.purpose, []).append(notice)
        if notice.purpose not in PURPOSES:
            raise ValueError(f"notice for unknown purpose {notice.purpose!r}")
        if unknown := set(notice.sites) - SITES.keys():
            raise ValueError(f"{notice.purpose} v{notice.version} names unknown sites {sorted(unknown)}")
        if notice.human_review != bool(notice.sites):
            raise ValueError(f"{notice.purpose} v{notice.version}: sites exactly when people watch")
    for purpose, versions in by_purpose.items():
        if [notice.version for notice in versions] != list(range(1, len(versions) + 1)):
            raise ValueError(f"{purpose}: versions must run 1, 2, ... in order")
        if not versions[0].material:
            raise ValueError(f"{purpose}: version 1 must be material (nothing older to stand on)")
        times = [notice.published_at for notice in versions]
        if times != sorted(set(times)):
            raise ValueError(f"{purpose}: each version must be published after the one before")


check_history(NOTICES)


def in_force(notices: Iterable[NoticeVersion], purpose: str, at: datetime) -> NoticeVersion | None:
    """The version of ``purpose``'s notice shown at ``at``: the latest published at or before it."""
    return _latest(notice for notice in notices if notice.purpose == purpose and notice.published_at <= at)


def latest_material(notices: Iterable[NoticeVersion], purpose: str, at: datetime) -> NoticeVersion | None:
    """The latest material version of ``purpose``'s notice published at or before ``at``."""
    published = (notice for notice in notices if notice.purpose == purpose and notice.published_at <= at)
    return _latest(notice for notice in published if notice.material)


def find(notices: Iterable[NoticeVersion], purpose: str, version: int) -> NoticeVersion | None:
    return next((n for n in notices if n.purpose == purpose and n.version == version), None)


def notices_in_force(at: datetime, notices: Iterable[NoticeVersion] = NOTICES) -> list[dict[str, Any]]:
    """CONTRACT's ``notices list``: the version in force at ``at`` for each purpose that has one."""
    history = tuple(notices)
    current = (in_force(history, purpose, at) for purpose in PURPOSES)
    return [notice.document() for notice in current if notice is not None]


def _latest(notices: Iterable[NoticeVersion]) -> NoticeVersion | None:
    return max(notices, key=lambda notice: notice.version, default=None)

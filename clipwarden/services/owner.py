"""What a person may do with clips, each request through the enforcement point first (invariant 2).

The HTTP API and the command line both call these; neither reads the clip table or the blob store for a
person on any other path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select

from clipwarden.consent import receipts
from clipwarden.consent import service as consent_service
from clipwarden.errors import Conflict
from clipwarden.policy import gate
from clipwarden.policy.decision import OWNER_ACCESS, Actor
from clipwarden.review import queue
from clipwarden.services import clips as clip_service
from clipwarden.services import erasure_requests, screening
from clipwarden.services import households as household_service
from clipwarden.services.audit_trail import after_retraction, consent_changed, log_change
from clipwarden.store import Store, datasets
from clipwarden.store.schema import access_log
from clipwarden.times import iso_utc

HUMAN_REVIEW = "human_review_for_model_improvement"
SENSITIVE_WARNING = (
    "The sensitive-content screen found what may be a private scene in this clip. If you share it, a "
    "person at a review site will watch it. Confirm only if you are sure."
)


def list_clips(
    store: Store,
    actor: Actor,
    at: datetime,
    household_id: str | None = None,
    statuses: Sequence[str] = ("stored",),
) -> list[dict[str, Any]]:
    """The actor's household's clips (owners); any household's, or all, for the operator."""
    if actor.role == "owner":
        household_id = actor.household_id
    gate.require_listing(store, actor, household_id, at)
    return clip_service.list_clips(store, household_id, statuses=statuses)


def get_clip(store: Store, actor: Actor, clip_id: str, at: datetime) -> dict[str, Any]:
    gate.require(store, gate.Ask(actor, "view_metadata", clip_id, OWNER_ACCESS, at))
    return clip_service.get_clip(store, clip_id)


def open_media(store: Store, actor: Actor, clip_id: str, at: datetime) -> BinaryIO:
    """The clip's MP4, opened after the gate allowed and logged the view."""
    gate.require(store, gate.Ask(actor, "view_media", clip_id, OWNER_ACCESS, at))
    return store.blobs.open(clip_service.get_clip(store, clip_id)["sha256"])


def open_thumbnail(store: Store, actor: Actor, clip_id: str, at: datetime) -> bytes:
    """The clip's thumbnail, after the gate allowed and logged the view: a keyframe is the clip's pixels."""
    gate.require(store, gate.Ask(actor, "view_media", clip_id, OWNER_ACCESS, at))
    return clip_service.thumbnail(store, clip_id)


def export_clip(store: Store, actor: Actor, clip_id: str, dest: Path, at: datetime) -> dict[str, Any]:
    gate.require(store, gate.Ask(actor, "export", clip_id, OWNER_ACCESS, at))
    return clip_service.export_clip(store, clip_id, dest)


def delete_clip(store: Store, actor: Actor, clip_id: str, at: datetime) -> dict[str, Any]:
    """An erasure request for one clip, recorded first, answered at once with the deletion certificate."""
    gate.require(store, gate.Ask(actor, "delete", clip_id, OWNER_ACCESS, at))
    request = erasure_requests.receive(store, "clip", clip_id, actor.id, at)
    return clip_service.delete_clip(store, clip_id, at, request["id"])


def erase_household(store: Store, actor: Actor, household_id: str, at: datetime) -> dict[str, Any]:
    """An erasure request for the whole household, recorded first, answered at once with the certificate."""
    gate.require_listing(store, actor, household_id, at, action="erase")
    request = erasure_requests.receive(store, "household", household_id, actor.id, at)
    return household_service.erase_household(store, household_id, at, request["id"])


def erasure_requests_for(store: Store, actor: Actor, at: datetime, only_open: bool = False) -> list[dict[str, Any]]:
    """The erasure requests of the actor's household (owners), or of every household (the operator)."""
    household_id = actor.household_id if actor.role == "owner" else None
    gate.require_listing(store, actor, household_id, at)
    return erasure_requests.requests(store, household_id, only_open)


def resume_erasures(store: Store, actor: Actor, at: datetime) -> list[dict[str, Any]]:
    """Finish the erasure requests a crash left open: erase what is still there, or close the request
    with the certificate of the erasure that got there first. Returns those requests as they now stand."""
    gate.require_listing(store, actor, None, at, action="erase")
    left_open = erasure_requests.requests(store, only_open=True)
    for request in left_open:
        subject = request["subject"]
        try:
            if subject["type"] == "clip":
                clip_service.delete_clip(store, subject["id"], at, request["id"])
            else:
                household_service.erase_household(store, subject["id"], at, request["id"])
        except Conflict:  # erased meanwhile, by another request or with the whole household
            with store.begin() as conn:
                erasure_requests.open_request(conn, request["id"])
                certificate_id = erasure_requests.certificate_for(
                    conn, subject["type"], subject["id"]
                ) or erasure_requests.certificate_for(conn, "household", request["household_id"])
                erasure_requests.close(conn, request["id"], str(certificate_id), at)
    now = {request["id"]: request for request in erasure_requests.requests(store)}
    return [now[request["id"]] for request in left_open]


def share_clip(
    store: Store,
    actor: Actor,
    clip_id: str,
    purposes: Iterable[str],
    notice_versions: Mapping[str, int] | int | None,
    allow_unredacted: bool,
    sites: Iterable[str] | None,
    at: datetime,
) -> dict[str, Any]:
    """The feedback button: consent to `purposes` for one clip. A share for human review first goes
    through the sensitive-content screen; a flagged clip is held until its owner confirms."""
    purposes = list(purposes)
    gate.require(store, gate.Ask(actor, "share", clip_id, OWNER_ACCESS, at))
    screen = screening.ensure_screened(store, clip_id, at) if HUMAN_REVIEW in purposes else None

    def on_change(conn: Any, state: str, fields: dict[str, Any]) -> None:
        consent_changed(conn, state, fields)
        if HUMAN_REVIEW in purposes and screening.releasable(conn, clip_id):
            queue.enqueue(conn, clip_id, fields["consent_id"], HUMAN_REVIEW, at)

    consent = consent_service.give_consent(
        store,
        actor.household_id or "",
        clip_id,
        purposes,
        notice_versions,
        allow_unredacted,
        sites,
        at,
        actor.id,
        on_change=on_change,
    )
    answer: dict[str, Any] = {
        "consent_id": consent["id"],
        "receipt_url": f"/api/consents/{consent['id']}/receipt",
        "consent": consent,
    }
    if screen is not None:
        held = screen["flagged"] and not screen["confirmed"]
        answer |= {"screen": screen, "held": held}
        if held:
            answer["warning"] = SENSITIVE_WARNING
    return answer


def enroll_tester(
    store: Store, actor: Actor, at: datetime, notice_version: int | None = None, sites: Iterable[str] | None = None
) -> dict[str, Any]:
    """The tester program: consent, for the whole account, to human review of every clip it records."""
    return consent_service.give_consent(
        store,
        _household(actor),
        None,
        ["tester_program"],
        notice_version,
        False,
        sites,
        at,
        actor.id,
        on_change=consent_changed,
    )


def confirm_sensitive(store: Store, actor: Actor, clip_id: str, at: datetime) -> dict[str, Any]:
    """The owner read the warning and still wants the clip reviewed: release it to the queue."""
    gate.require(store, gate.Ask(actor, "share", clip_id, OWNER_ACCESS, at))
    with store.begin() as conn:
        screening.confirm(conn, clip_id, at)
        log_change(conn, "sensitive_confirmed", at, {"clip_id": clip_id, "by": actor.id})
        valid = consent_service.valid_consents_for_clip(conn, clip_id, _household(actor), HUMAN_REVIEW, at)
        tasks = [queue.enqueue(conn, clip_id, grant.consent_id, HUMAN_REVIEW, at) for grant in valid]
    return {"clip_id": clip_id, "confirmed_at": iso_utc(at), "queued": len(tasks)}


def withdraw_consent(store: Store, actor: Actor, consent_id: str, at: datetime) -> dict[str, Any]:
    """One action, as easy as giving (GDPR Art. 7(3)): queued tasks and running leases end in the same
    transaction, and the renditions made for those leases are deleted as soon as it commits. ``exports`` names
    the dataset exports that already carried what it covers: copies outside the system's reach."""
    withdrawn = consent_service.withdraw(store, consent_id, _household(actor), at, actor.id, on_change=consent_changed)
    after_retraction(store, at)
    return withdrawn | {"exports": datasets.exports_withdrawn(store, withdrawn["id"], withdrawn["clip_id"])}


def consents(store: Store, actor: Actor, at: datetime) -> list[dict[str, Any]]:
    return consent_service.consents_for_household(store, _household(actor), at)


def receipt(store: Store, actor: Actor, consent_id: str) -> str:
    """The consent's signed Kantara receipt; another household's consent is NotFound."""
    return receipts.receipt_for(store, consent_id, _household(actor))


def access_log_for(store: Store, actor: Actor, clip_id: str, at: datetime) -> list[dict[str, Any]]:
    """Everyone else's requests on the owner's clip: who (pseudonymous), from which site, why, when."""
    gate.require(store, gate.Ask(actor, "view_metadata", clip_id, OWNER_ACCESS, at))
    with store.connect() as conn:
        rows = conn.execute(select(access_log).where(access_log.c.clip_id == clip_id).order_by(access_log.c.id)).all()
    return [
        {
            "viewer": row.actor_pseudonym,
            "role": row.role,
            "site": row.site,
            "action": row.action,
            "purpose": row.purpose,
            "allowed": row.allow,
            "reason": row.reason,
            "at": iso_utc(row.at),
            "audit_index": row.audit_index,
        }
        for row in rows
    ]


def _household(actor: Actor) -> str:
    return actor.household_id or ""

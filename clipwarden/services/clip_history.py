"""Who else touched an owner's clip, as the owner reads it: one row per viewing session (who, pseudonymous; at
which site, run by which company; for which purpose; under which of the owner's consents, named as the owner
knows it; from when to when), each answer and each stop as its own row, the training job's reads and dataset
exports, and every refused request. The raw gate decisions stay in ``owner.access_log_for`` (the API's
access log); this is the same record put in words."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from clipwarden import words
from clipwarden.policy import gate
from clipwarden.policy.decision import OWNER_ACCESS, Actor
from clipwarden.services import owner
from clipwarden.store import Store
from clipwarden.store.schema import access_log, review_annotations, review_leases, review_tasks, users, view_sessions
from clipwarden.times import iso_utc

# What the training job's and exports' allowed reads did, in words.
_SYSTEM_ACTIONS = {
    "train": "read it to teach the camera's AI",
    "export": "put it in a dataset export for annotation tools",
}


@dataclass(frozen=True)
class HistoryRow:
    at: str  # ISO 8601 UTC: when it began
    kind: str  # viewed | answered | stopped | read | refused
    who: str  # a reviewer's or operator's pseudonym, or "the training job"
    where: str  # "Bucharest, Romania (Carpathia Annotation SRL)"; empty for the training job
    what: str  # in words
    purpose: str  # in words
    consent: str  # the consent it rested on, as the owner knows it; empty if none
    until: str | None = None  # when a viewing session ended


def clip_history(store: Store, actor: Actor, clip_id: str, at: datetime) -> list[dict[str, Any]]:
    """The owner's clip's history in words, oldest first (the owner's own views are not in it)."""
    gate.require(store, gate.Ask(actor, "view_metadata", clip_id, OWNER_ACCESS, at))
    names = consent_names(owner.consents(store, actor, at), clip_id)
    with store.connect() as conn:
        sessions = _sessions(conn, clip_id, names)
        leased = {row.who for row in sessions}
        rows = sessions + _answers(conn, clip_id) + _others(conn, clip_id, leased)
    return [asdict(row) for row in sorted(rows, key=lambda row: (row.at, _ORDER[row.kind]))]


_ORDER = {"viewed": 0, "answered": 1, "stopped": 1, "read": 2, "refused": 3}


def consent_names(consents: list[dict[str, Any]], clip_id: str) -> dict[str, str]:
    """Each consent id to how its owner knows it: "your share of this clip, given 5 Jan 2026" or "your
    tester-program enrolment, given 2 Jan 2026"."""
    names = {}
    for consent in consents:
        given = words.day(consent["given_at"])
        if consent["clip_id"] == clip_id:
            names[consent["id"]] = f"your share of this clip, given {given}"
        elif consent["clip_id"] is None:
            purposes = " and ".join(_in_a_sentence(words.purpose(p)) for p in consent["purposes"])
            names[consent["id"]] = f"your enrolment in {purposes}, given {given}"
    return names


def covering_consents(consents: list[dict[str, Any]], clip_id: str) -> list[str]:
    """The names of the consents that still cover the clip: its own shares and the account-wide enrolments,
    those in force now."""
    names = consent_names(consents, clip_id)
    return [names[c["id"]] for c in consents if c["id"] in names and any(v["valid"] for v in c["valid"].values())]


def _sessions(conn: Connection, clip_id: str, names: dict[str, str]) -> list[HistoryRow]:
    leases = conn.execute(
        select(review_leases, users.c.pseudonym, review_tasks.c.purpose, review_tasks.c.consent_id)
        .join(users, users.c.id == review_leases.c.reviewer_id)
        .join(review_tasks, review_tasks.c.id == review_leases.c.task_id)
        .where(review_leases.c.clip_id == clip_id)
    ).all()
    shown = {
        row.lease_id: row.redaction
        for row in conn.execute(
            select(view_sessions.c.lease_id, view_sessions.c.redaction).where(
                view_sessions.c.lease_id.in_([lease.id for lease in leases])
            )
        )
    }
    rows = []
    for lease in leases:
        redaction = shown.get(lease.id)
        seen = "watched it, people pixelated" if redaction == "pixelate" else "watched it"
        what = seen if redaction is not None else "was given it to watch, and did not open it"
        common = {"who": lease.pseudonym, "where": _site(lease.site), "purpose": words.purpose(lease.purpose)}
        consent = names.get(lease.consent_id, "a consent you gave")
        until = None if lease.ended_at is None else iso_utc(lease.ended_at)
        rows.append(HistoryRow(iso_utc(lease.leased_at), "viewed", what=what, consent=consent, until=until, **common))
        if lease.status == "stopped" and lease.ended_at is not None:
            stop = "stopped watching: flagged it as private, so nobody else will see it"
            rows.append(HistoryRow(iso_utc(lease.ended_at), "stopped", what=stop, consent=consent, **common))
    return rows


def _answers(conn: Connection, clip_id: str) -> list[HistoryRow]:
    answers = conn.execute(
        select(review_annotations.c.label, review_annotations.c.submitted_at, users.c.pseudonym, review_leases.c.site)
        .join(users, users.c.id == review_annotations.c.reviewer_id)
        .join(review_leases, review_leases.c.id == review_annotations.c.lease_id)
        .where(review_annotations.c.clip_id == clip_id)
    ).all()
    return [
        HistoryRow(
            iso_utc(answer.submitted_at),
            "answered",
            who=answer.pseudonym,
            where=_site(answer.site),
            what=f"said what it shows: {_in_a_sentence(words.label(answer.label))}",
            purpose=words.purpose("human_review_for_model_improvement"),
            consent="",
        )
        for answer in answers
    ]


def _others(conn: Connection, clip_id: str, leased: set[str]) -> list[HistoryRow]:
    """The training job's and operators' reads, every refused request by someone other than the owner, and
    any view allowed to a reviewer outside a viewing session (``leased``: the pseudonyms that had one)."""
    decisions = conn.execute(
        select(access_log)
        .where(access_log.c.clip_id == clip_id, access_log.c.role != "owner")
        .order_by(access_log.c.id)
    ).all()
    rows = []
    for row in decisions:
        purpose = words.purpose(row.purpose)
        asked = words.ACTIONS.get(row.action, row.action.replace("_", " "))
        if not row.allow:
            what = f"asked to {asked} and was refused"
            rows.append(HistoryRow(iso_utc(row.at), "refused", row.actor_pseudonym, _site(row.site), what, purpose, ""))
        elif row.role == "system" and row.action in _SYSTEM_ACTIONS:
            what = _SYSTEM_ACTIONS[row.action]
            rows.append(HistoryRow(iso_utc(row.at), "read", "the training job", "", what, purpose, ""))
        elif row.role == "reviewer" and row.actor_pseudonym not in leased:
            what = f"was allowed to {asked}"
            rows.append(HistoryRow(iso_utc(row.at), "viewed", row.actor_pseudonym, _site(row.site), what, purpose, ""))
        elif row.role == "admin":
            what = f"an operator was allowed to {asked}"
            rows.append(HistoryRow(iso_utc(row.at), "read", row.actor_pseudonym, "", what, purpose, ""))
    return rows


def _site(code: str | None) -> str:
    return words.site(code) if code else ""


def _in_a_sentence(phrase: str) -> str:
    """ "The tester program" inside a sentence: "the tester program" (an initialism like "AI" stays)."""
    return phrase[:1].lower() + phrase[1:] if not phrase[1:2].isupper() else phrase

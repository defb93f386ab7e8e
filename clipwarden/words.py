"""The project's internal names in the words a person reads: one place, shared by the pages and the report.

Purposes, consent states, labels, clip states, actions and sites each map to a phrase; times read as
"5 Jan 2026, 17:12 UTC" (the pages' script then shows them in the reader's own time zone, the exact UTC
instant on hover). Ids, hashes and receipts are not translated: the pages keep them one click away.
"""

from __future__ import annotations

from clipwarden.consent.vocabulary import SITES
from clipwarden.times import parse_instant

PURPOSES = {
    "troubleshooting": "Troubleshooting by support",
    "human_review_for_model_improvement": "Human review to improve the camera AI",
    "automated_training": "Training the camera AI, with no person watching",
    "tester_program": "The tester program",
    "owner_access": "Your own use",
}
CONSENT_STATES = {
    "ConsentRequested": "Asked",
    "ConsentRequestDeferred": "Put off",
    "ConsentRefused": "Refused",
    "ConsentGiven": "In force",
    "RenewedConsentGiven": "In force (renewed)",
    "ConsentWithdrawn": "Withdrawn",
    "ConsentRevoked": "Revoked",
    "ConsentExpired": "Expired",
    "ConsentInvalidated": "No longer valid (the notice changed)",
    "ConsentUnknown": "Unknown",
}
LABELS = {
    "intruder": "Intruder",
    "resident": "Someone who lives here",
    "visitor": "Visitor",
    "pet": "Pet",
    "vehicle": "Vehicle",
    "environment": "Light, weather or shadows",
    "no_event": "Nothing happened",
}
CLIP_STATES = {
    "stored": "Kept",
    "deleted": "Deleted",
    "expired": "Gone: its time ran out",
    "quarantined": "Stopped as private",
}
ACTIONS = {
    "view_media": "watch it",
    "view_metadata": "see its details",
    "annotate": "answer what it shows",
    "export": "copy it out",
    "train": "learn from it",
    "delete": "delete it",
}
REQUEST_STATES = {"open": "Being carried out", "closed": "Done"}
SUBJECTS = {"clip": "A clip", "household": "Your whole household"}


def purpose(name: str) -> str:
    return PURPOSES.get(name, name.replace("_", " "))


def consent_state(name: str) -> str:
    return CONSENT_STATES.get(name, name)


def label(name: str | None) -> str:
    return "None" if name is None else LABELS.get(name, name.replace("_", " "))


def clip_state(name: str) -> str:
    return CLIP_STATES.get(name, name)


def site(code: str) -> str:
    """A review site as "Bucharest, Romania (Carpathia Annotation SRL)"; the controller's own staff say so."""
    found = SITES.get(code)
    if found is None:
        return code
    return f"{found.city}, {found.country} ({found.contractor or 'our own staff'})"


def subject(name: str) -> str:
    return SUBJECTS.get(name, name)


def request_state(name: str) -> str:
    return REQUEST_STATES.get(name, name)


def when(iso: str | None) -> str:
    """An ISO 8601 instant as a person reads it: "5 Jan 2026, 17:12 UTC"."""
    if not iso:
        return ""
    moment = parse_instant(iso)
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


def day(iso: str | None) -> str:
    """The day of an instant: "5 Jan 2026"."""
    if not iso:
        return ""
    moment = parse_instant(iso)
    return f"{moment.day} {moment:%b %Y}"

"""Consent receipts: Kantara Consent Receipt v1.1 JSON, signed as a compact JWS with the service key.

A receipt lets the owner (or anyone they show it to) prove what was agreed, to which notice text, and
with whom clips are shared, without asking the service: the signature checks against the published
JWK set and the payload against the Kantara schema shipped in this package. Each purpose also names
the notice version and the SHA-256 of its text (fields the schema leaves open), so the receipt pins the
exact words the owner was shown.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match

from clipwarden.consent import ledger, records
from clipwarden.consent import notices as notice_rules
from clipwarden.consent.ledger import Consent, ConsentEvent
from clipwarden.consent.notices import NOTICES, NoticeVersion
from clipwarden.consent.vocabulary import CONTROLLER, SITES
from clipwarden.errors import ClipwardenError, NotFound
from clipwarden.signing import SigningKey, load_or_create, verify_jws
from clipwarden.store import Store
from clipwarden.times import iso_utc

VERSION = "KI-CR-v1.1.0"
TYP = "kantara-cr+jws"
SCHEMA_FILE = "kantara-consent-receipt-v1_1-schema.json"

_PRINCIPAL_LABEL = b"clipwarden/piiPrincipalId/v1"
_CONTROLLER = {
    "piiController": CONTROLLER,
    "contact": "Data Protection Officer",
    "address": {"streetAddress": "1 Example Way", "addressLocality": "Seattle", "addressCountry": "US"},
    "email": "privacy@clipwarden.example",
    "phone": "+1 206 555 0100",
    "piiControllerUrl": "https://clipwarden.example",
}
# What each purpose is for, in the receipt's words, and its W3C DPV purpose categories.
_PURPOSES: dict[str, tuple[str, list[str]]] = {
    "troubleshooting": ("Support staff watch the clip to fix the problem the owner reported", ["dpv:CustomerCare"]),
    "human_review_for_model_improvement": (
        "Annotators watch and label the clip; the labels train the camera AI",
        ["dpv:ImproveExistingProductsAndServices", "dpv-ai:DataLabelling", "dpv-ai:ModelTraining"],
    ),
    "automated_training": (
        "The clip trains the camera AI automatically; no person watches it",
        ["dpv:ImproveExistingProductsAndServices", "dpv-ai:ModelTraining"],
    ),
    "tester_program": (
        "Annotators may watch and label every clip of the account; the labels train the camera AI",
        ["dpv:ResearchAndDevelopment", "dpv-ai:DataLabelling", "dpv-ai:ModelTraining"],
    ),
}


def receipt_for(store: Store, consent_id: str, household_id: str | None = None) -> str:
    """The signed receipt (compact JWS) for the consent as last given or renewed. With ``household_id``,
    a consent of another household is ``NotFound``."""
    with store.connect() as conn:
        found = records.load(conn, consent_id)
    if found is None or household_id not in (None, found[0].household_id):
        raise NotFound(f"unknown consent id: {consent_id}")
    return signed_receipt(load_or_create(store.data_dir), *found)


def signed_receipt(key: SigningKey, consent: Consent, events: Sequence[ConsentEvent]) -> str:
    """The receipt as the owner holds it; Ed25519 signatures are deterministic, so its hash is stable."""
    document = receipt_document(consent, events, NOTICES, principal_id(key, consent.household_id))
    check_receipt(document)
    return key.sign_jws(canonical_json(document), typ=TYP)


def verify_receipt(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Check a receipt's signature against ``jwks`` and its payload against the Kantara schema;
    ``ClipwardenError`` says what is wrong."""
    header, payload = verify_jws(token.strip(), jwks)
    if header.get("typ") != TYP:
        raise ClipwardenError(f"not a consent receipt: JWS type {header.get('typ')!r}, expected {TYP!r}")
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise ClipwardenError("receipt payload is not JSON") from None
    check_receipt(document)
    return {"ok": True, "consentReceiptID": document["consentReceiptID"]}


def check_receipt(document: Any) -> None:
    """Validate against the Kantara v1.1 schema (draft-04), plus what the schema cannot say: the
    version string, and a third party's name exactly when there is disclosure."""
    error = best_match(Draft4Validator(kantara_schema()).iter_errors(document))
    if error is not None:
        raise ClipwardenError(f"receipt fails the Kantara schema at {_path(error.absolute_path)}: {error.message}")
    if document["version"] != VERSION:
        raise ClipwardenError(
            f"receipt fails the Kantara schema at version: {document['version']!r} is not {VERSION!r}"
        )
    for s, service in enumerate(document["services"]):
        for p, purpose in enumerate(service["purposes"]):
            if purpose["thirdPartyDisclosure"] != ("thirdPartyName" in purpose):
                where = f"services/{s}/purposes/{p}/thirdPartyName"
                raise ClipwardenError(f"receipt fails the Kantara schema at {where}: present exactly when disclosed")


@cache
def kantara_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(resources.files("clipwarden.consent").joinpath(SCHEMA_FILE).read_text("utf-8"))
    return schema


def receipt_document(
    consent: Consent, events: Sequence[ConsentEvent], history: Sequence[NoticeVersion], principal: str
) -> dict[str, Any]:
    """The Kantara receipt of what the owner last agreed to (pure)."""
    agreed_at, terms = ledger.agreement(consent, events)
    purposes = []
    for purpose in consent.purposes:
        notice = notice_rules.find(history, purpose, terms.notice_versions[purpose])
        assert notice is not None  # consents point only at published versions
        sites = [site for site in terms.sites if site in notice.sites]
        purposes.append(_purpose_entry(consent, notice, sites, primary=purpose == consent.purposes[0]))
    return {
        "version": VERSION,
        "jurisdiction": consent.jurisdiction,
        "consentTimestamp": int(agreed_at.timestamp()),
        "collectionMethod": "tester program enrollment"
        if consent.clip_id is None
        else "clipwarden owner app: share button",
        "consentReceiptID": consent.id,
        "language": "en",
        "piiPrincipalId": principal,
        "piiControllers": [_CONTROLLER],
        "policyUrl": "https://clipwarden.example/notices",
        "services": [{"service": "clipwarden: sharing home-camera clips", "purposes": purposes}],
        # Footage from inside a home can reveal health, religion or intimate life (GDPR Art. 9).
        "sensitive": True,
        "spiCat": ["Picture of a home's interior"],
    } | _withdrawal(consent, events)


# What a withdrawal does, as the receipt tells it (a field the schema leaves open).
_WITHDRAWAL_EFFECT = {
    "clip": (
        "The owner withdrew this share. Nobody watches, labels or trains on this clip under any consent of "
        "the household, the tester program included, until the owner shares it again; its queued reviews and "
        "running views ended at once."
    ),
    "account": (
        "The owner withdrew this consent. No clip of the account is reviewed or trained on under it any more; "
        "its queued reviews and running views ended at once."
    ),
}


def _withdrawal(consent: Consent, events: Sequence[ConsentEvent]) -> dict[str, Any]:
    withdrawn = next((event for event in events if event.state == "ConsentWithdrawn"), None)
    if withdrawn is None:
        return {}
    effect = _WITHDRAWAL_EFFECT["account" if consent.clip_id is None else "clip"]
    return {"withdrawal": {"withdrawnAt": iso_utc(withdrawn.at), "effect": effect}}


def principal_id(key: SigningKey, household_id: str) -> str:
    """A pseudonym for the household, stable across receipts. It is keyed with a secret derived from the
    service key (Ed25519 signatures are deterministic), so nobody can test guessed household ids."""
    secret = key.sign(_PRINCIPAL_LABEL)
    return hmac.new(secret, household_id.encode(), "sha256").hexdigest()[:32]


def canonical_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _purpose_entry(consent: Consent, notice: NoticeVersion, sites: list[str], primary: bool) -> dict[str, Any]:
    described, categories = _PURPOSES[notice.purpose]
    contractors = sorted({name for site in sites if (name := SITES[site].contractor)})
    end = iso_utc(ledger.retention_end(consent, notice))
    entry: dict[str, Any] = {
        "purpose": described,
        "purposeCategory": categories,
        "consentType": "EXPLICIT",
        "piiCategory": ["Picture"],
        "primaryPurpose": primary,
        "termination": f"on withdrawal, or after {notice.retention_days} days ({end})",
        "thirdPartyDisclosure": bool(contractors),
        "noticeVersion": notice.version,
        "noticeSha256": notice.sha256,
    }
    if contractors:
        entry["thirdPartyName"] = "; ".join(contractors)
    return entry


def _path(parts: Any) -> str:
    return "/".join(str(part) for part in parts) or "(top level)"

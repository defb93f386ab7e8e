"""Consent receipts: Kantara v1.1 payloads that validate, signed so that any change is caught, and
`receipts get|verify` on the command line."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jsonschema import Draft4Validator

from clipwarden.consent import receipts, service
from clipwarden.consent.notices import NOTICES
from clipwarden.errors import ClipwardenError, NotFound
from clipwarden.signing import SigningKey, load_or_create, verify_jws
from clipwarden.store import Store

from .helpers import AFTER_V2, AT, BEFORE_V2, REVIEW, give

if TYPE_CHECKING:
    from conftest import CliResult, Fleet

Cli = Callable[..., "CliResult"]
ORIGINAL_SCHEMA = Path(__file__).parents[2].parent / "shared/standards/kantara-consent-receipt-v1_1-schema.json"


def _payload(store: Store, token: str) -> dict[str, Any]:
    header, payload = verify_jws(token, load_or_create(store.data_dir).jwks())
    assert (header["typ"], header["alg"], header["kid"]) == (
        receipts.TYP,
        "EdDSA",
        load_or_create(store.data_dir).kid,
    )
    document: dict[str, Any] = json.loads(payload)
    return document


def _some_receipts(store: Store, fleet: Fleet) -> list[dict[str, Any]]:
    """Receipts for an EU share, a US share to the operator's own site only, and a tester enrollment."""
    consent_ids = [
        give(store, "hh-free", fleet.clip_ids["hh-free"][0], REVIEW, "automated_training")["id"],
        give(store, "hh-plus", fleet.clip_ids["hh-plus"][0], "troubleshooting", sites=["us-sea"])["id"],
        give(store, "hh-plus", None, "tester_program")["id"],
    ]
    return [_payload(store, receipts.receipt_for(store, consent_id)) for consent_id in consent_ids]


def test_receipts_validate_against_the_shipped_schema(store: Store, fleet: Fleet) -> None:
    validator = Draft4Validator(receipts.kantara_schema())
    for document in _some_receipts(store, fleet):
        assert list(validator.iter_errors(document)) == []
        receipts.check_receipt(document)


def test_receipts_validate_against_the_original_schema_file(store: Store, fleet: Fleet) -> None:
    if not ORIGINAL_SCHEMA.is_file():
        pytest.skip(f"the shared standards folder is not beside this checkout ({ORIGINAL_SCHEMA} is absent)")
    original = json.loads(ORIGINAL_SCHEMA.read_text(encoding="utf-8"))
    assert receipts.kantara_schema() == original
    for document in _some_receipts(store, fleet):
        assert list(Draft4Validator(original).iter_errors(document)) == []


def test_a_receipt_says_what_was_agreed_with_whom(store: Store, fleet: Fleet) -> None:
    eu_share, us_support, tester = _some_receipts(store, fleet)
    assert (eu_share["version"], eu_share["jurisdiction"], eu_share["consentTimestamp"]) == (
        "KI-CR-v1.1.0",
        "EU",
        int(AT.timestamp()),
    )
    assert eu_share["collectionMethod"] == "clipwarden owner app: share button"
    assert tester["collectionMethod"] == "tester program enrollment"
    assert eu_share["piiControllers"][0]["piiController"] == "clipwarden demo operator"
    review, training = eu_share["services"][0]["purposes"]
    notice = next(n for n in NOTICES if (n.purpose, n.version) == (REVIEW, 1))
    assert (review["noticeVersion"], review["noticeSha256"]) == (1, notice.sha256)
    assert (review["consentType"], review["primaryPurpose"], training["primaryPurpose"]) == ("EXPLICIT", True, False)
    assert review["termination"] == "on withdrawal, or after 90 days (2025-04-01T09:00:00Z)"
    # EU default: only ro-buc, run by a contractor; automated training has no viewer at all.
    assert (review["thirdPartyDisclosure"], review["thirdPartyName"]) == (True, "Carpathia Annotation SRL")
    assert training["thirdPartyDisclosure"] is False and "thirdPartyName" not in training
    (support,) = us_support["services"][0]["purposes"]
    assert support["thirdPartyDisclosure"] is False and "thirdPartyName" not in support
    (enrolled,) = tester["services"][0]["purposes"]
    assert enrolled["thirdPartyName"] == "Carpathia Annotation SRL; Deccan Label Works Pvt Ltd"
    assert eu_share["sensitive"] is True and eu_share["spiCat"] == ["Picture of a home's interior"]


def test_the_principal_is_a_stable_pseudonym(store: Store, fleet: Fleet) -> None:
    eu_share, us_support, tester = _some_receipts(store, fleet)
    again = give(store, "hh-free", fleet.clip_ids["hh-free"][1], REVIEW)["id"]
    principal = eu_share["piiPrincipalId"]
    assert "hh-free" not in principal and len(principal) == 32
    assert _payload(store, receipts.receipt_for(store, again))["piiPrincipalId"] == principal
    assert us_support["piiPrincipalId"] == tester["piiPrincipalId"] != principal


def test_a_renewed_consent_gets_a_receipt_for_the_new_terms(store: Store, fleet: Fleet) -> None:
    consent_id = give(store, "hh-plus", fleet.clip_ids["hh-plus"][0], REVIEW, at=BEFORE_V2)["id"]
    service.renew(store, consent_id, "hh-plus", AFTER_V2, "owner:hh-plus")
    document = _payload(store, receipts.receipt_for(store, consent_id, "hh-plus"))
    (review,) = document["services"][0]["purposes"]
    assert (document["consentTimestamp"], review["noticeVersion"]) == (int(AFTER_V2.timestamp()), 2)
    assert review["thirdPartyName"] == "Carpathia Annotation SRL; Deccan Label Works Pvt Ltd"


def test_receipts_are_only_for_the_owner(store: Store, fleet: Fleet) -> None:
    consent_id = give(store, "hh-plus", None, "tester_program")["id"]
    with pytest.raises(NotFound, match="unknown consent id"):
        receipts.receipt_for(store, consent_id, "hh-free")
    with pytest.raises(NotFound, match="unknown consent id"):
        receipts.receipt_for(store, "nope")


def test_verify_receipt_answers_ok_and_the_id(store: Store, fleet: Fleet) -> None:
    consent_id = give(store, "hh-plus", None, "tester_program")["id"]
    token = receipts.receipt_for(store, consent_id)
    jwks = load_or_create(store.data_dir).jwks()
    assert receipts.verify_receipt(token, jwks) == {"ok": True, "consentReceiptID": consent_id}
    with pytest.raises(ClipwardenError, match="no published key"):
        receipts.verify_receipt(token, {"keys": []})


# The command line, and receipts tampered with


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def issued(cli: Cli, kept_fleet: Fleet, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """A genuine receipt from `receipts get`, and its payload."""
    consent_id = cli(
        "consents", "give", "--household", "hh-free", "--clip", kept_fleet.clip_ids["hh-free"][0], "--purpose", REVIEW
    ).json()["id"]
    got = cli("receipts", "get", consent_id, "--household", "hh-free", "--out", str(tmp_path / "receipt.jws"))
    assert (got.code, got.err) == (0, "")
    document = got.json()
    assert document == {"consentReceiptID": consent_id, "jws": document["jws"], "path": str(tmp_path / "receipt.jws")}
    assert (tmp_path / "receipt.jws").read_text() == document["jws"] + "\n"
    payload = json.loads(base64.urlsafe_b64decode(document["jws"].split(".")[1] + "=="))
    return document["jws"], payload


def test_a_genuine_receipt_verifies(cli: Cli, issued: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    _, payload = issued
    verified = cli("receipts", "verify", str(tmp_path / "receipt.jws"))
    assert (verified.code, verified.err) == (0, "")
    assert verified.json() == {"ok": True, "consentReceiptID": payload["consentReceiptID"]}
    shown = cli("receipts", "verify", str(tmp_path / "receipt.jws"), as_json=False)
    assert shown.out.strip() == f"receipt {payload['consentReceiptID']} is valid"


def _forgeries(token: str, payload: dict[str, Any], ours: SigningKey) -> dict[str, tuple[str, str]]:
    """name -> (the forged receipt, what the error must say)."""
    header, _, signature = token.split(".")
    stranger = SigningKey(Ed25519PrivateKey.generate())
    changed = json.dumps(payload | {"jurisdiction": "US"}).encode()
    without_spicat = {k: v for k, v in payload.items() if k != "spiCat"}
    disclosed = payload["services"][0]["purposes"][0]
    nameless = {key: value for key, value in disclosed.items() if key != "thirdPartyName"}
    unnamed = payload | {"services": [{"service": "x", "purposes": [nameless]}]}
    return {
        "payload-changed": (f"{header}.{_b64(changed)}.{signature}", "bad signature"),
        "another-key": (stranger.sign_jws(receipts.canonical_json(payload), receipts.TYP), "no published key"),
        "another-key-our-kid": (
            jwt.api_jws.encode(
                receipts.canonical_json(payload),
                stranger.private,
                algorithm="EdDSA",
                headers={"kid": ours.kid, "typ": receipts.TYP},
            ),
            "bad signature",
        ),
        "schema-invalid": (ours.sign_jws(receipts.canonical_json(without_spicat), receipts.TYP), "'spiCat'"),
        "undisclosed-name": (
            ours.sign_jws(receipts.canonical_json(unnamed), receipts.TYP),
            "at services/0/purposes/0",
        ),
        "timestamp-text": (
            ours.sign_jws(receipts.canonical_json(payload | {"consentTimestamp": "yesterday"}), receipts.TYP),
            "at consentTimestamp",
        ),
        "wrong-version": (
            ours.sign_jws(receipts.canonical_json(payload | {"version": "KI-CR-v1.0.0"}), receipts.TYP),
            "at version",
        ),
        "not-a-receipt": (ours.sign_jws(receipts.canonical_json(payload), "JWT"), "not a consent receipt"),
        "not-json": (ours.sign_jws(b"\xff not json", receipts.TYP), "not JSON"),
        "not-a-jws": ("hello, auditor", "not a compact JWS"),
    }


def test_tampered_receipts_fail_with_one_line(
    cli: Cli, issued: tuple[str, dict[str, Any]], data_dir: Path, tmp_path: Path
) -> None:
    token, payload = issued
    for name, (forged, message) in _forgeries(token, payload, load_or_create(data_dir)).items():
        path = tmp_path / f"{name}.jws"
        path.write_text(forged)
        result = cli("receipts", "verify", str(path))
        assert (result.code, result.out) == (1, ""), name
        assert result.err.startswith("error: ") and result.err.count("\n") == 1, name
        assert message in result.err, (name, result.err)


def test_verify_needs_a_readable_file_and_a_key(cli: Cli, cli_raw: Cli, tmp_path: Path) -> None:
    missing = cli("receipts", "verify", str(tmp_path / "nothing.jws"))
    assert missing.code == 1 and "cannot read" in missing.err
    (tmp_path / "r.jws").write_text("a.b.c")
    keyless = cli_raw("--data", str(tmp_path / "empty"), "receipts", "verify", str(tmp_path / "r.jws"))
    assert keyless.code == 1 and "has no signing key" in keyless.err
    assert not (tmp_path / "empty").exists()


def test_receipts_get_refuses_another_household(cli: Cli, fleet: Fleet) -> None:
    consent_id = cli("consents", "give", "--household", "hh-plus", "--purpose", "tester_program").json()["id"]
    refused = cli("receipts", "get", consent_id, "--household", "hh-free")
    assert (refused.code, refused.out, refused.err) == (1, "", f"error: unknown consent id: {consent_id}\n")

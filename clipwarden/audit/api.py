"""The audit log's JSON documents, as the command line prints them and the HTTP API answers them
(CONTRACT: hashes lowercase hex, times ISO 8601 UTC, signatures base64url without padding as in JWS).

Each function takes one long-lived ``AuditLog`` (it caches the Merkle tree) and raises ``NotFound`` or
``ClipwardenError`` for bad input, which the HTTP layer answers with a 4xx.
"""

from __future__ import annotations

import base64
from typing import Any

from clipwarden.audit.log import AuditLog, InclusionProof, SignedHead
from clipwarden.audit.merkle import verify_inclusion
from clipwarden.times import iso_utc


def root(log: AuditLog) -> dict[str, Any]:
    """GET /api/audit/root, ``audit root``: a signed head for the log as it is now.
    The signature covers the canonical JSON of {at, root_hash, size} (``clipwarden.audit.log``)."""
    return head_document(log.signed_head())


def head_document(head: SignedHead) -> dict[str, Any]:
    return {
        "size": head.size,
        "root_hash": head.root_hash.hex(),
        "at": iso_utc(head.at),
        "signature": base64.urlsafe_b64encode(head.signature).rstrip(b"=").decode(),
        "kid": head.kid,
    }


def inclusion(log: AuditLog, index: int, size: int | None = None) -> dict[str, Any]:
    """GET /api/audit/proof/inclusion?index=I&size=N, ``audit prove``: the RFC 6962 audit path, leaf
    upwards; ``size`` defaults to the whole log."""
    return inclusion_document(log.inclusion_proof(index, size))


def inclusion_document(proof: InclusionProof) -> dict[str, Any]:
    """An inclusion proof, checked here as an outside verifier would check it (RFC 9162 2.1.3.2):
    ``leaf_hash`` is hashed from the entry's leaf bytes, and ``verified`` says whether the path leads from it
    to ``root_hash``; false for a leaf changed in the database."""
    return {
        "index": proof.index,
        "size": proof.size,
        "leaf_hash": proof.leaf_hash.hex(),
        "path": [node.hex() for node in proof.path],
        "root_hash": proof.root_hash.hex(),
        "verified": verify_inclusion(proof.leaf_hash, proof.index, proof.size, proof.path, proof.root_hash),
    }


def consistency(log: AuditLog, first: int, second: int | None = None) -> dict[str, Any]:
    """GET /api/audit/proof/consistency?first=M&second=N, ``audit consistency``: the RFC 6962 consistency
    proof; ``second`` defaults to the whole log."""
    proof = log.consistency_proof(first, second)
    return {
        "first": proof.first,
        "second": proof.second,
        "first_root": proof.first_root.hex(),
        "second_root": proof.second_root.hex(),
        "path": [node.hex() for node in proof.path],
    }


def entries(log: AuditLog, from_: int = 0, to: int | None = None) -> list[dict[str, Any]]:
    """``audit entries``: entries ``from_`` to ``to`` inclusive, leaves in standard base64."""
    return [
        {"index": entry.index, "leaf_b64": base64.b64encode(entry.leaf).decode(), "leaf_hash": entry.leaf_hash.hex()}
        for entry in log.entries(from_, to)
    ]


def verification(log: AuditLog) -> dict[str, Any]:
    """``audit verify``: {ok, size, root_hash}, and first_bad_index and problem when not ok."""
    result = log.verify()
    document: dict[str, Any] = {"ok": result.ok, "size": result.size, "root_hash": result.root_hash.hex()}
    if not result.ok:
        document |= {"first_bad_index": result.first_bad_index, "problem": result.problem}
    return document

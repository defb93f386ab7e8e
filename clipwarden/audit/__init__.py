"""The tamper-evident audit log (DESIGN invariant 3): every decision and state change is a leaf of an
RFC 6962 Merkle tree, with signed tree heads, inclusion and consistency proofs, and full verification.

``merkle`` is the pure hashing core, ``entries`` the leaf format, ``log`` the database edge and ``api`` the
JSON documents the command line and HTTP API serve.
"""

from clipwarden.audit.log import AuditLog, append

__all__ = ["AuditLog", "append"]

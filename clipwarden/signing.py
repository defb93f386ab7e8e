"""The service's signing key: Ed25519, kept in the data dir, published as a JWK set.

One key signs consent receipts (compact JWS) and audit tree heads, so an owner or auditor needs only
`/.well-known/jwks.json` to check both. The key id is the RFC 7638 thumbprint of the public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from clipwarden.errors import ClipwardenError

KEY_FILE = "keys/signing-ed25519.pem"
ALGORITHM = "EdDSA"


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def kid(self) -> str:
        return jwk_thumbprint(self.public_jwk(with_kid=False))

    def public_jwk(self, with_kid: bool = True) -> dict[str, str]:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}
        if with_kid:
            jwk |= {"kid": jwk_thumbprint(jwk), "use": "sig", "alg": ALGORITHM}
        return jwk

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.public_jwk()]}

    def sign_jws(self, payload: bytes, typ: str) -> str:
        """A compact JWS over `payload` (bytes as given, not re-serialised)."""
        return jwt.api_jws.encode(payload, self.private, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": typ})

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def load_or_create(data_dir: Path) -> SigningKey:
    """The data dir's key; made on first use, readable by this user only."""
    path = data_dir / KEY_FILE
    if not path.exists():
        _create(path)
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as error:
        raise ClipwardenError(f"signing key {path} cannot be read: {error}") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise ClipwardenError(f"signing key {path} is not an Ed25519 key")
    return SigningKey(private)


def verify_jws(token: str, jwks: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Check a compact JWS against a JWK set; return (header, payload) or raise ClipwardenError."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise ClipwardenError(f"not a compact JWS: {error}") from None
    key = next((k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")), None)
    if key is None:
        raise ClipwardenError(f"no published key with kid {header.get('kid')!r}")
    public = jwt.algorithms.OKPAlgorithm.from_jwk(json.dumps(key))
    if not isinstance(public, Ed25519PublicKey):
        raise ClipwardenError(f"key {header.get('kid')!r} is not an Ed25519 public key")
    try:
        verified = jwt.api_jws.decode_complete(token, public, algorithms=[ALGORITHM])
    except jwt.PyJWTError as error:
        raise ClipwardenError(f"bad signature: {error}") from None
    return verified["header"], verified["payload"]


def verify_signature(public_jwk: dict[str, str], message: bytes, signature: bytes) -> bool:
    public = Ed25519PublicKey.from_public_bytes(_b64url_decode(public_jwk["x"]))
    try:
        public.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace."""
    required = {name: jwk[name] for name in ("crv", "kty", "x")}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    return _b64url(hashlib.sha256(canonical).digest())


def secret(data_dir: Path, name: str) -> bytes:
    """A 32-byte secret of the data dir (``keys/NAME.key``), made on first use, readable by this user only:
    the key of the reviewers' watermarks, and of the signatures on media URLs."""
    path = data_dir / "keys" / f"{name}.key"
    if not path.exists():
        _write_once(path, secrets.token_bytes(32))
    try:
        value = path.read_bytes()
    except OSError as error:
        raise ClipwardenError(f"secret {path} cannot be read: {error.strerror}") from None
    if len(value) != 32:
        raise ClipwardenError(f"secret {path} is damaged: {len(value)} bytes, not 32")
    return value


def _create(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_once(path, pem)


def _write_once(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    # Two processes may race to make the first key: the first link wins, the other uses it.
    try:
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(partial)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

"""Accounts and API tokens: who is asking, as the enforcement point sees them."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from clipwarden.consent.vocabulary import SITES
from clipwarden.errors import ClipwardenError
from clipwarden.policy.decision import ROLES, Actor
from clipwarden.services.households import active_household
from clipwarden.store import Store
from clipwarden.store.schema import users

_TOKEN_BYTES = 32


def add_user(store: Store, role: str, household_id: str | None, site: str | None, at: datetime) -> dict[str, Any]:
    """Create an account; return its id and its API token (shown once: only its hash is kept)."""
    _check_account(role, household_id, site)
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    user_id = f"user_{uuid.uuid4().hex[:16]}"
    with store.begin() as conn:
        if household_id is not None:
            active_household(conn, household_id)
        conn.execute(
            users.insert().values(
                id=user_id,
                role=role,
                household_id=household_id,
                site=site,
                pseudonym=_pseudonym(role, site),
                token_sha256=token_digest(token),
                created_at=at,
            )
        )
    return {"user_id": user_id, "token": token, "role": role, "household_id": household_id, "site": site}


def actor_for_token(conn: Connection, token: str) -> Actor | None:
    row = conn.execute(select(users).where(users.c.token_sha256 == token_digest(token))).first()
    if row is None:
        return None
    return Actor(row.id, row.role, household_id=row.household_id, site=row.site, pseudonym=row.pseudonym)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_account(role: str, household_id: str | None, site: str | None) -> None:
    if role not in ROLES:
        raise ClipwardenError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if (role == "owner") != (household_id is not None):
        raise ClipwardenError("an owner account needs --household, and only an owner account takes one")
    if role == "reviewer" and site not in SITES:
        raise ClipwardenError(f"a reviewer needs --site, one of {', '.join(SITES)}")
    if role != "reviewer" and site is not None:
        raise ClipwardenError("only a reviewer account takes --site")


def _pseudonym(role: str, site: str | None) -> str:
    """What owners see in access logs: the role and site, and a random tag; never a name."""
    return f"{role}-{site + '-' if site else ''}{secrets.token_hex(3)}"

"""Accounts, API tokens and passwords: who is asking, as the enforcement point sees them."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import uuid
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Row, delete, or_, select, update

from clipwarden.consent.vocabulary import SITES
from clipwarden.errors import ClipwardenError, Conflict, NotFound, TooManyAttempts
from clipwarden.policy.decision import ROLES, Actor
from clipwarden.services.audit_trail import log_change
from clipwarden.store import Store
from clipwarden.store.erasure_steps import Artefact, ErasureScope, ErasureStep, register_erasure_step
from clipwarden.store.households import active_household
from clipwarden.store.schema import sign_in_failures, users, web_sessions
from clipwarden.store.sql import insert_for
from clipwarden.times import iso_utc

_TOKEN_BYTES = 32
# NIST SP 800-63B asks for at least 8 characters; 12 keeps a guessed password out of reach offline too.
# The upper bound keeps a sign-in form from feeding megabytes to the hasher.
PASSWORD_LENGTHS = (12, 256)
# Wrong passwords for one account id: the first few are free (typos), then each one pauses sign-in for
# that id, twice as long as the last, up to an hour. Guessing becomes hopeless (NIST SP 800-63B 5.2.2 asks
# for at most 100 failures in a row), while the account's owner is slowed, never locked out for good.
FREE_FAILURES = 5
FIRST_PAUSE = timedelta(minutes=1)
LONGEST_PAUSE = timedelta(hours=1)
# A run of failures whose last one is this old is deleted: the next failure counts as the first.
FAILURES_FORGOTTEN_AFTER = timedelta(days=1)
# argon2-cffi's defaults: Argon2id with RFC 9106's low-memory profile (t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()


def add_user(
    store: Store,
    role: str,
    household_id: str | None,
    site: str | None,
    at: datetime,
    password: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Create an account; return its id, its name (the id where none is given) and its API token (shown once:
    only its hash is kept). With a password, the account may also sign in to the web pages."""
    _check_account(role, household_id, site)
    if name is not None:
        check_name(name)
    password_hash = None if password is None else _hash_password(password)
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    user_id = f"user_{uuid.uuid4().hex[:16]}"
    named = name or user_id
    with store.begin() as conn:
        if household_id is not None:
            active_household(conn, household_id)
        if name and conn.execute(select(users.c.id).where(users.c.name == name)).first() is not None:
            raise Conflict(f"an account named {name!r} exists already; choose another name")
        conn.execute(
            users.insert().values(
                id=user_id,
                role=role,
                household_id=household_id,
                site=site,
                pseudonym=_pseudonym(role, site),
                token_sha256=_digest(token),
                created_at=at,
                password_hash=password_hash,
                name=named,
            )
        )
    return {
        "user_id": user_id,
        "name": named,
        "token": token,
        "role": role,
        "household_id": household_id,
        "site": site,
    }


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@ -]{0,63}")


def check_name(name: str) -> None:
    """A name is 1-64 letters, digits, spaces and ``. _ @ -``, starting with a letter or digit, and never in
    the form of an account id (one signs in with either, so neither may stand for another account)."""
    if not _NAME.fullmatch(name) or name != name.strip():
        raise ClipwardenError(
            f"--name {name!r}: 1 to 64 letters, digits, spaces or . _ @ -, starting with a letter or digit"
        )
    if name.startswith("user_"):
        raise ClipwardenError(f"--name {name!r}: names starting with user_ are kept for account ids")


def list_users(store: Store, role: str | None = None) -> list[dict[str, Any]]:
    """The accounts, oldest first: CONTRACT's ``users list``."""
    if role is not None and role not in ROLES:
        raise ClipwardenError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    query = select(users).order_by(users.c.created_at, users.c.id)
    if role is not None:
        query = query.where(users.c.role == role)
    with store.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "user_id": row.id,
            "name": row.name,
            "role": row.role,
            "household_id": row.household_id,
            "site": row.site,
            "has_password": row.password_hash is not None,
            "last_sign_in": None if row.last_sign_in_at is None else iso_utc(row.last_sign_in_at),
        }
        for row in rows
    ]


def set_password(store: Store, user_id: str, password: str, at: datetime) -> dict[str, Any]:
    """Set or change the account's password. The account's web sessions end: whoever signed in with the
    old password is signed out."""
    password_hash = _hash_password(password)  # before the transaction: hashing takes a while on purpose
    with store.begin() as conn:
        changed = conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))
        if changed.rowcount == 0:
            raise NotFound(f"unknown user id: {user_id}")
        conn.execute(
            update(web_sessions)
            .where(web_sessions.c.user_id == user_id, web_sessions.c.ended_at.is_(None))
            .values(ended_at=at, ended_reason="password")
        )
        log_change(conn, "password_set", at, {"user_id": user_id})
    return {"user_id": user_id, "password_set_at": iso_utc(at)}


def authenticate(store: Store, who: str, password: str, at: datetime) -> Actor | None:
    """The account named or numbered ``who`` if the password is its own; None otherwise. An unknown account,
    or one without a password, costs the same Argon2 verification as a wrong password, so timing tells
    nothing. While the account is paused after failed sign-ins (``sign_in_pause``; counted per account,
    whether it was given by name or id), raises ``TooManyAttempts`` without trying."""
    with store.connect() as conn:
        row = conn.execute(select(users).where(or_(users.c.id == who, users.c.name == who))).first()
        account_sha256 = _digest(row.id if row is not None else who)
        paused_until = conn.execute(
            select(sign_in_failures.c.paused_until).where(sign_in_failures.c.account_sha256 == account_sha256)
        ).scalar()
    if paused_until is not None and paused_until > at:
        wait = math.ceil((paused_until - at).total_seconds())
        raise TooManyAttempts(f"too many failed sign-ins for this account; try again in {wait} s", wait)
    stored = row.password_hash if row is not None and row.password_hash else _decoy_hash()
    try:
        matched = _hasher.verify(stored, password) and row is not None and bool(row.password_hash)
    except (VerificationError, InvalidHashError):
        matched = False
    if row is None or not matched:
        _count_failure(store, account_sha256, at)
        return None
    rehash = _hasher.check_needs_rehash(stored)  # the hasher's parameters were raised since: upgrade the hash
    with store.begin() as conn:
        if paused_until is not None:
            conn.execute(delete(sign_in_failures).where(sign_in_failures.c.account_sha256 == account_sha256))
        signed_in = update(users).where(users.c.id == row.id).values(last_sign_in_at=at)
        conn.execute(signed_in.values(password_hash=_hasher.hash(password)) if rehash else signed_in)
    return actor_of(row)


def sign_in_pause(failures: int) -> timedelta:
    """How long sign-in waits after ``failures`` wrong passwords in a row."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    doublings = min(failures - FREE_FAILURES, 32)  # 2**32 minutes is far past the cap already
    return min(FIRST_PAUSE * 2**doublings, LONGEST_PAUSE)


def _count_failure(store: Store, account_sha256: str, at: datetime) -> None:
    """One more failure in the id's run (counted in the database, so concurrent guesses all count). Runs a
    day old are deleted first, this id's included, so that none is kept longer than it matters."""
    table = sign_in_failures
    with store.begin() as conn:
        conn.execute(delete(table).where(table.c.last_failed_at < at - FAILURES_FORGOTTEN_AFTER))
        conn.execute(
            insert_for(conn, table)
            .values(account_sha256=account_sha256, failures=0, last_failed_at=at, paused_until=at)
            .on_conflict_do_nothing()
        )
        failures = conn.execute(
            update(table)
            .where(table.c.account_sha256 == account_sha256)
            .values(failures=table.c.failures + 1, last_failed_at=at)
            .returning(table.c.failures)
        ).scalar_one()
        conn.execute(
            update(table)
            .where(table.c.account_sha256 == account_sha256)
            .values(paused_until=at + sign_in_pause(failures))
        )


def actor_for_token(conn: Connection, token: str) -> Actor | None:
    row = conn.execute(select(users).where(users.c.token_sha256 == _digest(token))).first()
    return None if row is None else actor_of(row)


def actor_of(row: Row[Any]) -> Actor:
    """A ``users`` row as the enforcement point sees it."""
    return Actor(row.id, row.role, household_id=row.household_id, site=row.site, pseudonym=row.pseudonym)


def _digest(text: str) -> str:
    """What is kept of API tokens and of account ids that failed to sign in."""
    return hashlib.sha256(text.encode()).hexdigest()


def _check_account(role: str, household_id: str | None, site: str | None) -> None:
    if role not in ROLES:
        raise ClipwardenError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if site is not None and site not in SITES:
        raise ClipwardenError(f"unknown site {site!r}; one of {', '.join(SITES)}")
    if (role == "owner") != (household_id is not None):
        raise ClipwardenError("an owner account needs --household, and only an owner account takes one")
    if role == "reviewer" and site not in SITES:
        raise ClipwardenError(f"a reviewer needs --site, one of {', '.join(SITES)}")
    if role != "reviewer" and site is not None:
        raise ClipwardenError("only a reviewer account takes --site")


def _hash_password(password: str) -> str:
    shortest, longest = PASSWORD_LENGTHS
    if not shortest <= len(password) <= longest:
        raise ClipwardenError(f"a password needs {shortest} to {longest} characters, not {len(password)}")
    return _hasher.hash(password)


@cache
def _decoy_hash() -> str:
    """A hash no password matches, verified against when there is no real one to keep timing even."""
    return _hasher.hash(secrets.token_urlsafe(32))


def _pseudonym(role: str, site: str | None) -> str:
    """What owners see in access logs: the role and site, and a random tag; never a name."""
    return f"{role}-{site + '-' if site else ''}{secrets.token_hex(3)}"


def _erase_accounts(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    """An erased household's owner accounts go with it: their tokens and web sessions stop working in the
    same transaction."""
    accounts = select(users.c.id).where(users.c.household_id == scope.subject_id)
    session_count = conn.execute(delete(web_sessions).where(web_sessions.c.user_id.in_(accounts))).rowcount
    removed = sorted(
        conn.execute(delete(users).where(users.c.household_id == scope.subject_id).returning(users.c.id)).scalars()
    )
    digests = [_digest(user_id) for user_id in removed]
    failure_count = conn.execute(
        delete(sign_in_failures).where(sign_in_failures.c.account_sha256.in_(digests))
    ).rowcount
    artefacts: list[Artefact] = [{"kind": "owner_account", "user_id": user_id} for user_id in removed]
    if session_count:
        artefacts.append({"kind": "web_sessions", "count": session_count})
    if failure_count:
        artefacts.append({"kind": "sign_in_failures", "count": failure_count})
    return artefacts


register_erasure_step(ErasureStep("owner_accounts", frozenset({"household"}), _erase_accounts, order=30))

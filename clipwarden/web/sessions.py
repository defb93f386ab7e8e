"""Cookie sessions for the web pages, and the checks every form post passes.

A session is a random cookie value. The database keeps only its SHA-256 (``web_sessions.id``), so a copy
of the database signs nobody in. The cookie is HttpOnly (no script reads it), SameSite=Strict (no other
site's page sends it) and Secure when the page came over https. A session ends when its owner signs out,
after ``idle_timeout`` without a request, ``absolute_timeout`` after sign-in whatever happens, when the
password changes, or with the account (erasure).

Cross-site request forgery: SameSite does not separate two ports of one host (a site is scheme and
domain), so every state-changing form post must also come from this origin (``Origin``, or ``Referer``
where a browser sends no ``Origin``) and carry the session's own token in a hidden field.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import Connection, bindparam, select, update

from clipwarden.policy.decision import Actor
from clipwarden.services.audit_trail import log_change
from clipwarden.services.users import actor_of
from clipwarden.store import Store
from clipwarden.store.schema import users, web_sessions

_SECRET_BYTES = 32
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class SessionSettings:
    """How long sessions last, and what a form post may weigh. The defaults follow OWASP's session
    management advice for applications handling sensitive data."""

    idle_timeout: timedelta = timedelta(minutes=30)  # no request for this long: signed out
    absolute_timeout: timedelta = timedelta(hours=12)  # this long after sign-in: signed out regardless
    cookie_name: str = "clipwarden_session"
    max_form_bytes: int = 64 * 1024  # the largest form body read; the pages' forms are a few hundred bytes


@dataclass(frozen=True)
class PageSession:
    """A signed-in person, as a page request sees them."""

    id: str  # the row id: SHA-256 of the cookie value
    actor: Actor
    csrf_token: str  # echoed in every form this session renders
    name: str | None = None  # the account's name, where it has one


class CrossSiteRefused(HTTPException):
    """A state-changing post that did not come from this origin, or without the session's token."""

    def __init__(self, why: str) -> None:
        super().__init__(403, f"cross-site form post refused: {why}")


def start(
    store: Store, actor: Actor, client_ip: str, at: datetime, settings: SessionSettings
) -> tuple[str, PageSession]:
    """A new session for ``actor``; returns the cookie value (shown once) and the session."""
    cookie_value = secrets.token_urlsafe(_SECRET_BYTES)
    session = PageSession(cookie_digest(cookie_value), actor, secrets.token_urlsafe(_SECRET_BYTES))
    with store.begin() as conn:
        conn.execute(
            web_sessions.insert().values(
                id=session.id,
                user_id=actor.id,
                created_at=at,
                last_seen_at=at,
                expires_at=at + settings.absolute_timeout,
                client_ip=client_ip,
                csrf_token=session.csrf_token,
            )
        )
        log_change(conn, "session", at, {"event": "started", "session": session.id[:16], "user_id": actor.id})
    return cookie_value, session


# The account (its columns as named in ``users``) and the session's times, in one query.
_LIVE_SESSION = (
    select(
        users,
        web_sessions.c.created_at.label("signed_in_at"),
        web_sessions.c.last_seen_at,
        web_sessions.c.expires_at,
        web_sessions.c.csrf_token,
    )
    .select_from(web_sessions.join(users, users.c.id == web_sessions.c.user_id))
    .where(web_sessions.c.id == bindparam("session_id"), web_sessions.c.ended_at.is_(None))
)


def resume(store: Store, cookie_value: str, at: datetime, settings: SessionSettings) -> PageSession | None:
    """The live session the cookie names, its idle clock reset; None if there is none. A session found
    past either timeout is ended here, and logged."""
    session_id = cookie_digest(cookie_value)
    with store.begin() as conn:
        row = conn.execute(_LIVE_SESSION, {"session_id": session_id}).first()
        if row is None:
            return None
        if timed_out := _timeout(row.signed_in_at, row.last_seen_at, row.expires_at, at, settings):
            _end(conn, session_id, row.id, at, timed_out)
            return None
        conn.execute(update(web_sessions).where(web_sessions.c.id == session_id).values(last_seen_at=at))
    return PageSession(session_id, actor_of(row), row.csrf_token, row.name)


def end(store: Store, session: PageSession, at: datetime, reason: str = "signed_out") -> None:
    with store.begin() as conn:
        _end(conn, session.id, session.actor.id, at, reason)


def cookie_digest(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()


def set_cookie(response: Response, request: Request, cookie_value: str, settings: SessionSettings) -> None:
    """A browser-session cookie: no Max-Age, since the server alone decides when a session ends."""
    response.set_cookie(
        settings.cookie_name,
        cookie_value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def clear_cookie(response: Response, request: Request, settings: SessionSettings) -> None:
    response.delete_cookie(
        settings.cookie_name, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
    )


def check_same_origin(request: Request) -> None:
    """Refuse a post whose Origin (or, without one, Referer) is not this server's own origin. A post
    naming neither is refused too: every browser that runs these pages sends Origin on a form post."""
    own = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is None:
        referer = urlsplit(request.headers.get("referer", ""))
        origin = f"{referer.scheme}://{referer.netloc}" if referer.scheme and referer.netloc else None
    if origin is None:
        raise CrossSiteRefused("the request names no Origin or Referer")
    if origin != own:
        raise CrossSiteRefused(f"it came from {origin}, not from {own}")


def check_token(form: Mapping[str, list[str]], session: PageSession) -> None:
    sent = form.get("csrf_token", [""])[0]
    if not secrets.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise CrossSiteRefused("the form lacks this session token")


async def read_form(request: Request, settings: SessionSettings) -> dict[str, list[str]]:
    """A URL-encoded form body, read up to ``max_form_bytes`` (413 past it); 415 for any other body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise HTTPException(415, f"a form post must be sent as {FORM_TYPE}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > settings.max_form_bytes:
            raise HTTPException(413, f"a form post may hold at most {settings.max_form_bytes} bytes")
    try:
        return parse_qs(body.decode(), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "the form body is not valid URL-encoded UTF-8") from None


def _timeout(
    created_at: datetime, last_seen_at: datetime, expires_at: datetime, at: datetime, settings: SessionSettings
) -> str | None:
    # expires_at was fixed at sign-in; a limit shortened since applies to sessions already open too.
    if at >= expires_at or at - created_at >= settings.absolute_timeout:
        return "expired"
    if at - last_seen_at >= settings.idle_timeout:
        return "idle"
    return None


def _end(conn: Connection, session_id: str, user_id: str, at: datetime, reason: str) -> None:
    conn.execute(update(web_sessions).where(web_sessions.c.id == session_id).values(ended_at=at, ended_reason=reason))
    log_change(
        conn, "session", at, {"event": "ended", "session": session_id[:16], "user_id": user_id, "reason": reason}
    )

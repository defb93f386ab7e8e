"""The server-rendered pages: sign-in, the owner portal, the reviewer workstation and the auditor console.

Every owner action calls the same ``clipwarden.services.owner`` use case as the JSON API, so every clip
request goes through the enforcement point (``clipwarden.policy.gate``) first; the video on a clip page
plays from ``/clips/{id}/video``, which opens the media only through ``owner.open_media``. Pages use a
cookie session (``web/sessions.py``); every state-changing form post is checked for its origin and its
session token first. A refused request gets an HTML page with the right status and leaves an audit
"refusal" entry, as the API's refusals do.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from clipwarden import words
from clipwarden.audit import api as audit_api
from clipwarden.audit.log import AuditLog
from clipwarden.consent.notices import notices_in_force
from clipwarden.consent.vocabulary import ACCOUNT_WIDE_PURPOSES, SITES, VALID_STATES
from clipwarden.domain import LABELS
from clipwarden.errors import ClipwardenError, Conflict, NotFound, TooManyAttempts
from clipwarden.learn import unlearning
from clipwarden.policy.gate import Denied
from clipwarden.services import auditing, clip_history, clip_overview, notices_to_owners, owner, screening
from clipwarden.services.users import authenticate
from clipwarden.store import Store
from clipwarden.times import iso_utc, parse_instant
from clipwarden.web import sessions
from clipwarden.web.auth import Refusal, check_network, client_address, log_refusal, refusal_log, web_settings
from clipwarden.web.media import media_response
from clipwarden.web.sessions import PageSession

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=TEMPLATE_DIR)


def time_element(iso: str | None) -> Markup:
    """A ``<time>`` in words, in UTC; the pages' script shows it in the reader's time zone, UTC on hover."""
    if not iso:
        return Markup("")
    return Markup('<time datetime="{}">{}</time>').format(iso, words.when(iso))


templates.env.filters.update(
    when=time_element,
    day=words.day,
    purpose=words.purpose,
    consent_state=words.consent_state,
    label=words.label,
    clip_state=words.clip_state,
    site=words.site,
    subject=words.subject,
    request_state=words.request_state,
)

# Where each role lands after signing in. The reviewer workstation's data comes from web/review_api.py.
HOME_BY_ROLE = {"owner": "/clips", "auditor": "/audit", "admin": "/audit", "reviewer": "/review"}
# Self only: no inline script or style, no other origin, not framed by anyone.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The workstation's script also talks to the reviewer API: fetch() to this origin, and nowhere else.
REVIEW_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY + "; connect-src 'self'"
# What a redirect after an action may say; a query parameter picks one, so no text travels in the URL.
DONE_MESSAGES = {
    "withdrawn": "Consent withdrawn. The clip has left the review queue and every future training set.",
    "confirmed": "Confirmed: the clip is released for human review under your consent.",
}
SIGN_IN_FAILED = "sign-in failed: unknown account or wrong password"
_STATUS_OF: tuple[tuple[type[ClipwardenError], int], ...] = ((NotFound, 404), (Conflict, 409), (Denied, 403))


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""


class PageRoute(APIRoute):
    """Answers a page's refusals as HTML pages (the app's handlers answer JSON), sends a request without
    a session to sign in, and sets the pages' security headers on every answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                response = await handle(request)
            except SignInRequired:
                response = RedirectResponse(f"/sign-in?next={quote(request.url.path)}", status_code=303)
            except (ClipwardenError, StarletteHTTPException, RequestValidationError) as error:
                status, detail = _refusal(error)
                headers = getattr(error, "headers", None) or {}
                response = await run_in_threadpool(refused_page, request, Refusal(status, detail, headers))
            return _hardened(response)

        return guarded


router = APIRouter(route_class=PageRoute, default_response_class=HTMLResponse, include_in_schema=False)


def refused_page(request: Request, refusal: Refusal) -> Response:
    """Log the refusal (count it, for someone not signed in), then show it. A refusal that came before the
    session was looked at (a cross-site post) is logged in the name of the session the cookie names."""
    session = request.state.page_session if hasattr(request.state, "page_session") else _resumed(request)
    actor = session.actor if session is not None else getattr(request.state, "actor", None)
    answer = log_refusal(request, refusal, actor, _now(request))
    page = error_page(request, answer.status, str(answer.detail))
    page.headers.update(answer.headers)
    return page


# What a refusal's status means, as the error page's heading says it.
_HEADINGS = {
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not possible here",
    409: "Not possible now",
    413: "Too large",
    422: "Something in the form was not right",
    429: "Too many tries",
}


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    """The page a browser is shown for a refusal: a heading in words, what was wrong, and that nothing changed."""
    heading = _HEADINGS.get(status, "That could not be done")
    return render(request, "error.html", status=status, heading=heading, detail=detail)


def unknown_address_page(request: Request) -> Response:
    """An address no page or API route answers: nothing was asked of anyone, so nothing is logged."""
    detail = "There is no page at this address. Check it, or start again from the home page."
    return _hardened(render(request, "error.html", status=404, heading=_HEADINGS[404], detail=detail, logged=False))


def wants_page(request: Request) -> bool:
    """A browser asking for a page (HTML in its Accept header), not a client of the JSON API."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    session: PageSession | None = getattr(request.state, "page_session", None)
    return templates.TemplateResponse(request, template, {"session": session, **context}, status_code=status)


def _refusal(error: Exception) -> tuple[int, str]:
    if isinstance(error, StarletteHTTPException):
        return error.status_code, str(error.detail)
    if isinstance(error, RequestValidationError):
        fields = ", ".join(str(problem["loc"][-1]) for problem in error.errors())
        return 422, f"invalid request parameters: {fields}"
    return next((code for kind, code in _STATUS_OF if isinstance(error, kind)), 400), str(error)


def _hardened(response: Response) -> Response:
    """No page is cached (each shows clip data or a session's token), and none may run foreign code."""
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


# Request context


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def _audit_log(request: Request) -> AuditLog:
    log: AuditLog = request.app.state.audit_log
    return log


def _resumed(request: Request) -> PageSession | None:
    settings = web_settings(request).sessions
    cookie = request.cookies.get(settings.cookie_name)
    found = sessions.resume(_store(request), cookie, _now(request), settings) if cookie else None
    request.state.page_session = found
    return found


def page_session(request: Request) -> PageSession:
    """The signed-in person, working from a network their role may work from."""
    found = _resumed(request)
    if found is None:
        raise SignInRequired
    check_network(request, found.actor)
    return found


def role_session(*roles: str) -> Callable[[PageSession], PageSession]:
    def check(session: Annotated[PageSession, Depends(page_session)]) -> PageSession:
        if session.actor.role not in roles:
            raise HTTPException(403, f"this page is for the role {' or '.join(roles)}")
        return session

    return check


OwnerSession = Annotated[PageSession, Depends(role_session("owner"))]
AuditorSession = Annotated[PageSession, Depends(role_session("auditor", "admin"))]
ReviewerSession = Annotated[PageSession, Depends(role_session("reviewer"))]


@dataclass(frozen=True)
class Form:
    fields: Mapping[str, list[str]]

    def one(self, name: str) -> str:
        return self.fields.get(name, [""])[0]

    def all(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))

    def ticked(self, name: str) -> bool:
        return self.one(name) == "yes"


def same_origin(request: Request) -> None:
    sessions.check_same_origin(request)


async def signed_form(
    request: Request,
    _origin: Annotated[None, Depends(same_origin)],
    session: Annotated[PageSession, Depends(page_session)],
) -> Form:
    """A state-changing form post: from this origin (checked before anything else), by a signed-in
    person, carrying their session's token."""
    fields = await sessions.read_form(request, web_settings(request).sessions)
    sessions.check_token(fields, session)
    return Form(fields)


async def sign_in_form(request: Request, _origin: Annotated[None, Depends(same_origin)]) -> Form:
    return Form(await sessions.read_form(request, web_settings(request).sessions))


SignedForm = Annotated[Form, Depends(signed_form)]


# Signing in and out


@router.get("/")
def home(request: Request) -> Response:
    session = _resumed(request)
    return RedirectResponse(HOME_BY_ROLE[session.actor.role] if session else "/sign-in", status_code=303)


@router.get("/sign-in")
def sign_in_page(request: Request, next: str = "") -> Response:
    return render(request, "sign_in.html", next=_local_path(next))


@router.post("/sign-in")
def sign_in(request: Request, form: Annotated[Form, Depends(sign_in_form)]) -> Response:
    store, at, settings = _store(request), _now(request), web_settings(request).sessions
    if refusal_log(request).over_allowance(request, at):  # answered 429 before the attempt costs a write
        return _sign_in_refused(request, form, 401, SIGN_IN_FAILED)
    try:
        actor = authenticate(store, form.one("user_id").strip(), form.one("password"), at)
    except TooManyAttempts as paused:
        return _sign_in_refused(request, form, 429, str(paused), {"Retry-After": str(paused.retry_after)})
    if actor is None:
        return _sign_in_refused(request, form, 401, SIGN_IN_FAILED)
    request.state.actor = actor
    check_network(request, actor)
    cookie_value, _ = sessions.start(store, actor, client_address(request), at, settings)
    response = RedirectResponse(_local_path(form.one("next")) or HOME_BY_ROLE[actor.role], status_code=303)
    sessions.set_cookie(response, request, cookie_value, settings)
    return response


def _sign_in_refused(
    request: Request, form: Form, status: int, detail: str, headers: dict[str, str] | None = None
) -> Response:
    """The sign-in page again, with the reason; the attempt is counted (nobody is signed in)."""
    answer = log_refusal(request, Refusal(status, detail, headers or {}), None, _now(request))
    next_path = _local_path(form.one("next"))
    response = render(request, "sign_in.html", status=answer.status, error=answer.detail, next=next_path)
    response.headers.update(answer.headers)
    return response


@router.post("/sign-out")
def sign_out(request: Request, form: SignedForm, session: Annotated[PageSession, Depends(page_session)]) -> Response:
    sessions.end(_store(request), session, _now(request))
    response = RedirectResponse("/sign-in", status_code=303)
    sessions.clear_cookie(response, request, web_settings(request).sessions)
    return response


def _local_path(target: str) -> str:
    """Only a path on this site may follow sign-in (no open redirect to another host)."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else ""


# The owner portal


@router.get("/clips")
def clips_page(
    request: Request,
    session: OwnerSession,
    camera: str = "",
    label: str = "",
    shared: str = "",
    watched: str = "",
    cursor: str = "",
) -> Response:
    """The household's clips, newest first, a page at a time, with their marks, filtered."""
    asked = {"camera": camera, "label": label, "shared": shared, "watched": watched}
    wanted = clip_overview.ClipFilter(**{name: value.strip() or None for name, value in asked.items()})
    start = _number(cursor, "page") if cursor.strip() else 0
    page = clip_overview.overview(_store(request), session.actor, _now(request), wanted, start)
    notices = notices_to_owners.for_owner(_store(request), session.actor)
    return render(
        request,
        "clips.html",
        **page,
        notifications=notices,
        asked=asked,
        filtered=any(asked.values()),
        query=urlencode(asked),
        cursor=start,
        labels=LABELS,
        per_page=clip_overview.CLIPS_PER_PAGE,
    )


@router.get("/clips/{clip_id}")
def clip_page(request: Request, clip_id: str, session: OwnerSession, done: str = "") -> Response:
    return _clip_page(request, clip_id, session, done=DONE_MESSAGES.get(done))


@dataclass(frozen=True)
class ShareProblem:
    """A share form that could not be taken: what was wrong, next to which part of the form (``purposes``,
    ``sites`` or ``form``), and what the owner had chosen, to show the form again as it was."""

    field: str
    text: str
    purposes: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    allow_unredacted: bool = False


def _clip_page(
    request: Request, clip_id: str, session: PageSession, done: str | None = None, problem: ShareProblem | None = None
) -> Response:
    store, at, who = _store(request), _now(request), session.actor
    clip = owner.get_clip(store, who, clip_id, at)
    consents = owner.consents(store, who, at)
    shares = [consent for consent in consents if consent["clip_id"] == clip_id]
    stopped = screening.stopped_at(store, clip_id)
    return render(
        request,
        "clip.html",
        status=400 if problem else 200,
        clip=clip,
        camera_name=clip_overview.camera_names(store, {clip["camera_id"]})[clip["camera_id"]],
        # The clip's standing as it is: stopped by a reviewer as private, or gone once its retention ran out.
        stopped_at=None if stopped is None else iso_utc(stopped),
        gone=clip["status"] != "stored" or parse_instant(clip["expires_at"]) <= at,
        shares=shares,
        valid_states=VALID_STATES,
        history=clip_history.clip_history(store, who, clip_id, at),
        covering=clip_history.covering_consents(consents, clip_id),
        models=unlearning.models_of_clip(store, who, clip_id, at),
        notifications=notices_to_owners.for_owner(store, who, clip_id),
        notices=[
            _notice_view(notice) for notice in notices_in_force(at) if notice["purpose"] not in ACCOUNT_WIDE_PURPOSES
        ],
        sites=SITES,
        done=done,
        problem=problem,
    )


@router.get("/clips/{clip_id}/thumbnail")
def clip_thumbnail(request: Request, clip_id: str, session: OwnerSession) -> Response:
    """The clip's keyframe for the clip list, through the enforcement point like its video."""
    jpeg = owner.open_thumbnail(_store(request), session.actor, clip_id, _now(request))
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.api_route("/clips/{clip_id}/video", methods=["GET", "HEAD"])
def clip_video(request: Request, clip_id: str, session: OwnerSession) -> Response:
    """The clip's MP4 for the page's video element, opened through the enforcement point; byte ranges as
    browsers ask for them."""
    media = owner.open_media(_store(request), session.actor, clip_id, _now(request))
    return media_response(media, request)


@router.post("/clips/{clip_id}/share")
def share_clip(request: Request, clip_id: str, form: SignedForm, session: OwnerSession) -> Response:
    """Share the clip; a form that cannot be taken is shown again, as the owner filled it, with the problem
    next to the part it concerns (the refusal logged like any other, nothing changed)."""
    purposes, sites, unredacted = form.all("purpose"), form.all("site"), form.ticked("allow_unredacted")
    try:
        if not purposes:
            raise FormProblem("purposes", "Tick at least one purpose: nothing is shared until you do.")
        if unknown := sorted(set(sites) - SITES.keys()):
            named = ", ".join(code if len(code) <= 40 else code[:40] + "…" for code in unknown)
            raise FormProblem("sites", f"There is no review site {named}: tick one of those listed.")
        versions = {purpose: _notice_version(form.one(f"notice_version:{purpose}")) for purpose in purposes}
        shared = owner.share_clip(
            _store(request), session.actor, clip_id, purposes, versions, unredacted, sites or None, _now(request)
        )
    except ClipwardenError as error:
        status, detail = _refusal(error)
        if status != 400:  # not the form's fault (an unknown clip, a refusal, a conflict): the error page
            raise
        field = error.field if isinstance(error, FormProblem) else "form"
        log_refusal(request, Refusal(status, detail, {}), session.actor, _now(request))
        problem = ShareProblem(field, detail, tuple(purposes), tuple(sites), unredacted)
        return _clip_page(request, clip_id, session, problem=problem)
    return render(request, "shared.html", clip_id=clip_id, shared=shared)


class FormProblem(ClipwardenError):
    """A form field's value that cannot be taken; ``field`` names the part of the form it concerns."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@router.post("/clips/{clip_id}/confirm-sensitive")
def confirm_sensitive(request: Request, clip_id: str, form: SignedForm, session: OwnerSession) -> Response:
    owner.confirm_sensitive(_store(request), session.actor, clip_id, _now(request))
    return RedirectResponse(f"/clips/{quote(clip_id)}?done=confirmed", status_code=303)


@router.get("/clips/{clip_id}/delete")
def confirm_delete_page(request: Request, clip_id: str, session: OwnerSession) -> Response:
    clip = owner.get_clip(_store(request), session.actor, clip_id, _now(request))
    return render(request, "confirm_delete.html", clip=clip)


@router.post("/clips/{clip_id}/delete")
def delete_clip(request: Request, clip_id: str, form: SignedForm, session: OwnerSession) -> Response:
    certificate = owner.delete_clip(_store(request), session.actor, clip_id, _now(request))
    return render(request, "deleted.html", certificate=certificate, what="the clip")


@router.get("/consents")
def consents_page(request: Request, session: OwnerSession, done: str = "") -> Response:
    consents = owner.consents(_store(request), session.actor, _now(request))
    return render(request, "consents.html", consents=consents, valid_states=VALID_STATES, done=DONE_MESSAGES.get(done))


@router.post("/consents/{consent_id}/withdraw")
def withdraw(request: Request, consent_id: str, form: SignedForm, session: OwnerSession) -> Response:
    owner.withdraw_consent(_store(request), session.actor, consent_id, _now(request))
    return RedirectResponse("/consents?done=withdrawn", status_code=303)


@router.get("/consents/{consent_id}/receipt")
def receipt(request: Request, consent_id: str, session: OwnerSession) -> Response:
    """The signed Kantara receipt (compact JWS), as a file to keep."""
    token = owner.receipt(_store(request), session.actor, consent_id)
    disposition = f'attachment; filename="consent-receipt-{consent_id}.jws"'
    return Response(token, media_type="application/jose", headers={"Content-Disposition": disposition})


@router.get("/erasure-requests")
def erasure_requests_page(request: Request, session: OwnerSession) -> Response:
    requests = owner.erasure_requests_for(_store(request), session.actor, _now(request))
    return render(request, "erasure_requests.html", requests=requests)


@router.get("/household/erase")
def confirm_erase_page(request: Request, session: OwnerSession) -> Response:
    return render(request, "confirm_erase.html")


@router.post("/household/erase")
def erase_household(request: Request, form: SignedForm, session: OwnerSession) -> Response:
    """Erase the whole household once its id is typed in; the account and this session go with it."""
    household_id = session.actor.household_id or ""
    if form.one("confirm").strip() != household_id:
        problem = f"That is not your household id: type {household_id} to confirm the erasure. Nothing was erased."
        log_refusal(request, Refusal(400, problem, {}), session.actor, _now(request))
        return render(request, "confirm_erase.html", status=400, problem=problem)
    certificate = owner.erase_household(_store(request), session.actor, household_id, _now(request))
    request.state.page_session = None  # the account is gone: show the page signed out
    response = render(request, "deleted.html", certificate=certificate, what="your whole household")
    sessions.clear_cookie(response, request, web_settings(request).sessions)
    return response


# The reviewer workstation


# The keys that pick a label (CONTRACT's seven, in its order), and what each one covers.
LABEL_KEYS = tuple(zip("1234567", LABELS, strict=True))
LABEL_HINTS = {"environment": "light, weather, shadow", "no_event": "nothing happened"}


@router.get("/review")
def review_page(request: Request, session: ReviewerSession) -> Response:
    """The workstation's shell. It holds no clip data: its script (static/review.js) asks
    /api/review/next, with this cookie session, for task tokens and media URLs bound to the session. The
    server's clock travels in the page so that lease countdowns hold whatever the browser's clock says."""
    page = render(
        request, "review.html", label_keys=LABEL_KEYS, label_hints=LABEL_HINTS, server_now=iso_utc(_now(request))
    )
    page.headers["Content-Security-Policy"] = REVIEW_CONTENT_SECURITY_POLICY
    return page


# The auditor console


@router.get("/audit")
def audit_page(
    request: Request, session: AuditorSession, index: str = "", size: str = "", first: str = "", second: str = ""
) -> Response:
    """The console; with ``index`` (and optionally ``size``, both from the proof form, where a field left
    empty arrives as ""), the inclusion proof of that entry, checked; with ``first`` (and optionally
    ``second``), the consistency proof between the two tree heads, checked."""
    log = _audit_log(request)
    proof = consistency = None
    if index.strip():
        tree_size = _number(size, "tree size") if size.strip() else None
        proof = auditing.checked_inclusion(log, _number(index, "entry index"), tree_size)
    if first.strip():
        larger = _number(second, "second tree size") if second.strip() else None
        consistency = auditing.checked_consistency(log, _number(first, "first tree size"), larger)
    return render(
        request,
        "audit.html",
        head=audit_api.root(log),
        proof=proof,
        consistency=consistency,
        replay=auditing.replay_log(log),
        quarantined=auditing.quarantined_clips(_store(request)),
    )


@router.get("/audit/entries")
def audit_entries_page(
    request: Request,
    session: AuditorSession,
    kind: str = "",
    actor: str = "",
    clip: str = "",
    since: str = "",
    until: str = "",
    before: str = "",
) -> Response:
    """The log's entries, newest first, filtered, a page at a time; each checked against the tree head."""
    store = _store(request)
    wanted = auditing.EntryFilter(
        kind=kind.strip() or None,
        actor=actor.strip() or None,
        clip=clip.strip() or None,
        since=_instant(since, "from"),
        until=_instant(until, "to"),
    )
    page = auditing.browse(store, _audit_log(request), wanted, _number(before, "page") if before.strip() else None)
    asked = {"kind": kind, "actor": actor, "clip": clip, "since": since, "until": until}
    return render(request, "audit_entries.html", asked=asked, **page, query=urlencode(asked))


# Helpers


def _notice_view(notice: dict[str, Any]) -> dict[str, Any]:
    """A notice with its sites spelled out: who watches, where, for whom."""
    return notice | {"site_details": [SITES[code] for code in notice["sites"]]}


def _instant(text: str, what: str) -> datetime | None:
    """A time from a filter field (the browser's datetime-local, taken as UTC, or ISO 8601); None if empty."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ClipwardenError(f"{what} must be a date and time such as 2026-01-05T17:00, not {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _notice_version(text: str) -> int:
    """The version of the notice the share form showed; a form without one was changed or is out of date."""
    if not text.strip().isdigit():
        raise ClipwardenError(
            "this form was changed or is out of date: open the clip's page again and share from there"
        )
    return int(text)


def _number(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ClipwardenError(f"{what} must be a whole number, not {text!r}") from None

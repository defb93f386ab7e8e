"""The HTTP API (CONTRACT): owners, auditors, and the public notices and keys.

Routes are thin: they name the actor from the bearer token and call the use cases in
`clipwarden.services.owner`, which put every clip request through the enforcement point first. The pages
(`web/pages.py`, cookie sessions) are mounted on the same app and call the same use cases.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from clipwarden.audit import api as audit_api
from clipwarden.audit.log import AuditLog
from clipwarden.consent.notices import notices_in_force
from clipwarden.consent.vocabulary import PURPOSES, SITES, Purpose
from clipwarden.errors import ClipwardenError, Conflict, NotFound
from clipwarden.learn import unlearning
from clipwarden.policy.decision import Actor
from clipwarden.policy.gate import Denied
from clipwarden.services import owner
from clipwarden.signing import load_or_create
from clipwarden.store import Store
from clipwarden.times import utc_now
from clipwarden.web import pages, review_api
from clipwarden.web.api_docs import MEDIA, RECEIPT, JOSEResponse, MP4Response, signed_in
from clipwarden.web.auth import (
    CredentialFirst,
    Refusal,
    RefusalLog,
    WebSettings,
    bearer_actor,
    known_actor,
    log_refusal,
)
from clipwarden.web.limits import BodyLimit
from clipwarden.web.media import media_response

# The bearer token's account, and for reviewers the check that they work from their site's networks.
_actor = bearer_actor


def _role(*allowed: str) -> Callable[[Actor], Actor]:
    def check(who: Annotated[Actor, Depends(_actor)]) -> Actor:
        if who.role not in allowed:
            raise HTTPException(403, f"this needs the role {' or '.join(allowed)}")
        return who

    return check


Owner = Annotated[Actor, Depends(_role("owner"))]
Auditor = Annotated[Actor, Depends(_role("auditor", "admin"))]


SiteCode = Literal["in-hyd", "ro-buc", "us-sea"]
assert set(SiteCode.__args__) == set(SITES)  # type: ignore[attr-defined]
NoticeVersion = Annotated[int, Field(ge=1)]


class ShareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purposes: list[Purpose] = Field(min_length=1, max_length=len(PURPOSES))
    notice_version: NoticeVersion | dict[Purpose, NoticeVersion] | None = Field(
        default=None, description="The version shown, for every purpose or per purpose; default: the one in force."
    )
    allow_unredacted: bool = False
    sites: list[SiteCode] | None = Field(default=None, max_length=len(SITES))

    def versions(self) -> int | dict[str, int] | None:
        """``notice_version`` in the form the use case takes."""
        given = self.notice_version
        return {str(purpose): version for purpose, version in given.items()} if isinstance(given, dict) else given


MAX_CLIPS_PER_PAGE = 500
NEXT_PAGE_LINK = {
    "description": 'With `limit`, while more clips follow: `</api/clips?limit=N&cursor=C>; rel="next"` (RFC 8288).',
    "schema": {"type": "string"},
}


def create_app(store: Store, clock: Callable[[], datetime] = utc_now, settings: WebSettings | None = None) -> FastAPI:
    """The API and the pages. ``settings`` default to ``WebSettings.from_env()`` (web/auth.py)."""
    settings = settings or WebSettings.from_env()
    refusals = RefusalLog(store, settings.refusals)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        flushing = asyncio.create_task(_flush_each_interval(refusals, clock))
        try:
            yield
        finally:
            flushing.cancel()
            await run_in_threadpool(lambda: refusals.flush(clock(), final=True))

    app = FastAPI(
        title="clipwarden",
        version="0.1.0",
        description="Consent-first review of home-camera clips.",
        lifespan=lifespan,
    )
    app.router.route_class = CredentialFirst
    key = load_or_create(store.data_dir)
    audit_log = AuditLog(store)

    app.state.store = store
    app.state.clock = clock
    app.state.audit_log = audit_log
    app.state.web_settings = settings
    app.state.refusal_log = refusals
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    app.include_router(pages.router)
    app.include_router(review_api.router)
    app.add_middleware(BodyLimit, on_refused=_log_oversized)

    _install_error_handlers(app, clock)

    @app.get("/api/notices")
    def notices() -> list[dict[str, Any]]:
        return notices_in_force(clock())

    @app.get("/.well-known/jwks.json")
    def jwks() -> dict[str, Any]:
        return key.jwks()

    @app.get("/api/clips", responses=signed_in() | {200: {"headers": {"Link": NEXT_PAGE_LINK}}})
    def list_clips(
        who: Owner,
        response: Response,
        limit: Annotated[int | None, Query(ge=1, le=MAX_CLIPS_PER_PAGE, description="Clips per page.")] = None,
        cursor: Annotated[int, Query(ge=0, description="Where the page starts: the `next` link's cursor.")] = 0,
    ) -> list[dict[str, Any]]:
        """The household's stored clips in recording order; with ``limit``, a page of them, and a ``Link``
        header (RFC 8288, ``rel="next"``) to the next page while there is one."""
        listed = owner.list_clips(store, who, clock())
        if limit is None:
            return listed[cursor:]
        if cursor + limit < len(listed):
            response.headers["Link"] = f'</api/clips?limit={limit}&cursor={cursor + limit}>; rel="next"'
        return listed[cursor : cursor + limit]

    @app.get("/api/clips/{clip_id}", responses=signed_in(404))
    def get_clip(clip_id: str, who: Owner) -> dict[str, Any]:
        return owner.get_clip(store, who, clip_id, clock())

    @app.head("/api/clips/{clip_id}/media", response_class=MP4Response, responses=MEDIA)
    @app.get("/api/clips/{clip_id}/media", response_class=MP4Response, responses=MEDIA)
    def clip_media(request: Request, clip_id: str, who: Owner) -> Response:
        media = owner.open_media(store, who, clip_id, clock())
        return media_response(media, request, {"Cache-Control": "no-store"})

    @app.delete("/api/clips/{clip_id}", responses=signed_in(404, 409))
    def delete_clip(clip_id: str, who: Owner) -> dict[str, Any]:
        return owner.delete_clip(store, who, clip_id, clock())

    @app.post("/api/clips/{clip_id}/shares", status_code=201, responses=signed_in(400, 404, 409, 413))
    def share(clip_id: str, body: ShareRequest, who: Owner) -> dict[str, Any]:
        return owner.share_clip(
            store, who, clip_id, body.purposes, body.versions(), body.allow_unredacted, body.sites, clock()
        )

    @app.post("/api/clips/{clip_id}/confirm-sensitive", responses=signed_in(404, 409))
    def confirm_sensitive(clip_id: str, who: Owner) -> dict[str, Any]:
        return owner.confirm_sensitive(store, who, clip_id, clock())

    @app.get("/api/clips/{clip_id}/access-log", responses=signed_in(404))
    def access_log(clip_id: str, who: Owner) -> list[dict[str, Any]]:
        return owner.access_log_for(store, who, clip_id, clock())

    @app.get("/api/clips/{clip_id}/models", responses=signed_in(404))
    def clip_models(clip_id: str, who: Owner) -> list[dict[str, Any]]:
        return unlearning.models_of_clip(store, who, clip_id, clock())

    @app.get("/api/consents", responses=signed_in())
    def consents(who: Owner) -> list[dict[str, Any]]:
        return owner.consents(store, who, clock())

    @app.post("/api/consents/{consent_id}/withdraw", responses=signed_in(404, 409))
    def withdraw(consent_id: str, who: Owner) -> dict[str, Any]:
        return owner.withdraw_consent(store, who, consent_id, clock())

    @app.get("/api/consents/{consent_id}/receipt", response_class=JOSEResponse, responses=RECEIPT | signed_in(404))
    def receipt(consent_id: str, who: Owner) -> JOSEResponse:
        """The signed Kantara consent receipt, as a compact JWS."""
        return JOSEResponse(owner.receipt(store, who, consent_id))

    @app.get("/api/erasure-requests", responses=signed_in())
    def erasure_requests(who: Owner) -> list[dict[str, Any]]:
        """The household's erasure requests: received, the one-month deadline, and the certificate."""
        return owner.erasure_requests_for(store, who, clock())

    @app.post("/api/household/erase", responses=signed_in(409))
    def erase_household(who: Owner) -> dict[str, Any]:
        """Erase the owner's whole household; answers with the deletion certificate."""
        return owner.erase_household(store, who, who.household_id or "", clock())

    @app.get("/api/audit/root", responses=signed_in())
    def audit_root(who: Auditor) -> dict[str, Any]:
        return audit_api.root(audit_log)

    @app.get("/api/audit/proof/inclusion", responses=signed_in(400, 404))
    def audit_inclusion(
        who: Auditor, index: Annotated[int, Query(ge=0)], size: Annotated[int | None, Query(ge=1)] = None
    ) -> dict[str, Any]:
        return audit_api.inclusion(audit_log, index, size)

    @app.get("/api/audit/proof/consistency", responses=signed_in(400, 404))
    def audit_consistency(
        who: Auditor,
        first: Annotated[
            int, Query(ge=1, description="At least 1 (every tree extends the empty one), at most second.")
        ],
        second: Annotated[int, Query(ge=1)],
    ) -> dict[str, Any]:
        return audit_api.consistency(audit_log, first, second)

    return app


async def _flush_each_interval(refusals: RefusalLog, clock: Callable[[], datetime]) -> None:
    """Write each interval's count of refusals soon after it ends, even if no refusal follows it."""
    while True:
        await asyncio.sleep(refusals.allowance.interval.total_seconds())
        await run_in_threadpool(refusals.flush, clock())


def _methods_at(app: FastAPI, request: Request) -> set[str]:
    """Every method some route answers at the request's path."""
    return {
        method
        for route in app.routes
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] is not Match.NONE
        for method in route.methods or ()
    }


def _log_oversized(scope: Any, detail: str) -> None:
    request = Request(scope)
    log_refusal(request, Refusal(413, detail), known_actor(request), request.app.state.clock())


def _install_error_handlers(app: FastAPI, clock: Callable[[], datetime]) -> None:
    """Every refused request gets a JSON `detail` and leaves an audit entry (kind "refusal"), or is
    counted if it bears no valid credential (web/auth.py, RefusalLog); nothing it asked for was changed."""
    statuses: list[tuple[type[ClipwardenError], int]] = [(NotFound, 404), (Conflict, 409), (Denied, 403)]

    def refuse(request: Request, refusal: Refusal) -> JSONResponse:
        answer = log_refusal(request, refusal, known_actor(request), clock())
        return JSONResponse({"detail": answer.detail}, answer.status, dict(answer.headers))

    @app.exception_handler(ClipwardenError)
    def refused(request: Request, error: ClipwardenError) -> JSONResponse:
        status = next((code for kind, code in statuses if isinstance(error, kind)), 400)
        return refuse(request, Refusal(status, str(error)))

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return refuse(request, Refusal(422, jsonable_encoder(error.errors())))

    @app.exception_handler(StarletteHTTPException)
    def http_refusal(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 404 and error.detail == "Not Found":  # an unknown route: nothing to log
            if pages.wants_page(request):
                return pages.unknown_address_page(request)
            return JSONResponse({"detail": error.detail}, status_code=404)
        headers = error.headers or {}
        if error.status_code == 405:  # Starlette names the methods of the first route at the path only
            headers = {**headers, "Allow": ", ".join(sorted(_methods_at(app, request)))}
        return refuse(request, Refusal(error.status_code, error.detail, headers))

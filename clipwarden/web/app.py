"""The HTTP API (CONTRACT): owners, auditors, and the public notices and keys.

Routes are thin: they name the actor from the bearer token and call the use cases in
`clipwarden.services.owner`, which put every clip request through the enforcement point first. The pages
(`web/pages.py`, cookie sessions) are mounted on the same app and call the same use cases.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from clipwarden.audit import api as audit_api
from clipwarden.audit.log import AuditLog
from clipwarden.consent.notices import notices_in_force
from clipwarden.errors import ClipwardenError, Conflict, NotFound
from clipwarden.policy.decision import Actor
from clipwarden.policy.gate import Denied
from clipwarden.services import owner
from clipwarden.services.audit_trail import log_change
from clipwarden.services.users import actor_for_token
from clipwarden.signing import load_or_create
from clipwarden.store import Store
from clipwarden.times import utc_now
from clipwarden.web import pages, review_api
from clipwarden.web.auth import CredentialFirst, WebSettings, bearer_actor, bearer_token, log_refusal
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


class ShareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purposes: list[str] = Field(min_length=1, max_length=4)
    notice_version: int | dict[str, int] | None = None
    allow_unredacted: bool = False
    sites: list[str] | None = Field(default=None, max_length=3)


def create_app(store: Store, clock: Callable[[], datetime] = utc_now, settings: WebSettings | None = None) -> FastAPI:
    """The API and the pages. ``settings`` default to ``WebSettings.from_env()`` (web/auth.py)."""
    app = FastAPI(title="clipwarden", version="0.1.0", description="Consent-first review of home-camera clips.")
    app.router.route_class = CredentialFirst
    key = load_or_create(store.data_dir)
    audit_log = AuditLog(store)

    app.state.store = store
    app.state.clock = clock
    app.state.audit_log = audit_log
    app.state.web_settings = settings or WebSettings.from_env()
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    app.include_router(pages.router)
    app.include_router(review_api.router)
    app.add_middleware(BodyLimit, on_refused=lambda scope, detail: _log_oversized(store, clock, scope, detail))

    _install_error_handlers(app, store, clock)

    @app.get("/api/notices")
    def notices() -> list[dict[str, Any]]:
        return notices_in_force(clock())

    @app.get("/.well-known/jwks.json")
    def jwks() -> dict[str, Any]:
        return key.jwks()

    @app.get("/api/clips")
    def list_clips(who: Owner) -> list[dict[str, Any]]:
        return owner.list_clips(store, who, clock())

    @app.get("/api/clips/{clip_id}")
    def get_clip(clip_id: str, who: Owner) -> dict[str, Any]:
        return owner.get_clip(store, who, clip_id, clock())

    @app.api_route("/api/clips/{clip_id}/media", methods=["GET", "HEAD"])
    def clip_media(request: Request, clip_id: str, who: Owner) -> Response:
        media = owner.open_media(store, who, clip_id, clock())
        return media_response(media, request, {"Cache-Control": "no-store"})

    @app.delete("/api/clips/{clip_id}")
    def delete_clip(clip_id: str, who: Owner) -> dict[str, Any]:
        return owner.delete_clip(store, who, clip_id, clock())

    @app.post("/api/clips/{clip_id}/shares", status_code=201)
    def share(clip_id: str, body: ShareRequest, who: Owner) -> dict[str, Any]:
        return owner.share_clip(
            store, who, clip_id, body.purposes, body.notice_version, body.allow_unredacted, body.sites, clock()
        )

    @app.post("/api/clips/{clip_id}/confirm-sensitive")
    def confirm_sensitive(clip_id: str, who: Owner) -> dict[str, Any]:
        return owner.confirm_sensitive(store, who, clip_id, clock())

    @app.get("/api/clips/{clip_id}/access-log")
    def access_log(clip_id: str, who: Owner) -> list[dict[str, Any]]:
        return owner.access_log_for(store, who, clip_id, clock())

    @app.get("/api/consents")
    def consents(who: Owner) -> list[dict[str, Any]]:
        return owner.consents(store, who, clock())

    @app.post("/api/consents/{consent_id}/withdraw")
    def withdraw(consent_id: str, who: Owner) -> dict[str, Any]:
        return owner.withdraw_consent(store, who, consent_id, clock())

    @app.get("/api/consents/{consent_id}/receipt")
    def receipt(consent_id: str, who: Owner) -> Response:
        return Response(owner.receipt(store, who, consent_id), media_type="application/jose")

    @app.get("/api/erasure-requests")
    def erasure_requests(who: Owner) -> list[dict[str, Any]]:
        """The household's erasure requests: received, the one-month deadline, and the certificate."""
        return owner.erasure_requests_for(store, who, clock())

    @app.post("/api/household/erase")
    def erase_household(who: Owner) -> dict[str, Any]:
        """Erase the owner's whole household; answers with the deletion certificate."""
        return owner.erase_household(store, who, who.household_id or "", clock())

    @app.get("/api/audit/root")
    def audit_root(who: Auditor) -> dict[str, Any]:
        return audit_api.root(audit_log)

    @app.get("/api/audit/proof/inclusion")
    def audit_inclusion(who: Auditor, index: Annotated[int, Query(ge=0)], size: int | None = None) -> dict[str, Any]:
        return audit_api.inclusion(audit_log, index, size)

    @app.get("/api/audit/proof/consistency")
    def audit_consistency(
        who: Auditor, first: Annotated[int, Query(ge=0)], second: Annotated[int, Query(ge=0)]
    ) -> dict[str, Any]:
        return audit_api.consistency(audit_log, first, second)

    return app


def _log_oversized(store: Store, clock: Callable[[], datetime], scope: Any, detail: str) -> None:
    request = Request(scope)
    with store.connect() as conn:
        who = _token_actor(conn, request)
    log_refusal(store, request, 413, detail, who, clock())


def _install_error_handlers(app: FastAPI, store: Store, clock: Callable[[], datetime]) -> None:
    """Every refused request gets a JSON `detail` and leaves an audit entry (kind "refusal"); nothing
    it asked for was changed."""
    statuses: list[tuple[type[ClipwardenError], int]] = [(NotFound, 404), (Conflict, 409), (Denied, 403)]

    def refuse(request: Request, status: int, detail: Any) -> JSONResponse:
        with store.begin() as conn:
            who = _token_actor(conn, request)
            log_change(
                conn,
                "refusal",
                clock(),
                {
                    "method": request.method,
                    "path": request.url.path,
                    "status": status,
                    "detail": detail if isinstance(detail, str) else "invalid request body or parameters",
                    "actor": None if who is None else {"id": who.id, "role": who.role},
                },
            )
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(ClipwardenError)
    def refused(request: Request, error: ClipwardenError) -> JSONResponse:
        status = next((code for kind, code in statuses if isinstance(error, kind)), 400)
        return refuse(request, status, str(error))

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return refuse(request, 422, jsonable_encoder(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    def http_refusal(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 404 and error.detail == "Not Found":  # an unknown route: nothing to log
            return JSONResponse({"detail": error.detail}, status_code=404)
        response = refuse(request, error.status_code, error.detail)
        response.headers.update(error.headers or {})
        return response


def _token_actor(conn: Any, request: Request) -> Actor | None:
    token = bearer_token(request)
    return actor_for_token(conn, token) if token is not None else None

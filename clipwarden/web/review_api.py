"""The reviewer API (CONTRACT): next task, the rendition, annotations, and the "private content: stop" action.

Routes are thin: they name the reviewer (a bearer token, or the workstation page's cookie session, from the
site's networks) and the credential a media URL is bound to, then call `clipwarden.services.reviewer`, which
puts every request through the enforcement point first. Cookie-authenticated posts must come from this origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field, model_validator

from clipwarden.domain import LABELS
from clipwarden.policy.decision import Actor
from clipwarden.review.leases import ReviewSettings
from clipwarden.services import reviewer as review
from clipwarden.store import Store
from clipwarden.web import sessions
from clipwarden.web.api_docs import MEDIA, NOTHING_OFFERED, MP4Response, signed_in
from clipwarden.web.auth import CredentialFirst, bearer_actor, bearer_scheme, check_network, web_settings
from clipwarden.web.media import media_response
from clipwarden.web.sessions import SessionSettings

Label = Literal["intruder", "resident", "visitor", "pet", "vehicle", "environment", "no_event"]
assert set(Label.__args__) == set(LABELS)  # type: ignore[attr-defined]

router = APIRouter(prefix="/api/review", tags=["reviewer"], route_class=CredentialFirst)


@dataclass(frozen=True)
class Seat:
    """Who asks, and the credential their media URLs are bound to."""

    actor: Actor
    credential: str


# The workstation's session cookie, under its default name (SessionSettings.cookie_name).
_session_cookie = APIKeyCookie(name=SessionSettings.cookie_name, auto_error=False, description="The page session")


def _seat(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(_session_cookie)],
) -> Seat:
    """A reviewer by bearer token (bots, scripts) or by the workstation's cookie session (a person)."""
    store: Store = request.app.state.store
    if bearer is not None:
        actor = bearer_actor(request, bearer)
        return _as_reviewer(actor, review.credential_fingerprint(bearer.credentials))
    settings = web_settings(request).sessions
    session = sessions.resume(store, cookie, request.app.state.clock(), settings) if cookie else None
    if session is None:
        raise HTTPException(401, "sign in, or send a bearer token", headers={"WWW-Authenticate": "Bearer"})
    request.state.actor = session.actor  # refusals from here on are logged in its name
    check_network(request, session.actor)
    if request.method == "POST":
        sessions.check_same_origin(request)
    return _as_reviewer(session.actor, session.id)


def _as_reviewer(actor: Actor, credential: str) -> Seat:
    if actor.role != "reviewer":
        raise HTTPException(403, "this needs the role reviewer")
    return Seat(actor=actor, credential=credential)


Reviewer = Annotated[Seat, Depends(_seat)]


class NextRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    holding: list[str] = Field(default_factory=list, max_length=4)  # task tokens the client already has


class Segment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_s: float = Field(ge=0, lt=60)
    end_s: float = Field(gt=0, le=60, description="After start_s.")
    label: Label

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Segment:
        if self.end_s <= self.start_s:
            raise ValueError("a segment ends after it starts (end_s > start_s)")
        return self


class Box(BaseModel):
    model_config = ConfigDict(extra="forbid")

    t_s: float = Field(ge=0, le=60)
    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    w: float = Field(ge=0, le=1, description="At most 1 - x.")
    h: float = Field(ge=0, le=1, description="At most 1 - y.")

    @model_validator(mode="after")
    def _inside_the_frame(self) -> Box:
        if self.x + self.w > 1 or self.y + self.h > 1:
            raise ValueError("a box lies inside the frame (x + w <= 1, y + h <= 1)")
        return self


class AnnotationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Label
    ai_correct: bool | None = None
    segments: list[Segment] = Field(default_factory=list, max_length=50)
    boxes: list[Box] = Field(default_factory=list, max_length=200)


def _now(request: Request) -> datetime:
    moment: datetime = request.app.state.clock()
    return moment


def _settings(request: Request) -> ReviewSettings:
    settings: ReviewSettings = getattr(request.app.state, "review_settings", ReviewSettings())
    return settings


@router.post(
    "/next",
    response_model=None,
    responses=NOTHING_OFFERED | signed_in(400, 413),
)
def next_task(request: Request, seat: Reviewer, body: NextRequest | None = None) -> dict[str, Any] | Response:
    """A task to annotate: its token, a short-lived media URL bound to this session, the lease's end and
    the answer schema; 204 when nothing may be offered (queue empty, cap reached, all leases in use)."""
    holding = body.holding if body is not None else []
    work = review.request_work(
        request.app.state.store, seat.actor, seat.credential, _now(request), _settings(request), holding
    )
    if work is None:
        return Response(status_code=204)
    return work


@router.head("/media/{session_id}", response_class=MP4Response, responses=MEDIA)
@router.get("/media/{session_id}", response_class=MP4Response, responses=MEDIA)
def media(
    request: Request,
    seat: Reviewer,
    session_id: str,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=64)],
) -> Response:
    """The rendition; Range requests are answered in part, HEAD as GET without the body. Nothing is
    cached on the way."""
    path = review.media_path(
        request.app.state.store,
        seat.actor,
        seat.credential,
        session_id,
        expires,
        signature,
        _now(request),
        _settings(request),
    )
    headers = {
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": 'inline; filename="task.mp4"',
    }
    return media_response(path.open("rb"), request, headers)


@router.post("/tasks/{task_token}/annotations", status_code=201, responses=signed_in(400, 404, 409, 413))
def annotate(request: Request, seat: Reviewer, task_token: str, body: AnnotationRequest) -> dict[str, Any]:
    answer = review.Answer(
        label=body.label,
        ai_correct=body.ai_correct,
        segments=tuple(segment.model_dump() for segment in body.segments),
        boxes=tuple(box.model_dump() for box in body.boxes),
    )
    return review.annotate(request.app.state.store, seat.actor, task_token, answer, _now(request), _settings(request))


@router.post("/tasks/{task_token}/flag-private", responses=signed_in(404, 409))
def flag_private(request: Request, seat: Reviewer, task_token: str) -> dict[str, Any]:
    return review.flag_private(request.app.state.store, seat.actor, task_token, _now(request))

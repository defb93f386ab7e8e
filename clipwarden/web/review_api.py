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
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from clipwarden.domain import LABELS
from clipwarden.policy.decision import Actor
from clipwarden.review.leases import ReviewSettings
from clipwarden.services import reviewer as review
from clipwarden.store import Store
from clipwarden.web import sessions
from clipwarden.web.auth import CredentialFirst, bearer_actor, bearer_token, check_network, web_settings
from clipwarden.web.media import media_response

Label = Literal["intruder", "resident", "visitor", "pet", "vehicle", "environment", "no_event"]
assert set(Label.__args__) == set(LABELS)  # type: ignore[attr-defined]

router = APIRouter(prefix="/api/review", tags=["reviewer"], route_class=CredentialFirst)


@dataclass(frozen=True)
class Seat:
    """Who asks, and the credential their media URLs are bound to."""

    actor: Actor
    credential: str


def _seat(request: Request) -> Seat:
    """A reviewer by bearer token (bots, scripts) or by the workstation's cookie session (a person)."""
    store: Store = request.app.state.store
    token = bearer_token(request)
    if token is not None:
        actor = bearer_actor(request, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token))
        return _as_reviewer(actor, review.credential_fingerprint(token))
    settings = web_settings(request).sessions
    cookie = request.cookies.get(settings.cookie_name)
    session = sessions.resume(store, cookie, request.app.state.clock(), settings) if cookie else None
    if session is None:
        raise HTTPException(401, "sign in, or send a bearer token", headers={"WWW-Authenticate": "Bearer"})
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

    start_s: float = Field(ge=0, le=60)
    end_s: float = Field(ge=0, le=60)
    label: Label


class Box(BaseModel):
    model_config = ConfigDict(extra="forbid")

    t_s: float = Field(ge=0, le=60)
    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    w: float = Field(ge=0, le=1)
    h: float = Field(ge=0, le=1)


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


@router.post("/next", response_model=None)
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


@router.api_route("/media/{session_id}", methods=["GET", "HEAD"])
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


@router.post("/tasks/{task_token}/annotations", status_code=201)
def annotate(request: Request, seat: Reviewer, task_token: str, body: AnnotationRequest) -> dict[str, Any]:
    answer = review.Answer(
        label=body.label,
        ai_correct=body.ai_correct,
        segments=tuple(segment.model_dump() for segment in body.segments),
        boxes=tuple(box.model_dump() for box in body.boxes),
    )
    return review.annotate(request.app.state.store, seat.actor, task_token, answer, _now(request), _settings(request))


@router.post("/tasks/{task_token}/flag-private")
def flag_private(request: Request, seat: Reviewer, task_token: str) -> dict[str, Any]:
    return review.flag_private(request.app.state.store, seat.actor, task_token, _now(request))

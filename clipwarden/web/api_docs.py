"""What the OpenAPI document says of the API beyond the routes' signatures: each refusal a route may answer
(all of them a JSON ``detail``), the media types of bodies that are not JSON, and the headers that come
with them. Routes name these through FastAPI's ``responses=`` and ``response_class=``.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]


class Refused(BaseModel):
    """A refused request: why. Nothing it asked for was changed."""

    detail: str


_WHY = {
    400: "The request is well formed but names something this resource does not accept.",
    401: "No credential, or one this server does not know.",
    403: "The caller may not do this: another role's route, outside the site's networks, or denied by the "
    "enforcement point.",
    404: "Nothing of that id for this caller.",
    409: "The resource is not in a state that allows this.",
    413: "The request body is larger than 256 KiB.",
    416: "The byte range asked for starts past the end of the file.",
    429: "Too many refused requests without a valid credential from this address in the current interval.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    416: {"Content-Range": {"description": "bytes */SIZE", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds until the interval ends.", "schema": {"type": "integer"}}},
}


# Spelled out rather than named as a ``model``: FastAPI would give a model the route's own media type,
# and a refusal is JSON whatever the route serves.
_AS_JSON = {"application/json": {"schema": Refused.model_json_schema()}}


def refusals(*statuses: int) -> Responses:
    return {
        status: {
            "description": _WHY[status],
            "content": _AS_JSON,
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        for status in statuses
    }


def signed_in(*statuses: int) -> Responses:
    """The refusals of a route behind a credential: those any such route may answer, and ``statuses``."""
    return refusals(401, 403, 429, *statuses)


class MP4Response(Response):
    media_type = "video/mp4"


class JOSEResponse(Response):
    """A compact JWS (RFC 7515)."""

    media_type = "application/jose"


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_RANGE_HEADERS = {
    "Accept-Ranges": {"description": "bytes", "schema": {"type": "string"}},
    "Content-Length": {"schema": {"type": "integer"}},
}

# A clip or rendition: the whole file, or the one byte range asked for (ranges this server does not serve
# are ignored, and the whole file is sent).
_MEDIA_BODIES: Responses = {
    200: {"description": "The whole file.", "content": {MP4Response.media_type: _BINARY}, "headers": _RANGE_HEADERS},
    206: {
        "description": "The byte range asked for.",
        "content": {MP4Response.media_type: _BINARY},
        "headers": {
            **_RANGE_HEADERS,
            "Content-Range": {"description": "bytes FIRST-LAST/SIZE", "schema": {"type": "string"}},
        },
    },
}
MEDIA = _MEDIA_BODIES | signed_in(404, 416)
NOTHING_OFFERED: Responses = {204: {"description": "Nothing may be offered now."}}
RECEIPT: Responses = {
    200: {"description": "The receipt.", "content": {JOSEResponse.media_type: {"schema": {"type": "string"}}}}
}

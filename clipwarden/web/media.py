"""Serving an MP4 that the enforcement point has opened: the whole file, or the one byte range asked for.

The owner's API and page and the reviewer's rendition all answer through ``media_response``, so each
honours Range and HEAD alike. A range past the end is refused with 416 as an HTTPException, which each
surface answers in its own form (JSON ``detail`` for the API, an HTML page for the pages) and logs.
A Range header this server does not serve (malformed, or several ranges) is ignored, as RFC 9110 14.2
allows: the whole file is sent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import BinaryIO

from fastapi import HTTPException, Request
from fastapi.responses import Response, StreamingResponse

_CHUNK = 64 * 1024
MP4 = "video/mp4"


def media_response(media: BinaryIO, request: Request, headers: Mapping[str, str] | None = None) -> Response:
    """The whole file (200) or the range asked for (206); for HEAD the same status and headers, no body.
    ``media`` is closed once sent (at once for HEAD or a refusal)."""
    if not media.seekable():
        return StreamingResponse(_chunks(media, None), media_type=MP4, headers=headers)
    size = media.seek(0, os.SEEK_END)
    try:
        span = _byte_range(request.headers.get("range"), size)
    except _Unsatisfiable:
        media.close()
        raise HTTPException(
            416, f"the range asked for starts past the end of the {size} bytes", {"Content-Range": f"bytes */{size}"}
        ) from None
    start, end = span or (0, size - 1)
    sent = {**(headers or {}), "Accept-Ranges": "bytes", "Content-Length": str(end - start + 1)}
    if span is not None:
        sent["Content-Range"] = f"bytes {start}-{end}/{size}"
    status = 200 if span is None else 206
    if request.method == "HEAD":
        media.close()
        return Response(status_code=status, headers=sent, media_type=MP4)
    media.seek(start)
    return StreamingResponse(_chunks(media, end - start + 1), status, sent, media_type=MP4)


class _Unsatisfiable(Exception):
    """The range asked for starts past the end of the file."""


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """RFC 9110 14.2: one ``bytes=`` range as (first, last); None to send everything (no header, or one
    this server does not serve: malformed, or several ranges); _Unsatisfiable when it starts past the end."""
    unit, _, spec = (header or "").partition("=")
    first, dash, last = spec.strip().partition("-")
    if (
        unit.strip() != "bytes"
        or not dash
        or not (first + last).isdigit()
        or (first and last and int(last) < int(first))
    ):
        return None
    if not first:  # the last N bytes
        if int(last) == 0 or size == 0:
            raise _Unsatisfiable
        return max(0, size - int(last)), size - 1
    if int(first) >= size:
        raise _Unsatisfiable
    return int(first), (min(int(last), size - 1) if last else size - 1)


def _chunks(media: BinaryIO, length: int | None) -> Iterator[bytes]:
    with media:
        left = length
        while left is None or left > 0:
            chunk = media.read(_CHUNK if left is None else min(_CHUNK, left))
            if not chunk:
                return
            left = None if left is None else left - len(chunk)
            yield chunk

"""Errors a user caused and can fix. The command line prints them as one line; HTTP answers 4xx."""

from __future__ import annotations


class ClipwardenError(Exception):
    """Bad input or a request that cannot be met; nothing was changed."""


class NotFound(ClipwardenError):
    """The thing asked for does not exist (or is not visible to the one asking)."""


class Conflict(ClipwardenError):
    """The request clashes with the current state (deleted clip, data dir in use, ...)."""


class TooManyAttempts(ClipwardenError):
    """Too many failed attempts in a row; the next one is heard after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

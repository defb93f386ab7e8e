"""Errors a user caused and can fix. The command line prints them as one line; HTTP answers 4xx."""

from __future__ import annotations


class ClipwardenError(Exception):
    """Bad input or a request that cannot be met; nothing was changed."""


class NotFound(ClipwardenError):
    """The thing asked for does not exist (or is not visible to the one asking)."""


class Conflict(ClipwardenError):
    """The request clashes with the current state (deleted clip, data dir in use, ...)."""

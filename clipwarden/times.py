"""Instants as the surfaces show them: ISO 8601 in UTC (CONTRACT: "times are ISO 8601 UTC")."""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, datetime

from clipwarden.errors import ClipwardenError


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """``2025-01-01T08:00:00Z``: the instant in UTC, with a Z. A naive time names no instant (ValueError)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()} given where a UTC instant is needed")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with an offset (or Z), as UTC. A time without an offset is refused: it names
    no instant, and the commands that take one are destructive."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ClipwardenError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise ClipwardenError(f"time {text!r} has no UTC offset; write it like 2025-01-01T08:00:00Z")
    return moment.astimezone(UTC)


def require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None:
        raise ClipwardenError(f"{what} {moment.isoformat()} has no time zone; clipwarden keeps UTC instants")


def one_month_after(moment: datetime) -> datetime:
    """The same day and time of the next month, or that month's last day if it has no such day
    (31 January -> 28 or 29 February): how the one-month period of GDPR Art. 12(3) is counted (Regulation
    1182/71, Art. 3(2)(c))."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=min(moment.day, monthrange(year, month)[1]))

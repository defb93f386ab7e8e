"""Commands over stored clips and households: list, export, delete, erase, erasure requests, and the
retention sweep.

The command line acts as the operator: every read and deletion goes through the enforcement point as
the actor `operator` (role admin), and owners see its exports in their clips' access logs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from clipwarden.cli.app import app, console, settings
from clipwarden.policy.decision import Actor
from clipwarden.services import owner, retention
from clipwarden.store import Store, open_store
from clipwarden.store.schema import CLIP_STATUSES
from clipwarden.times import parse_instant, utc_now

OPERATOR = Actor("operator", "admin", pseudonym="operator (command line)")

clips_app = typer.Typer(help="Stored clips.", no_args_is_help=True)
households_app = typer.Typer(help="Households.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention of stored clips.", no_args_is_help=True)
erasure_app = typer.Typer(help="Erasure requests and their GDPR Art. 12(3) deadlines.", no_args_is_help=True)
app.add_typer(clips_app, name="clips")
app.add_typer(households_app, name="households")
app.add_typer(retention_app, name="retention")
app.add_typer(erasure_app, name="erasure")


@contextmanager
def opened_store(ctx: typer.Context) -> Iterator[Store]:
    """The store the global options name, closed when the block ends."""
    chosen = settings(ctx)
    with open_store(chosen.data_dir, chosen.db_url) as store:
        yield store


@clips_app.command("list")
def clips_list(
    ctx: typer.Context,
    household: str | None = typer.Option(None, "--household", help="Only this household's clips."),
    everything: bool = typer.Option(False, "--all", help="Include deleted and expired clips."),
) -> None:
    """List stored clips."""
    with opened_store(ctx) as store:
        found = owner.list_clips(
            store, OPERATOR, utc_now(), household, statuses=CLIP_STATUSES if everything else ("stored",)
        )
    settings(ctx).emit(found, lambda: _print_clips(found))


@clips_app.command("export")
def clips_export(
    ctx: typer.Context,
    clip_id: str = typer.Argument(..., metavar="ID"),
    file: Path = typer.Argument(..., metavar="FILE", help="Where to write the MP4 (a directory: ID.mp4 in it)."),
) -> None:
    """Write a copy of a clip's MP4."""
    with opened_store(ctx) as store:
        exported = owner.export_clip(store, OPERATOR, clip_id, file, utc_now())
    settings(ctx).emit(
        exported, lambda: _say(f"exported {clip_id} to {exported['path']} (sha256 {exported['sha256']})")
    )


@clips_app.command("delete")
def clips_delete(ctx: typer.Context, clip_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Delete a clip everywhere it is held; prints the deletion certificate."""
    with opened_store(ctx) as store:
        certificate = owner.delete_clip(store, OPERATOR, clip_id, utc_now())
    settings(ctx).emit(certificate, lambda: _print_certificate(certificate))


@households_app.command("erase")
def households_erase(ctx: typer.Context, household_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Erase a household and all data derived from it; prints the deletion certificate."""
    with opened_store(ctx) as store:
        certificate = owner.erase_household(store, OPERATOR, household_id, utc_now())
    settings(ctx).emit(certificate, lambda: _print_certificate(certificate))


@retention_app.command("sweep")
def retention_sweep(
    ctx: typer.Context,
    at: str = typer.Option(..., "--at", metavar="ISO8601", help="The time to sweep at, e.g. 2025-01-02T00:00:00Z."),
) -> None:
    """Expire the clips whose retention has ended at the given time."""
    instant = parse_instant(at)
    with opened_store(ctx) as store:
        swept = retention.sweep(store, instant)
    settings(ctx).emit(swept, lambda: _print_sweep(swept))


@erasure_app.command("requests")
def erasure_requests(
    ctx: typer.Context,
    only_open: bool = typer.Option(False, "--open", help="Only the requests not answered yet."),
) -> None:
    """List erasure requests: when each was received, its one-month deadline, and its certificate."""
    with opened_store(ctx) as store:
        found = owner.erasure_requests_for(store, OPERATOR, utc_now(), only_open)
    settings(ctx).emit(found, lambda: _print_requests(found))


@erasure_app.command("resume")
def erasure_resume(ctx: typer.Context) -> None:
    """Finish the erasure requests an interruption left open."""
    with opened_store(ctx) as store:
        finished = owner.resume_erasures(store, OPERATOR, utc_now())
    settings(ctx).emit(finished, lambda: _print_requests(finished))


def _say(line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def _print_clips(found: list[dict[str, Any]]) -> None:
    if not found:
        _say("no clips")
        return
    table = Table(box=box.SIMPLE_HEAD, caption=f"{len(found)} clips")
    for heading in ("id", "household", "camera", "started (UTC)", "AI label", "status", "expires (UTC)"):
        table.add_column(heading, no_wrap=True)
    for clip in found:
        table.add_row(
            clip["id"],
            clip["household_id"],
            clip["camera_id"],
            _minute(clip["started_at"]),
            clip["ai_label"] or "",
            clip["status"],
            _minute(clip["expires_at"]),
        )
    # Never squeezed: ids are copied whole into the next command. A narrow terminal wraps the lines.
    needed = console.measure(table, options=console.options.update_width(1000)).maximum
    Console(width=max(console.width, needed)).print(table)


def _minute(iso: str) -> str:
    """``2025-01-01 08:00`` for ``2025-01-01T08:00:00.4Z``: short enough for a table; JSON has the rest."""
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")


def _print_certificate(certificate: dict[str, Any]) -> None:
    subject = certificate["subject"]
    kinds = Counter(artefact["kind"] for artefact in certificate["artefacts"])
    removed = ", ".join(f"{kind} x{count}" for kind, count in kinds.items()) or "nothing"
    state = "verified" if certificate["verified"] else "NOT verified: some removed bytes are still present"
    _say(f"erased {subject['type']} {subject['id']}: {removed}")
    _say(f"certificate {certificate['certificate_id']} issued {certificate['issued_at']}, {state}")
    if "request" in certificate:
        request = certificate["request"]
        _say(f"answers erasure request {request['id']} received {request['received_at']}, due {request['deadline']}")


def _print_sweep(swept: dict[str, Any]) -> None:
    _say(f"expired {len(swept['expired'])} clips")
    for clip_id in swept["expired"]:
        _say(f"  {clip_id}")
    _say(f"expired {len(swept['consents_expired'])} consents (their shared copies outlived the notice's retention)")
    for consent_id in swept["consents_expired"]:
        _say(f"  {consent_id}")


def _print_requests(found: list[dict[str, Any]]) -> None:
    if not found:
        _say("no erasure requests")
        return
    table = Table(box=box.SIMPLE_HEAD, caption=f"{len(found)} erasure requests")
    for heading in ("id", "subject", "received (UTC)", "deadline (UTC)", "status", "certificate"):
        table.add_column(heading, no_wrap=True)
    for request in found:
        subject = request["subject"]
        late = request["within_deadline"] is False
        table.add_row(
            request["id"],
            f"{subject['type']} {subject['id']}",
            _minute(request["received_at"]),
            _minute(request["deadline"]),
            request["status"] + (" (late)" if late else ""),
            request["certificate_id"] or "",
        )
    needed = console.measure(table, options=console.options.update_width(1000)).maximum
    Console(width=max(console.width, needed)).print(table)

"""`clipwarden datasets snapshot|list|show|export`: the immutable datasets the camera AI may learn from, and
their export for outside annotation tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from clipwarden.cli.app import app, check_confidence, console, settings
from clipwarden.cli.owner import opened_store
from clipwarden.learn import datasets, exports
from clipwarden.learn.export_formats import FORMATS
from clipwarden.learn.snapshots import DEFAULT_MIN_CONFIDENCE
from clipwarden.times import utc_now

datasets_app = typer.Typer(
    help="Dataset snapshots: what the camera AI may learn from, with lineage.", no_args_is_help=True
)
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("snapshot")
def datasets_snapshot(
    ctx: typer.Context,
    min_confidence: float = typer.Option(
        DEFAULT_MIN_CONFIDENCE, "--min-confidence", help="How sure a consolidated label must be (gold always counts)."
    ),
) -> None:
    """Snapshot the clips the enforcement point allows for training now, each with its lineage."""
    check_confidence(min_confidence)
    with opened_store(ctx) as store:
        made = datasets.snapshot(store, utc_now(), min_confidence)
    settings(ctx).emit(made, lambda: _print_snapshot(made))


@datasets_app.command("list")
def datasets_list(ctx: typer.Context) -> None:
    """The snapshots, oldest first."""
    with opened_store(ctx) as store:
        found = datasets.list_snapshots(store)
    settings(ctx).emit(found, lambda: _print_list(found))


@datasets_app.command("show")
def datasets_show(ctx: typer.Context, snapshot_id: str = typer.Argument(..., metavar="ID")) -> None:
    """One snapshot's items and where each came from."""
    with opened_store(ctx) as store:
        shown = datasets.show(store, snapshot_id)
    settings(ctx).emit(shown, lambda: _print_show(shown))


@datasets_app.command("export")
def datasets_export(
    ctx: typer.Context,
    snapshot_id: str = typer.Argument(..., metavar="ID"),
    directory: Path = typer.Argument(..., metavar="DIR", help="A new or empty directory to write the export to."),
    fmt: str = typer.Option(..., "--format", help=f"One of {', '.join(FORMATS)}."),
) -> None:
    """Export a snapshot for outside tools: redacted where the owner did not allow otherwise, watermarked
    with the export (`clipwarden trace` names it), each item asked of the enforcement point again."""
    with opened_store(ctx) as store:
        made = exports.export(store, snapshot_id, directory, fmt, utc_now())
    settings(ctx).emit(made, lambda: _print_export(made))


def _print_export(made: dict[str, Any]) -> None:
    console.print(
        f"export {made['export_id']} of snapshot {made['snapshot_id']} ({made['format']}): {made['items']} items",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"  written to {made['path']}", highlight=False, soft_wrap=True)
    for reason, count in made["excluded"].items():
        console.print(f"  left out, {reason}: {count}", highlight=False)


def _print_snapshot(made: dict[str, Any]) -> None:
    again = " (the same as one already stored)" if made["existing"] else ""
    console.print(
        f"snapshot {made['snapshot_id']}{again}: {made['items']} items, sha256 {made['sha256']}", highlight=False
    )
    for reason, count in made["excluded"].items():
        console.print(f"  excluded, {reason}: {count}", highlight=False)


def _print_list(found: list[dict[str, Any]]) -> None:
    for snapshot in found:
        console.print(_heading(snapshot, snapshot["items"]), highlight=False)
    console.print(f"{len(found)} snapshots", highlight=False)


def _print_show(shown: dict[str, Any]) -> None:
    console.print(_heading(shown, len(shown["items"])), highlight=False)
    for item in shown["items"]:
        console.print(
            f"  {item['item_id']}  {item['label']} ({item['confidence']:.2f})  consent {item['consent_id']} "
            f"v{item['notice_version']}  {item['residency']}  {'redacted' if item['redacted'] else 'unredacted'}",
            highlight=False,
        )


def _heading(snapshot: dict[str, Any], items: int) -> str:
    stale = f"; superseded: {snapshot['superseded_reason']}" if snapshot["superseded_at"] else ""
    return f"{snapshot['snapshot_id']}  {snapshot['created_at']}  {items} items{stale}"

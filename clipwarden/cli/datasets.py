"""`clipwarden datasets snapshot|list|show`: the immutable datasets the camera AI may learn from."""

from __future__ import annotations

from typing import Any

import typer

from clipwarden.cli.app import app, check_confidence, console, settings
from clipwarden.cli.owner import opened_store
from clipwarden.learn import datasets
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

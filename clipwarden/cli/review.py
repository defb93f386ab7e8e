"""`clipwarden trace FILE` (which viewing session a leaked copy came from) and `clipwarden review ...`
(consolidation of the answers, gold clips)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from clipwarden.cli.app import app, check_confidence, console, settings
from clipwarden.cli.owner import opened_store
from clipwarden.errors import ClipwardenError
from clipwarden.services import consolidation, reviewer
from clipwarden.times import utc_now

_LARGEST_COPY = 2 * 1024**3  # a leaked clip, even re-encoded badly, is far smaller


@app.command()
def trace(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="The copy: re-encoded, scaled down or cut, as found."),
) -> None:
    """Name the viewing session (task token and reviewer) or the dataset export a leaked copy came from."""
    try:
        if file.stat().st_size > _LARGEST_COPY:
            raise ClipwardenError(f"{file} is larger than any copy of a clip could be")
        data = file.read_bytes()
    except OSError as error:
        raise ClipwardenError(f"cannot read {file}: {error.strerror or error}") from None
    with opened_store(ctx) as store:
        found = reviewer.trace(store, data)
    settings(ctx).emit(found, lambda: console.print(_traced(found), highlight=False))


def _traced(found: dict[str, Any]) -> str:
    if "export" in found:
        return (
            f"dataset export {found['export']} of snapshot {found['snapshot_id']} ({found['format']}), "
            f"exported {found['exported_at']}; confidence {found['confidence']}"
        )
    return (
        f"session {found['session']} (task {found['task']}), reviewer {found['reviewer']}, "
        f"viewed {found['viewed_at']}; confidence {found['confidence']}"
    )


review_app = typer.Typer(help="Quality control of the reviewers' answers.", no_args_is_help=True)
app.add_typer(review_app, name="review")


@review_app.command("consolidate")
def review_consolidate(
    ctx: typer.Context,
    min_confidence: float = typer.Option(0.9, "--min-confidence", help="Below this, a clip goes to adjudication."),
) -> None:
    """Consolidate the answers (Dawid-Skene), queue adjudication where they disagree, report agreement."""
    check_confidence(min_confidence)
    with opened_store(ctx) as store:
        summary = consolidation.consolidate(store, utc_now(), min_confidence)
    settings(ctx).emit(summary, lambda: _print_consolidation(summary))


@review_app.command("gold")
def review_gold(
    ctx: typer.Context,
    clip_id: str = typer.Argument(..., metavar="CLIP_ID"),
    min_confidence: float = typer.Option(0.99, "--min-confidence", help="How sure the consolidated label must be."),
) -> None:
    """Make a settled clip a gold clip, its consolidated label the known answer."""
    check_confidence(min_confidence)
    with opened_store(ctx) as store:
        made = consolidation.promote_to_gold(store, clip_id, utc_now(), min_confidence)
    settings(ctx).emit(made, lambda: console.print(f"gold: {clip_id} is {made['gold_label']}", highlight=False))


def _print_consolidation(summary: dict[str, Any]) -> None:
    kappa = summary["fleiss_kappa"]
    console.print(
        f"{summary['clips_consolidated']} clips consolidated, {summary['needing_review']} unsettled, "
        f"{summary['adjudications_queued']} adjudications queued; Fleiss' kappa "
        + ("undefined" if kappa is None else f"{kappa:.3f}"),
        highlight=False,
    )
    for pseudonym, score in summary["gold_accuracy"].items():
        console.print(f"  {pseudonym}: {score['correct']}/{score['answered']} gold clips right", highlight=False)

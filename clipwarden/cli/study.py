"""`clipwarden study`: the privacy-utility study (issue 11, item 6). It never opens the user's store: every fleet
is captured into a scratch store; only study.json, study.html and study.png are written, into the data dir."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from clipwarden.cli.app import app, check_workers, console, err_console, settings
from clipwarden.errors import ClipwardenError
from clipwarden.pipeline.fleet_run import default_workers
from clipwarden.pipeline.study import KS, SHARE_RATES, StudySettings, run_study
from clipwarden.report import write_study

_DEFAULTS = StudySettings()
CONTRACT_FIELDS = (
    "share_rate",
    "redacted_training",
    "k",
    "eu_only",
    "false_alarms_per_100",
    "intruder_recall",
    "accuracy",
    "person_views",
)


def _csv(values: tuple[float, ...] | tuple[int, ...]) -> str:
    return ",".join(f"{value:g}" for value in values)


@app.command("study")
def study(
    ctx: typer.Context,
    seeds: int = typer.Option(_DEFAULTS.seeds, "--seeds", help="Seeds per cell: each its own fleets and people."),
    first_seed: int = typer.Option(_DEFAULTS.first_seed, "--first-seed", help="The first seed; then +1, +2..."),
    households: int = typer.Option(_DEFAULTS.households, "--households", help="Training fleet, per seed."),
    hours: float = typer.Option(_DEFAULTS.hours, "--hours", help="Simulated hours of the training fleet."),
    held_out_households: int = typer.Option(_DEFAULTS.held_out_households, "--held-out-households"),
    held_out_hours: float = typer.Option(_DEFAULTS.held_out_hours, "--held-out-hours"),
    share_rates: str = typer.Option(_csv(SHARE_RATES), "--share-rates", help="Shares of clips owners share."),
    ks: str = typer.Option(_csv(KS), "--ks", help="Answers per clip to compare."),
    workers: int = typer.Option(default_workers(), "--workers", help="Processes capturing and reading clips."),
) -> None:
    """The privacy-utility grid: what sharing less, redacted training, fewer answers, EU-only review and
    uncertainty sampling cost the camera AI, against the person-views of home video they save."""
    chosen = StudySettings(
        seeds=seeds,
        first_seed=first_seed,
        households=households,
        hours=hours,
        held_out_households=held_out_households,
        held_out_hours=held_out_hours,
        share_rates=_numbers(share_rates, float, "--share-rates"),
        ks=_numbers(ks, int, "--ks"),
        workers=check_workers(workers),
    )
    chosen.check()  # before minutes of capture
    data_dir, quiet = settings(ctx).data_dir, settings(ctx).json

    def seed_done(so_far: dict[str, Any]) -> None:
        """A long study keeps what it has: the files over the seeds done so far, rewritten after each seed."""
        write_study(so_far, data_dir)
        if not quiet:
            err_console.print(f"seed {so_far['seeds_done']} of {seeds} done, {so_far['wall_s']:g} s; files updated")

    found = run_study(chosen, seed_done)
    paths = write_study(found, data_dir)
    found["plot"] = str(paths[2])
    document = {"cells": [{key: cell[key] for key in CONTRACT_FIELDS} | _extra(cell) for cell in found["cells"]]}
    document |= {key: value for key, value in found.items() if key != "cells"}
    settings(ctx).emit(document, lambda: _print(found, paths))


def _numbers(text: str, kind: type[float] | type[int], option: str) -> Any:
    try:
        return tuple(kind(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise ClipwardenError(f"{option}: not a comma-separated list of numbers: {text!r}") from error


def _extra(cell: dict[str, Any]) -> dict[str, Any]:
    """Beyond CONTRACT's fields: the selection, the intervals and the counts behind them, each seed's figures."""
    return {key: value for key, value in cell.items() if key not in CONTRACT_FIELDS}


def _print(found: dict[str, Any], paths: tuple[Any, ...]) -> None:
    table = Table(title="privacy-utility study (pooled held-out clips; 95% Wilson intervals)", title_justify="left")
    for column in ("cell", "person-views", "accuracy %", "false alarms/100", "intruder recall %"):
        table.add_column(column, justify="left" if column == "cell" else "right")
    for cell in found["cells"]:
        table.add_row(
            cell["name"],
            f"{cell['person_views']:g}",
            _rate(cell, "accuracy", 100),
            _rate(cell, "false_alarms_per_100", 1),
            _rate(cell, "intruder_recall", 100),
        )
    console.print(table)
    selection = found["selection"]
    for name in ("uncertainty", "random"):
        if name in selection:
            match = selection[name]["person_views_to_match"]
            console.print(
                f"{name} sampling: within 1 point of reviewing every shared clip"
                f" ({selection['baseline_person_views']:g} person-views) "
                + ("never" if match is None else f"at {match:g} person-views")
            )
    console.print(f"{found['wall_s']:g} s; wrote {', '.join(str(path) for path in paths)}")


def _rate(cell: dict[str, Any], field: str, scale: float) -> str:
    if cell[field] is None:
        return "n/a"
    low, high = cell[f"{field}_ci95"]
    return f"{scale * cell[field]:.1f} ({scale * low:.1f}-{scale * high:.1f})"

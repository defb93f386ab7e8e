"""`clipwarden simulate` and `clipwarden demo`: run the simulated fleet through the real pipeline."""

from __future__ import annotations

from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clipwarden import services
from clipwarden.cli.app import Settings, app, console, err_console, settings
from clipwarden.domain import LABELS
from clipwarden.errors import ClipwardenError
from clipwarden.learn.evaluate import evaluate_run
from clipwarden.pipeline.fleet_run import FleetRun, default_workers, run_fleet
from clipwarden.report import write_report
from clipwarden.sim import SimConfig
from clipwarden.store import Store, open_store

MAX_WORKERS = 32


def _sim_config(seed: int, households: int, cameras: int, hours: float, size: str, fps: int) -> SimConfig:
    width, height = _parse_size(size)
    return SimConfig(
        seed=seed,
        households=households,
        cameras_per_household=cameras,
        hours=hours,
        width=width,
        height=height,
        fps=fps,
    )


def _parse_size(size: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in size.lower().split("x"))
    except ValueError:
        raise ClipwardenError(f"--size must look like 640x360, not {size!r}") from None
    return width, height


def _check_workers(workers: int) -> int:
    if not 1 <= workers <= MAX_WORKERS:
        raise ClipwardenError(f"--workers must be between 1 and {MAX_WORKERS}, not {workers}")
    return workers


def _run_with_progress(opts: Settings, store: Store, config: SimConfig, workers: int) -> FleetRun:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=opts.json) as progress:
        task = progress.add_task("capturing activity windows", total=None)

        def advance(stage: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return run_fleet(store, config, workers, advance)


def _run_summary(config: SimConfig, run: FleetRun) -> dict[str, Any]:
    return {
        "seed": config.seed,
        "households": run.households,
        "cameras": run.cameras,
        "hours": config.hours,
        "size": f"{config.width}x{config.height}",
        "fps": config.fps,
        "windows": run.windows,
        "frames": run.frames,
        "clips": len(run.clip_ids),
        "wall_s": round(run.wall_s, 2),
        "cpu_s": round(run.cpu_s, 2),
        "clips_per_cpu_s": round(len(run.clip_ids) / run.cpu_s, 3) if run.cpu_s else 0.0,
    }


@app.command()
def simulate(
    ctx: typer.Context,
    households: int = typer.Option(4, "--households", help="Households in the fleet (1-10000)."),
    cameras: int = typer.Option(2, "--cameras", help="Cameras per household (1-5)."),
    hours: float = typer.Option(24.0, "--hours", help="Simulated hours."),
    seed: int = typer.Option(7, "--seed", help="Same seed, same clips (same bytes)."),
    size: str = typer.Option("640x360", "--size", help="Camera resolution, e.g. 1920x1080."),
    fps: int = typer.Option(10, "--fps", help="Camera frame rate."),
    workers: int = typer.Option(default_workers(), "--workers", help="Processes rendering and encoding."),
) -> None:
    """Run the simulated fleet and ingest its clips into the store."""
    opts = settings(ctx)
    config = _sim_config(seed, households, cameras, hours, size, fps)
    workers = _check_workers(workers)
    with open_store(opts.data_dir, opts.db_url) as store:
        run = _run_with_progress(opts, store, config, workers)
    summary = _run_summary(config, run)
    opts.emit(summary, lambda: console.print(_key_values("simulated", summary)))


@app.command()
def demo(
    ctx: typer.Context,
    households: int = typer.Option(4, "--households", help="Households in the fleet (1-10000)."),
    hours: float = typer.Option(24.0, "--hours", help="Simulated hours."),
    seed: int = typer.Option(7, "--seed", help="Same seed, same clips (same bytes)."),
    workers: int = typer.Option(default_workers(), "--workers", help="Processes rendering and encoding."),
) -> None:
    """The main job, end to end: fleet -> capture -> store -> camera AI scored; writes report.json/html."""
    opts = settings(ctx)
    config = _sim_config(seed, households, 2, hours, "640x360", 10)
    workers = _check_workers(workers)
    with open_store(opts.data_dir, opts.db_url) as store:
        run = _run_with_progress(opts, store, config, workers)
        report: dict[str, Any] = {
            "run": _run_summary(config, run),
            "store": services.fleet_stats(store),
            "evaluation": evaluate_run(store, config, run.clip_ids).as_dict(),
            "labels": list(LABELS),
        }
    json_path, html_path = write_report(report, opts.data_dir)
    opts.emit(report, lambda: _print_demo(report, json_path, html_path))


def _print_demo(report: dict[str, Any], *paths: object) -> None:
    console.print(_key_values("run", report["run"]))
    evaluation = report["evaluation"]
    labels = Table(title="clips per label", title_justify="left")
    labels.add_column("label")
    labels.add_column("camera AI", justify="right")
    labels.add_column("ground truth", justify="right")
    for label in report["labels"]:
        labels.add_row(label, str(evaluation["ai_by_label"].get(label, 0)), str(evaluation["truth_by_label"][label]))
    console.print(labels)
    causes = ", ".join(f"{n} {cause}" for cause, n in sorted(evaluation["false_alarm_causes"].items()))
    console.print(
        f"camera AI: {evaluation['alerts']} alerts, {evaluation['false_alarms']} false alarms"
        + (f" ({causes})" if causes else "")
        + f"; {evaluation['intruder_clips_alerted']} of {evaluation['intruder_clips']} intruder clips"
        + " alerted;"
        + f" accuracy {100 * evaluation['accuracy']:.1f}%"
    )
    console.print(f"stored: {report['store']['clips']} clips, {report['store']['bytes_stored']:,} bytes")
    console.print("report: " + ", ".join(str(path) for path in paths))


def _key_values(title: str, values: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    for key, value in values.items():
        table.add_row(key, str(value))
    return table

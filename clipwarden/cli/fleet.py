"""`clipwarden simulate` and `clipwarden demo`: run the simulated fleet through the real pipeline."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from clipwarden.cli.app import Settings, app, check_workers, console, err_console, settings
from clipwarden.errors import ClipwardenError
from clipwarden.learn.deployed import fleet_ai
from clipwarden.pipeline.demo import REVIEWERS_SHIFT, demo_accounts, run_demo, run_summary
from clipwarden.pipeline.fleet_run import Progress as PipelineProgress
from clipwarden.pipeline.fleet_run import default_workers, run_fleet
from clipwarden.report import write_report
from clipwarden.sim import SimConfig
from clipwarden.sim.owners import OwnerBehaviour
from clipwarden.store import open_store
from clipwarden.times import parse_instant, utc_now

ACCOUNTS_FILE = "demo-accounts.txt"  # in the data dir: `demo --accounts`
_START_HELP = "When the simulated hours begin, ISO 8601 with an offset (default: so that they end now)."


def _sim_config(
    seed: int,
    households: int,
    cameras: int,
    hours: float,
    size: str,
    fps: int,
    start: str | None,
    ending_before_now: timedelta = timedelta(0),
) -> SimConfig:
    width, height = _parse_size(size)
    config = SimConfig(
        seed=seed,
        households=households,
        cameras_per_household=cameras,
        hours=hours,
        width=width,
        height=height,
        fps=fps,
    )
    # By default the simulated hours end now (to the second; the demo's, before its reviewers' shift), so
    # that a fleet simulated today is live, within its retention, when it is served. The same seed and start
    # give the same bytes.
    if start is not None:
        return replace(config, start=parse_instant(start))
    ends = utc_now().replace(microsecond=0) - ending_before_now
    return replace(config, start=ends - timedelta(hours=hours))


def _parse_size(size: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in size.lower().split("x"))
    except ValueError:
        raise ClipwardenError(f"--size must look like 640x360, not {size!r}") from None
    return width, height


# What each pipeline stage is called on its progress bar, and what its counts count.
_STAGES = {
    "capture": "capture: activity windows",
    "owners": "owners act, screen, queue",
    "review": "reviewers: views",
    "learning": "learning loop: steps",
    "audit": "audit log verified",
}


@contextmanager
def _progress_bar(opts: Settings) -> Iterator[PipelineProgress]:
    """A bar per stage, each added when its stage first reports and left complete when the next begins."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=opts.json) as progress:
        bars: dict[str, TaskID] = {}
        totals: dict[str, int] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                for earlier, bar in bars.items():  # a stage that reported last short of its total is over
                    progress.update(bar, completed=totals[earlier])
                    progress.stop_task(bar)
                bars[stage] = progress.add_task(_STAGES.get(stage, stage), total=total)
            totals[stage] = total
            progress.update(bars[stage], completed=done, total=total)

        yield advance


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
    start: str | None = typer.Option(None, "--start", help=_START_HELP),
) -> None:
    """Run the simulated fleet and ingest its clips into the store."""
    opts = settings(ctx)
    config = _sim_config(seed, households, cameras, hours, size, fps, start)
    workers = check_workers(workers)
    with open_store(opts.data_dir, opts.db_url) as store:
        ai = fleet_ai(store)  # before the progress bar, so that a refused model is the only line on stderr
        with _progress_bar(opts) as progress:
            run = run_fleet(store, config, workers, progress, ai)
    summary = run_summary(config, run)
    opts.emit(summary, lambda: console.print(_key_values("simulated", summary)))


@app.command()
def demo(
    ctx: typer.Context,
    households: int = typer.Option(4, "--households", help="Households in the fleet (1-10000)."),
    hours: float = typer.Option(24.0, "--hours", help="Simulated hours."),
    seed: int = typer.Option(7, "--seed", help="Same seed, same clips (same bytes)."),
    workers: int = typer.Option(default_workers(), "--workers", help="Processes rendering and encoding."),
    share_rate: float = typer.Option(
        OwnerBehaviour.share_if_ai_wrong, "--share-rate", help="Chance an owner reports a clip the AI got wrong."
    ),
    withdraw_rate: float = typer.Option(
        OwnerBehaviour.withdraw, "--withdraw-rate", help="Chance a share for review is withdrawn later."
    ),
    delete_rate: float = typer.Option(OwnerBehaviour.delete, "--delete-rate", help="Chance an owner deletes a clip."),
    tester_rate: float = typer.Option(
        OwnerBehaviour.tester, "--tester-rate", help="Share of households in the tester program."
    ),
    reviewers_per_site: int = typer.Option(3, "--reviewers-per-site", help="Simulated reviewers at each site (0-50)."),
    accounts: bool = typer.Option(
        False,
        "--accounts",
        help=f"Afterwards, give an owner per household, a reviewer per site and an auditor passwords to sign in"
        f" to the pages with (written to {ACCOUNTS_FILE} in the data dir, readable by you only).",
    ),
    start: str | None = typer.Option(
        None,
        "--start",
        help="When the simulated day begins, ISO 8601 (default: it ends as the reviewers' shift begins).",
    ),
) -> None:
    """The main job, end to end: fleet -> capture -> store -> owners share, withdraw, delete -> screen ->
    queue -> reviewers annotate through the API -> consolidation -> retention -> audit checked; writes
    report.json/html."""
    opts = settings(ctx)
    config = _sim_config(seed, households, 2, hours, "640x360", 10, start, REVIEWERS_SHIFT)
    workers = check_workers(workers)
    rates = {"--share-rate": share_rate, "--withdraw-rate": withdraw_rate, "--delete-rate": delete_rate}
    for option, rate in (rates | {"--tester-rate": tester_rate}).items():
        if not 0.0 <= rate <= 1.0:
            raise ClipwardenError(f"{option} must be between 0 and 1, not {rate}")
    if not 0 <= reviewers_per_site <= 50:
        raise ClipwardenError(f"--reviewers-per-site must be between 0 and 50, not {reviewers_per_site}")
    behaviour = OwnerBehaviour(
        share_if_ai_wrong=share_rate, withdraw=withdraw_rate, delete=delete_rate, tester=tester_rate
    )
    with open_store(opts.data_dir, opts.db_url) as store:
        with _progress_bar(opts) as progress:
            report = run_demo(store, config, workers, behaviour, progress, reviewers_per_site).report
        made = demo_accounts(store, config, utc_now()) if accounts else []
    paths = write_report(report, opts.data_dir)
    accounts_file = _write_accounts(opts.data_dir / ACCOUNTS_FILE, made) if made else None
    opts.emit(report, lambda: _print_demo(report, *paths, accounts_file=accounts_file))


def _write_accounts(path: Path, made: list[dict[str, str]]) -> Path:
    """The accounts and their passwords, one per line, in a file only its user may read (mode 600)."""
    lines = ["# name\tpassword\trole\thousehold or site: sign in at /sign-in with the name and the password"]
    lines += ["\t".join((account["name"], account["password"], account["role"], account["of"])) for account in made]
    path.unlink(missing_ok=True)  # a file left by an earlier demo may have other permissions
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write("\n".join(lines) + "\n")
    return path


def _print_demo(report: dict[str, Any], *paths: object, accounts_file: Path | None = None) -> None:
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
    _print_consent(report)
    _print_learning(report["learning"])
    console.print(f"the demo took {report['wall_s']:.1f} s wall, {report['cpu_s']:.1f} CPU-seconds in all processes")
    console.print("report: " + ", ".join(str(path) for path in paths))
    if accounts_file is not None:
        where = f"accounts for the pages (`clipwarden serve`, then sign in): {accounts_file}, readable by you only"
        console.print(where, soft_wrap=True, highlight=False)


def _print_learning(learning: dict[str, Any]) -> None:
    if "skipped" in learning:
        console.print(f"learning: no model trained: {learning['skipped']}")
        return
    held = learning["held_out"]
    console.print(
        f"learning: snapshot {learning['snapshot']['snapshot_id']} ({learning['snapshot']['items']} items) ->"
        f" model {learning['model']['model_id']} deployed; on {held['clips']} held-out clips (seed {held['seed']}):"
    )
    if "unscored" in learning:
        console.print(f"  not scored: {learning['unscored']}")
        return
    before, after = learning["before"], learning["after"]

    def rates(card: dict[str, Any]) -> str:
        recall = "n/a" if card["intruder_recall"] is None else f"{100 * card['intruder_recall']:.1f}%"
        return (
            f"{card['false_alarms_per_100']:.1f} false alarms per 100 clips, intruder recall {recall},"
            f" accuracy {100 * card['accuracy']:.1f}%"
        )

    console.print(f"  rules (before): {rates(before)}")
    console.print(f"  model (after):  {rates(after)}")


def _print_consent(report: dict[str, Any]) -> None:
    owners, screen, queue, audit = report["owners"], report["screen"], report["review_queue"], report["audit"]
    actions = ", ".join(f"{n} {kind}" for kind, n in owners["actions"].items()) or "none"
    console.print(f"owners: {actions}; {owners['tester_households']} households in the tester program")
    console.print(
        f"screen: {screen['screened']} clips screened, {screen['private_held']} of {screen['private']} private"
        f" scenes held, {screen['harmless_held']} harmless clips held;"
        f" private scenes that reached the queue: {screen['private_reached_queue']}"
    )
    tasks = ", ".join(f"{n} {status}" for status, n in queue["tasks"].items()) or "none"
    console.print(
        f"review queue: {tasks} ({owners['tasks_removed_by_withdrawal']} removed by withdrawal,"
        f" {owners['tasks_removed_by_deletion']} by deletion)"
    )
    review = report["review"]
    outcomes = ", ".join(f"{n} {outcome.replace('_', ' ')}" for outcome, n in review["outcomes"].items()) or "none"
    kappa = review["consolidation"].get("fleiss_kappa")
    console.print(
        f"review: {review['reviewers']} reviewers, {review['views']} renditions viewed ({outcomes});"
        f" {review['adjudications']} adjudications; Fleiss' kappa {'undefined' if kappa is None else kappa};"
        f" consolidated labels right on {100 * review['evaluation']['consolidated_accuracy']:.1f}% of"
        f" {review['evaluation']['clips']} clips (camera AI {100 * review['evaluation']['camera_ai_accuracy']:.1f}%)"
    )
    erasure = report["erasure"]
    console.print(
        f"erasure requests: {erasure['requests']}, {erasure['closed_within_deadline']} closed within the deadline,"
        f" {erasure['open']} open"
    )
    verdict = "verified" if audit["verified"] else "VERIFICATION FAILED"
    console.print(
        f"audit log: {audit['entries']} entries, {verdict}; replay: {audit['views']} views,"
        f" {audit['views_without_consent']} without consent"
    )


def _key_values(title: str, values: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    for key, value in values.items():
        table.add_row(key, str(value))
    return table

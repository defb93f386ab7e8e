"""`clipwarden models train|list|deploy|evaluate|unlearn`: the learned camera AI, trained on a snapshot, put on
the fleet, scored on a held-out fleet, and retrained without what it may no longer know."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from clipwarden.cli.app import app, check_workers, console, settings
from clipwarden.cli.owner import opened_store
from clipwarden.learn import models, training, unlearning
from clipwarden.pipeline import heldout
from clipwarden.pipeline.fleet_run import default_workers
from clipwarden.times import utc_now

models_app = typer.Typer(
    help="Camera AI models: train on a snapshot, list, deploy, evaluate, unlearn.", no_args_is_help=True
)
app.add_typer(models_app, name="models")


@models_app.command("train")
def models_train(
    ctx: typer.Context,
    snapshot_id: str = typer.Argument(..., metavar="SNAPSHOT_ID"),
    shards: int = typer.Option(training.DEFAULT_SHARDS, "--shards", help="Disjoint shards, one model each."),
    seed: int = typer.Option(training.DEFAULT_SEED, "--seed", help="The same seed gives the same weights."),
    slices: int = typer.Option(
        models.DEFAULT_SLICES, "--slices", help="Slices per shard: unlearning retrains from the slice before."
    ),
    workers: int = typer.Option(default_workers(), "--workers", help="Processes reading the clips' features."),
) -> None:
    """Train a camera AI on a snapshot's items that the enforcement point still allows."""
    workers = check_workers(workers)
    with opened_store(ctx) as store:
        trained = training.train(store, snapshot_id, shards, seed, utc_now(), slices, workers)
    settings(ctx).emit(trained, lambda: _print_trained(trained))


@models_app.command("list")
def models_list(ctx: typer.Context) -> None:
    """The model versions, oldest first."""
    with opened_store(ctx) as store:
        found = training.list_models(store)
    settings(ctx).emit(found, lambda: _print_list(found))


@models_app.command("deploy")
def models_deploy(ctx: typer.Context, model_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Put a model on the fleet: new clips are labelled with it."""
    with opened_store(ctx) as store:
        deployed = training.deploy(store, model_id, utc_now())
    settings(ctx).emit(deployed, lambda: _say(f"deployed {model_id} at {deployed['deployed_at']}"))


@models_app.command("unlearn")
def models_unlearn(ctx: typer.Context) -> None:
    """Retrain the models a withdrawal or erasure left to unlearn (they are retrained as soon as it commits;
    this finishes what an interrupted process left)."""
    with opened_store(ctx) as store:
        replaced = unlearning.forget_pending(store, utc_now())
    settings(ctx).emit({"replaced": replaced}, lambda: _print_replaced(replaced))


def _print_replaced(replaced: dict[str, str | None]) -> None:
    for old, new in replaced.items():
        _say(f"{old} unlearned: " + (f"replaced by {new}" if new else "nothing left to learn from; retired"))
    _say(f"{len(replaced)} models unlearned")


def _print_trained(trained: dict[str, Any]) -> None:
    card = trained["card"]
    again = " (the same weights as one already stored)" if trained["existing"] else ""
    _say(
        f"model {trained['model_id']}{again}: {card['items']} items in {trained['shards']} shards "
        f"{card['shard_items']}, seed {trained['seed']}, {trained['train_s']:.1f} s, "
        f"training accuracy {100 * card['training_metrics']['training_accuracy']:.1f}%"
    )
    for reason, count in card["skipped"].items():
        _say(f"  skipped, {reason}: {count}")


def _print_list(found: list[dict[str, Any]]) -> None:
    for model in found:
        deployed = "  deployed" if model["deployed"] else ""
        replaced = f" (replaced by {model['replaced_by']})" if model["replaced_by"] else ""
        _say(f"{model['model_id']}  snapshot {model['snapshot_id']}  {model['status']}{replaced}{deployed}")
    _say(f"{len(found)} models")


def _say(text: str) -> None:
    console.print(text, highlight=False)


@models_app.command("evaluate")
def models_evaluate(
    ctx: typer.Context,
    target: str = typer.Argument(..., metavar="ID|rules", help="A model id, or `rules` for the camera's rules."),
    seed: int = typer.Option(..., "--seed", help="The held-out fleet's seed: another than any fleet trained on."),
    households: int = typer.Option(8, "--households", help="Households in the held-out fleet (1-10000)."),
    hours: float = typer.Option(24.0, "--hours", help="Simulated hours of the held-out fleet."),
    cameras: int = typer.Option(2, "--cameras", help="Cameras per household (1-5)."),
    workers: int = typer.Option(default_workers(), "--workers", help="Processes rendering and encoding."),
) -> None:
    """Score the rules or a model on a held-out fleet of another seed, captured into a scratch store."""
    config = heldout.held_out_config(seed, households, hours, cameras)  # bad numbers: refused before anything
    check_workers(workers)
    with opened_store(ctx) as store:
        scored = heldout.evaluate(store, target, config, workers)
    settings(ctx).emit(scored, lambda: _print_scorecard(scored))


def _print_scorecard(scored: dict[str, Any]) -> None:
    def rate(name: str, scale: float = 100.0, unit: str = "%") -> str:
        value, interval = scored[name], scored[f"{name}_ci95"]
        if value is None:
            return "n/a"
        low, high = interval
        return f"{scale * value:.1f}{unit} (95% CI {scale * low:.1f}-{scale * high:.1f})"

    held = scored["held_out"]
    _say(
        f"{scored['model']} on a held-out fleet (seed {held['seed']}, {held['households']} households,"
        f" {held['hours']:g} hours): {scored['clips']} clips"
    )
    _say(f"  accuracy (7 labels): {rate('accuracy')}")
    alarms = f"{scored['false_alarms']} of {scored['alerts']} alerts"
    _say(f"  false alarms per 100 clips: {rate('false_alarms_per_100', 1.0, '')} ({alarms})")
    _say(
        f"  intruder recall: {rate('intruder_recall')}"
        f" ({scored['intruder_clips_alerted']} of {scored['intruder_clips']} intruder clips alerted)"
    )
    table = Table(title="confusion: true label (rows) against the AI's (columns)", title_justify="left")
    table.add_column("truth")
    for label in scored["confusion"]:
        table.add_column(label, justify="right")
    for truth, row in scored["confusion"].items():
        table.add_row(truth, *(str(n) for n in row.values()))
    console.print(table)

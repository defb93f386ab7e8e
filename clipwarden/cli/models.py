"""`clipwarden models train|list|deploy|unlearn`: the learned camera AI, trained on a snapshot, put on the fleet,
and retrained without what it may no longer know."""

from __future__ import annotations

from typing import Any

import typer

from clipwarden.cli.app import app, console, settings
from clipwarden.cli.owner import opened_store
from clipwarden.learn import models, training, unlearning
from clipwarden.times import utc_now

models_app = typer.Typer(help="Camera AI models: train on a snapshot, list, deploy, unlearn.", no_args_is_help=True)
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
) -> None:
    """Train a camera AI on a snapshot's items that the enforcement point still allows."""
    with opened_store(ctx) as store:
        trained = training.train(store, snapshot_id, shards, seed, utc_now(), slices)
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

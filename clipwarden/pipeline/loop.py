"""The demo's last stage, the reason the pipeline exists: the reviewers' labels teach the camera AI.

A snapshot of what the gate allows for training now, a model trained on it and deployed to the fleet, then a
held-out day (households and cameras of another seed, captured by the real pipeline into a scratch store) on
which the rules and the model are scored side by side: false alarms per 100 clips, intruder recall and
7-label accuracy, before (the rules) and after (the model). A snapshot with no eligible clip ends the stage
with the reason, not the demo.

The held-out day depends on nothing the demo's store holds, so ``HeldOutDay`` captures it in a process of its
own while the owners and reviewers work (one core renders the held-out fleet while the other serves the
reviewers' renditions); the loop waits for it only when it scores.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from clipwarden.learn import datasets, training
from clipwarden.learn.datasets import NothingEligible
from clipwarden.pipeline import heldout
from clipwarden.pipeline.fleet_run import Progress
from clipwarden.sim import SimConfig
from clipwarden.store import Store

# A held-out fleet's seed is the demo's plus this: simulated ids carry their seed, so it shares nothing.
HELD_OUT_SEED_OFFSET = 1000


# SISA's shards buy fast unlearning with accuracy: each shard learns from its own items alone. Under about
# this many items a shard sees too few of the rare labels (a day's few intruders) to learn them
# (benchmarks/bench_learning.py), so the demo's few dozen labels train one shard, sliced.
ITEMS_PER_SHARD = 100


def shards_for(items: int) -> int:
    return max(1, min(training.DEFAULT_SHARDS, items // ITEMS_PER_SHARD))


@dataclass(frozen=True)
class LoopSettings:
    shards: int | None = None  # None: ``shards_for`` the snapshot's items
    seed: int = training.DEFAULT_SEED
    # Held out: a fleet of the demo's size for half its hours (12 of the default 24): enough clips to
    # compare, inside the demo's minutes. None: half the demo's hours.
    held_out_hours: float | None = None


class HeldOutDay:
    """The held-out fleet for a demo of ``config``, captured in a process of its own from the moment this is
    made; ``result`` waits for it. Use as a context manager, so that the process is never left behind."""

    def __init__(self, config: SimConfig, settings: LoopSettings = LoopSettings()) -> None:
        # The same hours of the day as the demo's first ones (a day's scenes depend on the hour), another fleet.
        self.config = replace(
            config, seed=config.seed + HELD_OUT_SEED_OFFSET, hours=settings.held_out_hours or config.hours / 2
        )
        # spawn, not fork: the parent runs threads (progress display, database pool, the review server).
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self._captured = self._pool.submit(heldout.capture, self.config, 1)

    def result(self) -> heldout.HeldOut:
        return self._captured.result()

    def __enter__(self) -> HeldOutDay:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(cancel_futures=True)


def close_loop(
    store: Store,
    held_out_day: HeldOutDay,
    at: datetime,
    settings: LoopSettings = LoopSettings(),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Snapshot -> train -> deploy -> score the rules and the model on the held-out day; ``progress`` hears
    of each of the four steps done."""
    started = time.perf_counter()
    step = progress or (lambda stage, done, total: None)
    step("learning", 0, 4)
    try:
        snapshot = datasets.snapshot(store, at)
    except NothingEligible as nothing:
        return {"skipped": str(nothing)}
    step("learning", 1, 4)
    shards = settings.shards or shards_for(snapshot["items"])
    trained = training.train(store, snapshot["snapshot_id"], shards, settings.seed, at)
    step("learning", 2, 4)
    deployed = training.deploy(store, trained["model_id"], at)
    step("learning", 3, 4)
    held_config, held_out = held_out_day.config, held_out_day.result()
    scores: dict[str, Any]
    if held_out.clips:
        rules, learned = heldout.score(held_out, {trained["model_id"]: heldout.load_model(store, trained["model_id"])})
        scores = {"before": rules.as_dict(), "after": learned.as_dict()}
    else:
        scores = {"unscored": "the held-out fleet recorded no clip to score the rules and the model on"}
    step("learning", 4, 4)
    summary = _summary(snapshot, trained, deployed, held_config, held_out)
    return summary | scores | {"wall_s": round(time.perf_counter() - started, 2)}


def _summary(
    snapshot: dict[str, Any],
    trained: dict[str, Any],
    deployed: dict[str, Any],
    held_config: SimConfig,
    held_out: heldout.HeldOut,
) -> dict[str, Any]:
    card = trained["card"]
    return {
        "snapshot": {key: snapshot[key] for key in ("snapshot_id", "sha256", "items", "excluded")},
        "model": {
            "model_id": trained["model_id"],
            "shards": trained["shards"],
            "seed": trained["seed"],
            "items": card["items"],
            "skipped": card["skipped"],
            "train_s": trained["train_s"],
            "deployed_at": deployed["deployed_at"],
        },
        "held_out": {
            "seed": held_config.seed,
            "households": held_config.households,
            "hours": held_config.hours,
            "clips": len(held_out.clips),
            "capture_s": round(held_out.capture_s, 2),
        },
    }

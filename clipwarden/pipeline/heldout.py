"""The held-out fleet: households and cameras never seen in training, simulated with another seed, captured
by the real pipeline into a scratch store (a temporary data dir, never the user's) and scored.

Capture labels each clip with the rules, as a fleet without a model would; that stored verdict is the rules'
row. A model's verdict on the same clip comes from the features of the track capture stored with it
(``learn/features.py``), exactly as ``LearnedAi`` reads a clip on the fleet. The truth is read in
``learn/evaluate.py`` alone.

Simulated ids carry their seed (``hh-SEED-0000``, ``cam-SEED-0000-0``), so a fleet of another seed never
shares a household or camera with the one a model learned from; ``evaluate`` refuses a seed whose
households the user's store already holds, whatever the reason they are there.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from clipwarden import services
from clipwarden.errors import ClipwardenError, NotFound
from clipwarden.learn import models, training
from clipwarden.learn.evaluate import ClipFacts, Scorecard, Verdict, reference_models, score_held_out
from clipwarden.learn.features import FEATURE_NAMES, summarise
from clipwarden.media.camera_ai import Rules
from clipwarden.media.capture import track_from_document
from clipwarden.pipeline.fleet_run import Progress, run_fleet
from clipwarden.sim import SimConfig, build_fleet
from clipwarden.store import Store, open_store
from clipwarden.store.schema import clips, households
from clipwarden.store.schema import models as models_table

RULES = "rules"


@dataclass(frozen=True)
class HeldOut:
    """One held-out fleet, captured: its clips with the rules' verdicts, and each clip's features."""

    config: SimConfig
    clips: list[ClipFacts]
    features: np.ndarray  # one row per clip, in ``clips`` order
    capture_s: float  # wall seconds to simulate, capture and store the fleet
    features_s: float  # wall seconds to read every clip's features from its stored track


def held_out_config(seed: int, households: int, hours: float, cameras: int = 2) -> SimConfig:
    """The held-out fleet's config; its start is SimConfig's fixed one, so a seed always gives the same figures."""
    return SimConfig(seed=seed, households=households, cameras_per_household=cameras, hours=hours)


def capture(config: SimConfig, workers: int, progress: Progress | None = None) -> HeldOut:
    """Run the fleet through the real capture into a scratch store, and read each clip's features there."""
    with tempfile.TemporaryDirectory(prefix="clipwarden-heldout-") as scratch, open_store(Path(scratch)) as store:
        started = time.perf_counter()
        run = run_fleet(store, config, workers, progress, Rules())
        captured = time.perf_counter()
        with store.connect() as conn:
            stored = {row.id: row for row in conn.execute(select(clips).where(clips.c.id.in_(run.clip_ids)))}
            cameras = {
                camera_id: training.camera_of(conn, camera_id) for camera_id in {r.camera_id for r in stored.values()}
            }
        rows = [stored[clip_id] for clip_id in run.clip_ids]
        facts = [ClipFacts(r.id, r.camera_id, r.started_at, r.duration_s, r.ai_label, r.ai_alert) for r in rows]
        away = [services.mode_at(store, r.household_id, r.started_at) == "away" for r in rows]
        vectors = [
            summarise(track_from_document(r.motion_track), cameras[r.camera_id], mode)
            for r, mode in zip(rows, away, strict=True)
        ]
        features = np.vstack(vectors) if vectors else np.empty((0, len(FEATURE_NAMES)))
        return HeldOut(config, facts, features, captured - started, time.perf_counter() - captured)


def verdicts(model: models.ShardedModel, features: np.ndarray) -> list[Verdict]:
    """What the model says of each clip, and whether it alerts: on an intruder, as the rules do."""
    if not len(features):
        return []
    return [(label, label == "intruder") for label, _ in model.predict(features)]


def score(held_out: HeldOut, candidates: Mapping[str, models.ShardedModel]) -> list[Scorecard]:
    """The rules' row, then one per candidate model, on the same held-out clips."""
    others = {name: verdicts(model, held_out.features) for name, model in candidates.items()}
    return score_held_out(held_out.config, held_out.clips, others)


def load_model(store: Store, model_id: str) -> models.ShardedModel:
    """A stored model, after its artefact hashed to its card's value (ModelRefused if it does not)."""
    with store.connect() as conn:
        sha256 = conn.execute(select(models_table.c.sha256).where(models_table.c.id == model_id)).scalar()
    if sha256 is None:
        raise NotFound(f"unknown model id: {model_id} (give a model id from `models list`, or `rules`)")
    return training.load_model(store.data_dir, sha256)


def check_unseen(store: Store, config: SimConfig) -> None:
    """Refuse a held-out fleet that shares a household with the user's store: it would not be held out."""
    ids = [household.id for household in build_fleet(config).households]
    with store.connect() as conn:
        seen = conn.execute(select(households.c.id).where(households.c.id.in_(ids)).limit(1)).scalar()
    if seen is not None:
        raise ClipwardenError(
            f"--seed {config.seed}: household {seen} of that fleet is in the store already (a model may have"
            " learned from it); a held-out fleet needs another seed"
        )


def evaluate(store: Store, target: str, config: SimConfig, workers: int) -> dict[str, Any]:
    """``models evaluate``: the rules or one model scored on the held-out fleet ``config``; nothing is stored
    in the user's store."""
    model = None if target == RULES else load_model(store, target)
    check_unseen(store, config)
    held_out = capture(config, workers)
    if not held_out.clips:
        raise ClipwardenError(
            f"the held-out fleet (seed {config.seed}, {config.households} households, {config.hours:g} hours)"
            " recorded no clip; give it more households or hours"
        )
    card = score(held_out, {} if model is None else {target: model})[-1]
    return card.as_dict() | {
        "held_out": {
            "seed": config.seed,
            "households": config.households,
            "cameras_per_household": config.cameras_per_household,
            "hours": config.hours,
            "start": config.start.isoformat(),
        }
    }


REFERENCE_OWN_LABELS = "reference: own labels"
REFERENCE_TRUTH = "reference: ground truth"


def reference_rows(
    store: Store, model_id: str, training_config: SimConfig, held_out: HeldOut, at: datetime
) -> list[Scorecard]:
    """Four rows on one held-out fleet: the rules; the model ``model_id``; the same model (its shards and
    seed, the same training items) trained on the camera's own labels, and on the true labels of the fleet
    ``training_config`` simulated (the ceiling). The two references are for evaluation only: they are
    never stored or deployed."""
    model = load_model(store, model_id)
    references = reference_models(store, model_id, training_config, at)
    candidates = {
        model_id: model,
        REFERENCE_OWN_LABELS: references["own_labels"],
        REFERENCE_TRUTH: references["truth"],
    }
    return score(held_out, candidates)

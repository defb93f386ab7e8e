"""The learned camera AI as data: sharded, sliced gradient boosting over per-clip features (SISA: sharded,
isolated, sliced, aggregated training; Bourtoule et al., IEEE S&P 2021), starting from the rules' verdict.

Items go to ``shards`` disjoint shards, and within a shard to ``slices`` slices, by a hash of their key
alone (the item's content hash, so that one fleet gives one model in every installation, while item ids are
the installation's own pseudonyms), so an item's place never depends on the others. Each shard is trained in
stages: stage r is a LightGBM booster of ``ROUNDS_PER_SLICE`` rounds over the shard's slices 1..r, fitted to
what the stages before it leave unexplained. Boosting starts from a prior, not from the labels' frequencies:
the rules' verdict on the clip (the ``rules_*`` features), trusted ``RULES_PRIOR``. A shard that has seen few
intruders therefore still says intruder where the rules do, and learns to differ only where its labels show
the rules wrong; boosting from the labels' frequencies, a shard of thirty items with two intruders never
said intruder at all. A shard's scores are the prior plus its stages'; a clip's label is the one with the
highest mean of the shards' probabilities.

Forgetting an item (``unlearn``) therefore retrains only its shard, and only the stages from its slice on,
starting from the stages before; since every stage is fitted from the prior and the earlier stages' text,
the result is bit-identical to training from scratch without the item (tests/learn/test_sharded_model.py).

The artefact is compressed canonical JSON holding every shard's stages as LightGBM model text: no pickle, so
loading an artefact runs no code. Training is single-threaded with LightGBM's deterministic mode, so the same
items, labels, shards, slices and seed give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import lightgbm
import numpy as np

from clipwarden.domain import LABELS, Label

ARTEFACT_FORMAT = "clipwarden-model/4"
ROUNDS_PER_SLICE = 25
DEFAULT_SLICES = 4
RULES_PRIOR = 0.6  # the probability a shard gives the rules' label before it has learned anything
_PARAMS = {
    "objective": "multiclass",
    "num_class": len(LABELS),
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 3,  # shards are small: LightGBM's default 20 would leave most trees a single leaf
    "feature_fraction": 0.8,  # each tree looks at a random 80% of the features, drawn from the seed
    "lambda_l2": 1.0,
    "deterministic": True,
    "force_col_wise": True,
    "num_threads": 1,  # one thread: the same sums in the same order, so the same bytes
    "verbosity": -1,
}


@dataclass(frozen=True)
class Placement:
    """Where items go: ``shards`` x ``slices``, by their id's hash."""

    shards: int
    slices: int

    def of(self, key: str) -> tuple[int, int]:
        digest = hashlib.sha256(key.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.shards, int.from_bytes(digest[8:16], "big") % self.slices


@dataclass(frozen=True)
class ShardedModel:
    feature_names: tuple[str, ...]
    placement: Placement
    seed: int
    # Per shard, each stage's booster as model text (None for a stage whose slices hold no item yet).
    checkpoints: tuple[tuple[str | None, ...], ...]
    # The ids of the items it learned, sorted, and each one's key: part of the artefact, so that a model's
    # id names its data even where an item changed no weight (a shard too small to split).
    item_ids: tuple[str, ...]
    keys: tuple[str, ...]

    def place(self, item_id: str) -> tuple[int, int]:
        """The (shard, slice) of one of the items it learned."""
        return self.placement.of(self.keys[self.item_ids.index(item_id)])

    def shard_sizes(self) -> list[int]:
        return [sum(len(rows) for rows in shard) for shard in _members(self.keys, self.placement)]

    @cached_property
    def boosters(self) -> tuple[tuple[lightgbm.Booster, ...], ...]:
        """Per shard that learned anything, its stages' boosters."""
        shards = [tuple(_booster(text) for text in stages if text is not None) for stages in self.checkpoints]
        return tuple(stages for stages in shards if stages)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Rows of ``features`` to rows of mean probabilities over ``LABELS``."""
        rows = np.atleast_2d(features)
        prior = rules_prior(rows, self.feature_names)
        total = np.zeros((rows.shape[0], len(LABELS)))
        for stages in self.boosters:
            total += _softmax(_scores(prior, stages, rows))
        return total / max(len(self.boosters), 1)

    def predict(self, features: np.ndarray) -> list[tuple[Label, float]]:
        """Each row's label and the mean probability the shards gave it."""
        return [(LABELS[int(np.argmax(row))], float(row.max())) for row in self.probabilities(features)]


def train(
    item_ids: Sequence[str],
    keys: Sequence[str],
    features: np.ndarray,
    labels: Sequence[Label],
    feature_names: tuple[str, ...],
    shards: int,
    seed: int,
    slices: int = DEFAULT_SLICES,
) -> ShardedModel:
    """Train every shard from scratch on the items ``Placement`` puts there by their ``keys``."""
    placement = Placement(shards, slices)
    members = _members(keys, placement)
    y = np.asarray([LABELS.index(label) for label in labels])
    prior = rules_prior(features, feature_names)
    checkpoints = tuple(_stages(features, y, prior, rows, seed, earlier=()) for rows in members)
    return ShardedModel(feature_names, placement, seed, checkpoints, *_sorted_items(item_ids, keys))


def unlearn(
    model: ShardedModel, item_ids: Sequence[str], features: np.ndarray, labels: Sequence[Label], removed: set[str]
) -> tuple[ShardedModel, list[int]]:
    """The model without the ``removed`` items, and the shards retrained. ``item_ids``, ``features`` and
    ``labels`` are the items kept (the model's own training items less ``removed``). Each shard that held a
    removed item is retrained from the checkpoint before the first slice that held one; the others are kept."""
    placement = model.placement
    keys = [model.keys[model.item_ids.index(item_id)] for item_id in item_ids]
    members = _members(keys, placement)
    y = np.asarray([LABELS.index(label) for label in labels])
    first_touched: dict[int, int] = {}
    for item_id in removed:
        shard, slice_ = model.place(item_id)
        first_touched[shard] = min(slice_, first_touched.get(shard, slice_))
    checkpoints = list(model.checkpoints)
    prior = rules_prior(features, model.feature_names)
    for shard, first in first_touched.items():
        kept = model.checkpoints[shard][:first]
        checkpoints[shard] = kept + _stages(features, y, prior, members[shard], model.seed, kept)
    unlearned = ShardedModel(
        model.feature_names, placement, model.seed, tuple(checkpoints), *_sorted_items(item_ids, keys)
    )
    return unlearned, sorted(first_touched)


def _sorted_items(item_ids: Sequence[str], keys: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    pairs = sorted(zip(item_ids, keys, strict=True))
    return tuple(item_id for item_id, _ in pairs), tuple(key for _, key in pairs)


def _members(keys: Sequence[str], placement: Placement) -> list[list[list[int]]]:
    """Row indices per shard and slice, each slice in key order."""
    members: list[list[list[int]]] = [[[] for _ in range(placement.slices)] for _ in range(placement.shards)]
    for i in sorted(range(len(keys)), key=lambda i: keys[i]):
        shard, slice_ = placement.of(keys[i])
        members[shard][slice_].append(i)
    return members


def rules_prior(features: np.ndarray, feature_names: Sequence[str]) -> np.ndarray:
    """Raw scores over ``LABELS`` that give the rules' label (its ``rules_*`` feature) ``RULES_PRIOR`` and the
    other labels the rest in equal parts; zeros (no preference) for features without the rules' verdict."""
    rows = np.atleast_2d(features)
    names = list(feature_names)
    columns = [f"rules_{label}" for label in LABELS]
    if not set(columns) <= set(names):
        return np.zeros((rows.shape[0], len(LABELS)))
    verdict = rows[:, [names.index(column) for column in columns]] > 0.5
    other = (1 - RULES_PRIOR) / (len(LABELS) - 1)
    return np.where(verdict, np.log(RULES_PRIOR), np.log(other))


def _stages(
    features: np.ndarray,
    y: np.ndarray,
    prior: np.ndarray,
    slices: list[list[int]],
    seed: int,
    earlier: Sequence[str | None],
) -> tuple[str | None, ...]:
    """The stages of one shard after the ``earlier`` ones: stage r fits ``ROUNDS_PER_SLICE`` rounds over slices
    0..r to what the prior and the stages before it leave unexplained."""
    shard = [i for rows in slices for i in rows]  # slice after slice, so stage r's rows are a prefix
    x, labels = features[shard], y[shard]
    scores = _scores(prior[shard], [_booster(text) for text in earlier if text is not None], x)
    ends = np.cumsum([len(rows) for rows in slices])
    done: list[str | None] = []
    for stage in range(len(earlier), len(slices)):
        end = int(ends[stage])
        text = _boost(x[:end], labels[:end], scores[:end], seed) if end else None
        if text is not None:  # scored from its text, as an unlearning will score it: the same sums, bit for bit
            scores += _booster(text).predict(x, raw_score=True, num_threads=1)
        done.append(text)
    return tuple(done)


def _scores(prior: np.ndarray, stages: Sequence[lightgbm.Booster], features: np.ndarray) -> np.ndarray:
    """The prior plus each stage's raw scores, added in stage order (the order training adds them in)."""
    scores = prior.copy()
    for booster in stages if len(features) else ():
        scores += booster.predict(features, raw_score=True, num_threads=1)  # threads would only wait
    return scores


def _boost(features: np.ndarray, y: np.ndarray, start: np.ndarray, seed: int) -> str:
    """One stage: ``ROUNDS_PER_SLICE`` rounds fitted from the raw scores ``start``; its trees as text."""
    dataset = lightgbm.Dataset(features, y, init_score=start, params={"verbosity": -1})
    booster = lightgbm.train(_PARAMS | {"seed": seed}, dataset, num_boost_round=ROUNDS_PER_SLICE)
    return str(booster.model_to_string())


def _booster(text: str) -> lightgbm.Booster:
    return lightgbm.Booster(model_str=text)


def _softmax(scores: np.ndarray) -> np.ndarray:
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))


def dump(model: ShardedModel) -> bytes:
    document = {
        "format": ARTEFACT_FORMAT,
        "labels": list(LABELS),
        "feature_names": list(model.feature_names),
        "shards": model.placement.shards,
        "slices": model.placement.slices,
        "seed": model.seed,
        "checkpoints": [list(stages) for stages in model.checkpoints],
        "items": [list(pair) for pair in zip(model.item_ids, model.keys, strict=True)],
    }
    return zlib.compress(json.dumps(document, sort_keys=True, separators=(",", ":")).encode(), 9)


def load(data: bytes) -> ShardedModel:
    """Read an artefact; ValueError if it is not one."""
    try:
        document = json.loads(zlib.decompress(data))
    except (zlib.error, ValueError) as error:
        raise ValueError("not a clipwarden model artefact") from error
    made = document.get("format") if isinstance(document, dict) else None
    if made != ARTEFACT_FORMAT and str(made).startswith("clipwarden-model/"):
        raise ValueError(f"made by another version of clipwarden ({made}); train the model again")
    if made != ARTEFACT_FORMAT:
        raise ValueError("not a clipwarden model artefact")
    if document["labels"] != list(LABELS):
        raise ValueError("the artefact was trained on other labels")
    return ShardedModel(
        tuple(document["feature_names"]),
        Placement(document["shards"], document["slices"]),
        document["seed"],
        tuple(tuple(stages) for stages in document["checkpoints"]),
        tuple(item_id for item_id, _ in document["items"]),
        tuple(key for _, key in document["items"]),
    )

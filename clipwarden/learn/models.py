"""The learned camera AI as data: sharded, sliced gradient boosting over per-clip features (SISA: sharded,
isolated, sliced, aggregated training; Bourtoule et al., IEEE S&P 2021).

Items go to ``shards`` disjoint shards, and within a shard to ``slices`` slices, by a hash of their key
alone (the item's content hash, so that one fleet gives one model in every installation, while item ids are
the installation's own pseudonyms), so an item's place never depends on the others. Each shard is a
LightGBM booster trained in stages: stage r adds ``ROUNDS_PER_SLICE`` boosting rounds over the shard's
slices 1..r, starting from the booster stage r-1 left (its checkpoint). A clip's label is the one with the
highest mean of the shards' class probabilities. Forgetting an item (``unlearn``) therefore retrains only
its shard, and only from the checkpoint before the item's slice; since every stage starts from its
checkpoint's text, the result is bit-identical to training from scratch without the item
(tests/learn/test_sharded_model.py).

The artefact is compressed canonical JSON holding every shard's checkpoints as LightGBM model text: no
pickle, so loading an artefact runs no code. Training is single-threaded with LightGBM's deterministic
mode, so the same items, labels, shards, slices and seed give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import lightgbm
import numpy as np

from clipwarden.domain import LABELS, Label

ARTEFACT_FORMAT = "clipwarden-model/3"
_KEYLESS_FORMAT = "clipwarden-model/2"  # placed items by their ids: still read, for stores made before
ROUNDS_PER_SLICE = 25
DEFAULT_SLICES = 4
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
    # Per shard, the booster's model text after each stage (None while the shard has no item yet).
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
    def boosters(self) -> tuple[lightgbm.Booster, ...]:
        return tuple(lightgbm.Booster(model_str=stages[-1]) for stages in self.checkpoints if stages[-1] is not None)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Rows of ``features`` to rows of mean probabilities over ``LABELS``."""
        rows = np.atleast_2d(features)
        total = np.zeros((rows.shape[0], len(LABELS)))
        for booster in self.boosters:
            total += booster.predict(rows, num_threads=1)  # one clip at a time: threads would only wait
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
    checkpoints = tuple(_stages(features, y, rows, seed, first=0, start=None) for rows in members)
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
    for shard, first in first_touched.items():
        start = model.checkpoints[shard][first - 1] if first > 0 else None
        kept = model.checkpoints[shard][:first]
        checkpoints[shard] = kept + _stages(features, y, members[shard], model.seed, first, start)
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


def _stages(
    features: np.ndarray, y: np.ndarray, slices: list[list[int]], seed: int, first: int, start: str | None
) -> tuple[str | None, ...]:
    """Stages ``first``.. of one shard, from the checkpoint ``start``: each adds rounds over slices 0..r."""
    done: list[str | None] = []
    current = start
    for stage in range(first, len(slices)):
        rows = [i for slice_rows in slices[: stage + 1] for i in slice_rows]
        if rows:
            current = _boost(features[rows], y[rows], seed, current)
        done.append(current)
    return tuple(done)


def _boost(features: np.ndarray, y: np.ndarray, seed: int, start: str | None) -> str:
    """``ROUNDS_PER_SLICE`` more rounds from the checkpoint text ``start``; the result as text."""
    booster = lightgbm.train(
        _PARAMS | {"seed": seed},
        lightgbm.Dataset(features, y, params={"verbosity": -1}),
        num_boost_round=ROUNDS_PER_SLICE,
        init_model=None if start is None else lightgbm.Booster(model_str=start),
    )
    return str(booster.model_to_string())


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
    if not isinstance(document, dict) or document.get("format") not in (ARTEFACT_FORMAT, _KEYLESS_FORMAT):
        raise ValueError("not a clipwarden model artefact")
    if document["labels"] != list(LABELS):
        raise ValueError("the artefact was trained on other labels")
    return ShardedModel(
        tuple(document["feature_names"]),
        Placement(document["shards"], document["slices"]),
        document["seed"],
        tuple(tuple(stages) for stages in document["checkpoints"]),
        *_items_of(document),
    )


def _items_of(document: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if document["format"] == _KEYLESS_FORMAT:
        return tuple(document["items"]), tuple(document["items"])
    return tuple(item_id for item_id, _ in document["items"]), tuple(key for _, key in document["items"])

"""The learned camera AI as data: sharded gradient boosting over per-clip features (SISA, Bourtoule et al.).

Items go to ``shards`` disjoint shards by a hash of their item id, so an item's shard never depends on the
others; each shard has its own model, and a clip's label is the one with the highest mean of the shards'
class probabilities. Unlearning an item therefore retrains only its shard. Fitting is single-seeded and
the estimators are pickled with a fixed protocol, so the same items, labels, shards and seed give the same
bytes (tests/learn/test_sharded_model.py trains in two processes to show it). Artefacts are only unpickled
after their SHA-256 matched the one recorded when they were trained (``learn/training.py``).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import ThreadpoolController

from clipwarden.domain import LABELS, Label

PICKLE_PROTOCOL = 5
MAX_ITER = 100  # boosting rounds per shard
MIN_SAMPLES_LEAF = 5  # shards are small: the default 20 would leave most of them a single leaf
MAX_FEATURES = 0.8  # each split looks at a random 80% of the features, drawn from the seed
# Fitting and predicting run OpenMP on one thread. A shard holds tens of items and the fleet asks for one
# clip at a time: there threads only wait for each other (10x slower fits and 30x slower single-clip
# predictions on a busy 2-core machine, benchmarks/bench_learning.py). And the estimator records the thread
# count it was fitted with, so without this an artefact's bytes would depend on the machine's cores.
_THREADS = ThreadpoolController()


@dataclass(frozen=True)
class ShardModel:
    """One shard's model; ``estimator`` is None where the shard held a single label (it always says that)."""

    labels: tuple[Label, ...]  # the labels the shard saw, in the estimator's class order
    estimator: HistGradientBoostingClassifier | None


@dataclass(frozen=True)
class ShardedModel:
    feature_names: tuple[str, ...]
    shards: tuple[ShardModel | None, ...]  # None: an empty shard

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Rows of ``features`` to rows of mean probabilities over ``LABELS``."""
        rows = np.atleast_2d(features)
        fitted = [shard for shard in self.shards if shard is not None]
        total = np.zeros((rows.shape[0], len(LABELS)))
        with _THREADS.limit(limits=1, user_api="openmp"):
            for shard in fitted:
                columns = [LABELS.index(label) for label in shard.labels]
                if shard.estimator is None:
                    total[:, columns[0]] += 1.0
                else:
                    total[:, columns] += shard.estimator.predict_proba(rows)
        return total / max(len(fitted), 1)

    def predict(self, features: np.ndarray) -> list[tuple[Label, float]]:
        """Each row's label and the mean probability the shards gave it."""
        return [(LABELS[int(np.argmax(row))], float(row.max())) for row in self.probabilities(features)]


def shard_of(item_id: str, shards: int) -> int:
    return int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:8], "big") % shards


def train(
    item_ids: Sequence[str],
    features: np.ndarray,
    labels: Sequence[Label],
    feature_names: tuple[str, ...],
    shards: int,
    seed: int,
) -> ShardedModel:
    """Fit one model per shard on the items ``shard_of`` puts there, each in item-id order."""
    order = sorted(range(len(item_ids)), key=lambda i: item_ids[i])
    members: list[list[int]] = [[] for _ in range(shards)]
    for i in order:
        members[shard_of(item_ids[i], shards)].append(i)
    fitted = tuple(_fit_shard(features[rows], [labels[i] for i in rows], seed) if rows else None for rows in members)
    return ShardedModel(feature_names, fitted)


def shard_sizes(item_ids: Sequence[str], shards: int) -> list[int]:
    sizes = [0] * shards
    for item_id in item_ids:
        sizes[shard_of(item_id, shards)] += 1
    return sizes


def _fit_shard(features: np.ndarray, labels: list[Label], seed: int) -> ShardModel:
    seen = tuple(sorted(set(labels), key=LABELS.index))
    if len(seen) == 1:
        return ShardModel(seen, None)
    estimator = HistGradientBoostingClassifier(
        max_iter=MAX_ITER,
        min_samples_leaf=MIN_SAMPLES_LEAF,
        max_features=MAX_FEATURES,
        early_stopping=False,
        random_state=seed,
    )
    with _THREADS.limit(limits=1, user_api="openmp"):
        estimator.fit(features, np.asarray([seen.index(label) for label in labels]))
    return ShardModel(seen, estimator)


def dump(model: ShardedModel) -> bytes:
    return pickle.dumps(model, protocol=PICKLE_PROTOCOL)


def load(data: bytes) -> ShardedModel:
    """Unpickle an artefact; call only with bytes whose SHA-256 was checked against the model card."""
    model = pickle.loads(data)  # safe only because the caller checked the hash recorded at training
    if not isinstance(model, ShardedModel):
        raise TypeError("not a clipwarden model artefact")
    return model

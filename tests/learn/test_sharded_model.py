"""The sharded, sliced model: items go to shards and slices by their id alone, each shard is trained on its
own slice by slice, the same items, labels, shards and seed give the same bytes, in one process or in two,
and unlearning an item retrains only its shard from its slice's checkpoint, to the very bytes of training
from scratch without it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zlib

import numpy as np
import pytest

from clipwarden.domain import LABELS, Label
from clipwarden.learn import models

NAMES = ("a", "b", "c")
SHARDS = 3


def _items(count: int = 120) -> tuple[list[str], np.ndarray, list[Label]]:
    """Three features; the label follows the first two, so a model can learn it."""
    rng = np.random.default_rng(5)
    features = rng.normal(size=(count, len(NAMES)))
    labels: list[Label] = [
        "intruder" if x > 0.5 else "pet" if y > 0 else "environment" for x, y in features[:, :2].tolist()
    ]
    return [f"item_{i:04d}" for i in range(count)], _keys(count), features, labels


def _keys(count: int) -> list[str]:
    """The items' clips' content hashes: where they go in the model."""
    return [hashlib.sha256(f"clip {i}".encode()).hexdigest() for i in range(count)]


def _artefact_sha256(seed: int = 0) -> str:
    item_ids, keys, features, labels = _items()
    trained = models.train(item_ids, keys, features, labels, NAMES, SHARDS, seed)
    return hashlib.sha256(models.dump(trained)).hexdigest()


def test_training_twice_in_one_process_gives_the_same_bytes_and_another_seed_does_not() -> None:
    assert _artefact_sha256() == _artefact_sha256()
    assert _artefact_sha256(seed=1) != _artefact_sha256()


def test_training_in_separate_processes_gives_the_same_bytes() -> None:
    code = "from tests.learn.test_sharded_model import _artefact_sha256; print(_artefact_sha256())"
    digests = set()
    for hash_seed in ("1", "2"):  # different string hashing, as two unrelated runs would have
        env = os.environ | {"PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.strip())
    assert digests == {_artefact_sha256()}


def _without(index: int) -> tuple[list[str], list[str], np.ndarray, list[Label]]:
    item_ids, keys, features, labels = _items()
    kept = [i for i in range(len(item_ids)) if i != index]
    return [item_ids[i] for i in kept], [keys[i] for i in kept], features[kept], [labels[i] for i in kept]


def test_shards_are_disjoint_fixed_by_the_item_key_and_a_removal_touches_only_its_own() -> None:
    item_ids, keys, features, labels = _items()
    placement = models.Placement(SHARDS, models.DEFAULT_SLICES)
    full = models.train(item_ids, keys, features, labels, NAMES, SHARDS, 0)
    assert sum(full.shard_sizes()) == len(item_ids) and all(size > 0 for size in full.shard_sizes())
    gone, first_slice = placement.of(keys[7])
    assert full.place(item_ids[7]) == (gone, first_slice)
    without = models.train(*_without(7), NAMES, SHARDS, 0)
    for shard in range(SHARDS):
        same = [
            before == after for before, after in zip(full.checkpoints[shard], without.checkpoints[shard], strict=True)
        ]
        # other shards are untouched; the item's shard only from the item's slice on
        assert same == [shard != gone or stage < first_slice for stage in range(models.DEFAULT_SLICES)]


@pytest.mark.parametrize("index", [7, 8, 40])
def test_unlearning_retrains_one_shard_to_the_bytes_of_training_without_the_item(index: int) -> None:
    item_ids, keys, features, labels = _items()
    full = models.train(item_ids, keys, features, labels, NAMES, SHARDS, 0)
    kept_ids, kept_keys, kept_features, kept_labels = _without(index)
    unlearned, shards = models.unlearn(full, kept_ids, kept_features, kept_labels, {item_ids[index]})
    assert shards == [models.Placement(SHARDS, models.DEFAULT_SLICES).of(keys[index])[0]]
    scratch = models.train(kept_ids, kept_keys, kept_features, kept_labels, NAMES, SHARDS, 0)
    assert models.dump(unlearned) == models.dump(scratch)
    assert models.dump(unlearned) != models.dump(full)


def test_the_model_learns_its_training_items_and_answers_in_the_seven_labels() -> None:
    item_ids, keys, features, labels = _items()
    trained = models.train(item_ids, keys, features, labels, NAMES, SHARDS, 0)
    predicted = trained.predict(features)
    accuracy = np.mean([label == truth for (label, _), truth in zip(predicted, labels, strict=True)])
    assert accuracy > 0.9
    assert trained.probabilities(features).shape == (len(item_ids), len(LABELS))
    assert np.allclose(trained.probabilities(features).sum(axis=1), 1.0)
    assert models.load(models.dump(trained)).predict(features) == predicted


RULED = ("a", *(f"rules_{label}" for label in LABELS))


def _ruled(a: float, rules: Label) -> list[float]:
    """A feature row: ``a`` and the rules' verdict, one-hot."""
    return [a, *(float(label == rules) for label in LABELS)]


def test_a_shard_that_learned_too_little_says_what_the_rules_say() -> None:
    features = np.asarray([_ruled(0.0, "pet"), _ruled(1.0, "pet")])
    trained = models.train(["item_a", "item_b"], ["a", "b"], features, ["pet", "pet"], RULED, 1, 0)
    [(label, confidence)] = trained.predict(np.asarray(_ruled(0.5, "vehicle")))
    assert (label, confidence) == ("vehicle", pytest.approx(models.RULES_PRIOR))


def test_a_shard_corrects_the_rules_where_its_labels_show_them_wrong() -> None:
    # The rules say intruder on every item; the labels say pet wherever ``a`` is positive.
    a = np.random.default_rng(3).normal(size=80)
    features = np.asarray([_ruled(value, "intruder") for value in a])
    labels: list[Label] = ["pet" if value > 0 else "intruder" for value in a]
    trained = models.train([f"i{i}" for i in range(80)], _keys(80), features, labels, RULED, 1, 0)
    said = [label for label, _ in trained.predict(np.asarray([_ruled(1.5, "intruder"), _ruled(-1.5, "intruder")]))]
    assert said == ["pet", "intruder"]


def test_an_artefact_of_another_version_is_refused_with_a_way_out() -> None:
    with pytest.raises(ValueError, match=r"another version of clipwarden.*train the model again"):
        models.load(zlib.compress(b'{"format": "clipwarden-model/3"}'))


@pytest.mark.parametrize("data", [b"not compressed", zlib.compress(b'{"format": "something else"}'), b""])
def test_an_artefact_that_is_not_a_model_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a clipwarden model artefact"):
        models.load(data)


def test_the_same_clips_under_another_installations_item_ids_give_the_same_weights() -> None:
    item_ids, keys, features, labels = _items()
    ours = models.train(item_ids, keys, features, labels, NAMES, SHARDS, 0)
    theirs = models.train([f"other_{i}" for i in item_ids], keys, features, labels, NAMES, SHARDS, 0)
    assert ours.checkpoints == theirs.checkpoints and ours.item_ids != theirs.item_ids

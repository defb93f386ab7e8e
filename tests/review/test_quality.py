"""Consolidation maths: Dawid-Skene against majority vote on workers whose confusion matrices are known,
gold clamping, published agreement figures, and properties that hold for any answers."""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import krippendorff
import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats import inter_rater

from clipwarden.domain import LABELS
from clipwarden.review.quality import (
    DISAGREEMENT,
    LOW_CONFIDENCE,
    TOO_FEW_ANSWERS,
    Answer,
    Consolidation,
    ItemResult,
    cohen_kappa,
    dawid_skene,
    fleiss_kappa,
    fleiss_kappa_table,
    gold_accuracy,
    krippendorff_alpha,
    majority_vote,
    needing_review,
)

K = len(LABELS)
PRIOR = np.array([0.05, 0.25, 0.15, 0.2, 0.1, 0.15, 0.1])  # intruders rare, residents common
# The adversary answers SWAP[t] for truth t most of the time: intruder -> visitor, resident -> pet, ...
SWAP = [2, 3, 0, 5, 6, 1, 4]


def _uniform_errors(accuracy: float) -> np.ndarray:
    matrix = np.full((K, K), (1 - accuracy) / (K - 1))
    np.fill_diagonal(matrix, accuracy)
    return matrix


def _adversary(rate: float) -> np.ndarray:
    matrix = np.full((K, K), (1 - rate) / (K - 1))
    matrix[np.arange(K), SWAP] = rate
    return matrix


# Four good workers, three near-random (1/7 would be pure chance), one who swaps labels on purpose.
CROWD = {
    "good-90": _uniform_errors(0.9),
    "good-85": _uniform_errors(0.85),
    "good-80": _uniform_errors(0.8),
    "good-75": _uniform_errors(0.75),
    "random-20a": _uniform_errors(0.2),
    "random-20b": _uniform_errors(0.2),
    "random-25": _uniform_errors(0.25),
    "adversary": _adversary(0.8),
}


@dataclass(frozen=True)
class Synthetic:
    answers: list[Answer]
    truth: dict[str, str]
    per_true_label: dict[str, np.ndarray]  # worker -> how many of its answers fall on each true label


def _synthetic(workers: dict[str, np.ndarray], items: int, per_item: int, seed: int) -> Synthetic:
    rng = np.random.default_rng(seed)
    names = sorted(workers)
    truth, answers = {}, []
    per_true_label = {name: np.zeros(K) for name in names}
    for i, true in enumerate(rng.choice(K, size=items, p=PRIOR)):
        item_id = f"clip-{i:05d}"
        truth[item_id] = LABELS[true]
        for w in rng.choice(len(names), size=per_item, replace=False):
            answers.append(Answer(item_id, names[w], LABELS[rng.choice(K, p=workers[names[w]][true])]))
            per_true_label[names[w]][true] += 1
    return Synthetic(answers, truth, per_true_label)


def _accuracy(labels: dict[str, str], truth: dict[str, str], items: list[str] | None = None) -> float:
    chosen = items if items is not None else list(truth)
    return sum(labels[i] == truth[i] for i in chosen) / len(chosen)


def _labels(result: Consolidation) -> dict[str, str]:
    return {item_id: item.label for item_id, item in result.items.items()}


@pytest.fixture(scope="module")
def crowd() -> Synthetic:
    return _synthetic(CROWD, items=3000, per_item=3, seed=1)


@pytest.fixture(scope="module")
def consolidated(crowd: Synthetic) -> Consolidation:
    return dawid_skene(crowd.answers, LABELS)


# --- Dawid-Skene on a crowd with known confusion matrices ---------------------------------------------


def test_dawid_skene_recovers_the_truth_better_than_majority_vote(
    crowd: Synthetic, consolidated: Consolidation
) -> None:
    by_em = _accuracy(_labels(consolidated), crowd.truth)
    by_vote = _accuracy(majority_vote(crowd.answers, LABELS), crowd.truth)
    assert consolidated.converged
    assert by_em >= 0.8  # measured 0.85
    assert by_em - by_vote >= 0.15  # majority vote measured 0.61


def test_estimated_confusion_matrices_are_close_for_workers_with_many_answers(
    crowd: Synthetic, consolidated: Consolidation
) -> None:
    for name, true_matrix in CROWD.items():
        worker = consolidated.workers[name]
        assert worker.answers >= 1000
        error = np.abs(np.array(worker.confusion) - true_matrix)
        assert error.mean() < 0.04, name
        # Rare true labels (intruders) give a worker few answers to learn from; judge the rows with many.
        assert error[crowd.per_true_label[name] >= 150].max() < 0.15, name
        assert worker.accuracy == pytest.approx(float(PRIOR @ np.diag(true_matrix)), abs=0.08), name


def test_the_adversary_is_found_out_and_workers_are_ranked(consolidated: Consolidation) -> None:
    adversary = np.array(consolidated.workers["adversary"].confusion)
    assert adversary.argmax(axis=1).tolist() == SWAP
    accuracy = {name: worker.accuracy for name, worker in consolidated.workers.items()}
    assert sorted(accuracy, key=accuracy.__getitem__, reverse=True)[:4] == ["good-90", "good-85", "good-80", "good-75"]
    assert max(accuracy[n] for n in ("random-20a", "random-20b", "random-25")) < 0.35
    assert accuracy["adversary"] < 0.1


def test_confidence_is_calibrated_enough_to_triage(crowd: Synthetic, consolidated: Consolidation) -> None:
    confident = [i for i, item in consolidated.items.items() if item.confidence >= 0.9]
    doubtful = [i for i, item in consolidated.items.items() if item.confidence < 0.6]
    labels = _labels(consolidated)
    assert len(confident) > len(crowd.truth) / 2
    assert _accuracy(labels, crowd.truth, confident) >= 0.93
    assert _accuracy(labels, crowd.truth, doubtful) < 0.7


def test_class_prior_is_estimated(consolidated: Consolidation) -> None:
    assert np.abs(np.array(consolidated.class_prior) - PRIOR).max() < 0.05


# --- against crowd-kit's Dawid-Skene, on the same answers ----------------------------------------------


@pytest.fixture(scope="module")
def crowdkit_result(crowd: Synthetic) -> DawidSkene:
    frame = pd.DataFrame(crowd.answers, columns=["task", "worker", "label"])
    with warnings.catch_warnings():  # crowd-kit still uses pandas arguments that pandas 3 deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        return DawidSkene(n_iter=200, tol=1e-6).fit(frame)


def _identical_share(ours: Consolidation, theirs: DawidSkene) -> float:
    return sum(theirs.labels_[item_id] == item.label for item_id, item in ours.items.items()) / len(ours.items)


def test_dawid_skene_with_a_negligible_prior_matches_crowdkit(crowd: Synthetic, crowdkit_result: DawidSkene) -> None:
    # crowd-kit estimates by maximum likelihood; a flat prior worth 0.001 answers per row makes ours nearly so.
    ours = dawid_skene(crowd.answers, LABELS, prior_accuracy=1 / K, prior_strength=1e-3)
    assert _identical_share(ours, crowdkit_result) >= 0.995  # measured 2998 of 3000 items
    for name, worker in ours.workers.items():
        # crowd-kit's errors_ has a row per (worker, answer) and a column per true label; ours is [true][answer].
        errors = crowdkit_result.errors_.loc[name].reindex(index=list(LABELS), columns=list(LABELS), fill_value=0.0)
        assert np.abs(np.array(worker.confusion) - errors.to_numpy().T).max() < 0.02, name  # measured <= 0.003
    theirs_prior = crowdkit_result.priors_.reindex(list(LABELS)).to_numpy()
    assert np.abs(np.array(ours.class_prior) - theirs_prior).max() < 0.005  # measured 0.0005


def test_dawid_skene_with_its_default_prior_stays_close_to_crowdkit(
    consolidated: Consolidation, crowdkit_result: DawidSkene
) -> None:
    # The default prior (5 pseudo-answers per row, 70% right) moves the closest calls only.
    assert _identical_share(consolidated, crowdkit_result) >= 0.97  # measured 0.983


# --- gold items ------------------------------------------------------------------------------------------


def test_gold_items_turn_a_colluding_majority_around() -> None:
    # Two workers who swap labels the same way outvote one honest worker on every item.
    colluding = {"honest": _uniform_errors(0.85), "swapper-a": _adversary(0.85), "swapper-b": _adversary(0.85)}
    data = _synthetic(colluding, items=600, per_item=3, seed=2)
    gold = {item_id: label for item_id, label in list(data.truth.items())[:150]}
    rest = [item_id for item_id in data.truth if item_id not in gold]

    without_gold = dawid_skene(data.answers, LABELS)
    with_gold = dawid_skene(data.answers, LABELS, gold)

    assert _accuracy(_labels(without_gold), data.truth, rest) < 0.1
    assert _accuracy(_labels(with_gold), data.truth, rest) > 0.9
    assert with_gold.workers["honest"].accuracy > 0.75 > with_gold.workers["swapper-a"].accuracy


def test_gold_items_stay_clamped_against_unanimous_answers() -> None:
    answers = [("g", "w1", "pet"), ("g", "w2", "pet"), ("x", "w1", "pet"), ("x", "w2", "pet")]
    result = dawid_skene(answers, LABELS, gold={"g": "vehicle", "never-answered": "pet"})
    gold_item = result.items["g"]
    assert (gold_item.label, gold_item.confidence, gold_item.gold) == ("vehicle", 1.0, True)
    assert gold_item.posterior == tuple(1.0 if label == "vehicle" else 0.0 for label in LABELS)
    assert "never-answered" not in result.items
    assert not result.items["x"].gold


# --- small and awkward inputs -------------------------------------------------------------------------


def test_single_answers_and_workers_seen_once_get_smoothed_matrices() -> None:
    answers = [("a", "w1", "pet"), ("a", "w2", "pet"), ("b", "w1", "vehicle"), ("c", "once", "intruder")]
    result = dawid_skene(answers, LABELS)
    once = np.array(result.workers["once"].confusion)
    assert result.workers["once"].answers == 1
    assert np.allclose(once.sum(axis=1), 1.0)
    assert (once > 0).all() and (once < 0.9).all()  # one answer is no proof of anything
    assert {item_id: item.label for item_id, item in result.items.items()} == {
        "a": "pet",
        "b": "vehicle",
        "c": "intruder",
    }
    assert result.items["a"].confidence > result.items["c"].confidence > 0.5


def test_small_batches_do_not_slide_to_uniform_posteriors() -> None:
    good = {name: matrix for name, matrix in CROWD.items() if name.startswith("good")}
    batches = [_synthetic(good, items=items, per_item=3, seed=seed) for items in (5, 10, 20, 40) for seed in range(3)]

    def mean_accuracy(consolidate: Callable[[Synthetic], dict[str, str]]) -> float:
        return float(np.mean([_accuracy(consolidate(data), data.truth) for data in batches]))

    by_vote = mean_accuracy(lambda data: majority_vote(data.answers, LABELS))
    by_em = mean_accuracy(lambda data: _labels(dawid_skene(data.answers, LABELS)))
    by_em_add_one = mean_accuracy(
        lambda data: _labels(dawid_skene(data.answers, LABELS, prior_accuracy=1 / K, prior_strength=K))
    )
    assert by_em >= by_vote - 0.02
    # Plain add-one smoothing is what slides: agreeing answers end up no better than a seven-sided die.
    assert by_em_add_one < by_vote - 0.2


def test_ties_go_to_the_label_that_comes_first() -> None:
    answers = [("a", "w1", "pet"), ("a", "w2", "vehicle")]
    assert dawid_skene(answers, ("pet", "vehicle")).items["a"].label == "pet"
    assert dawid_skene(answers, ("vehicle", "pet")).items["a"].label == "vehicle"
    assert majority_vote(answers, ("vehicle", "pet")) == {"a": "vehicle"}


def test_the_result_does_not_depend_on_the_order_of_answers(crowd: Synthetic, consolidated: Consolidation) -> None:
    shuffled = list(crowd.answers)
    random.Random(3).shuffle(shuffled)
    assert dawid_skene(shuffled, LABELS) == consolidated


def test_the_result_does_not_depend_on_the_ids(crowd: Synthetic, consolidated: Consolidation) -> None:
    """The pipeline's clip and reviewer ids are random: the same answers under other ids, which sort in
    another order, must give the same figures to the last bit, or one seed gives two runs' worth of them."""
    rng = random.Random(5)
    items, workers = sorted(crowd.truth), sorted(CROWD)
    item_as = dict(zip(items, rng.sample(items, len(items)), strict=True))
    worker_as = dict(zip(workers, rng.sample(workers, len(workers)), strict=True))
    renamed = dawid_skene([(item_as[i], worker_as[w], label) for i, w, label in crowd.answers], LABELS)
    assert {i: renamed.items[item_as[i]].posterior for i in items} == {
        i: consolidated.items[i].posterior for i in items
    }
    assert {w: renamed.workers[worker_as[w]].confusion for w in workers} == {
        w: consolidated.workers[w].confusion for w in workers
    }
    assert (renamed.class_prior, renamed.iterations) == (consolidated.class_prior, consolidated.iterations)
    kappa = fleiss_kappa(crowd.answers, LABELS).value
    assert fleiss_kappa([(item_as[i], w, label) for i, w, label in crowd.answers], LABELS).value == kappa


@pytest.mark.parametrize(
    ("answers", "labels", "gold", "message"),
    [
        ([("a", "w", "cat")], LABELS, None, "unknown label 'cat'"),
        ([], LABELS, None, "no answers"),
        ([("a", "w", "pet")], LABELS, {"a": "dog"}, "gold uses unknown labels"),
        ([("a", "w", "pet")], ("pet", "pet"), None, "two distinct labels"),
        ([("a", "w", "pet")], ("pet",), None, "two distinct labels"),
        ([("a", "w", "pet")], "pet", None, "two distinct labels"),
    ],
)
def test_bad_input_is_refused(answers: list, labels: tuple, gold: dict | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dawid_skene(answers, labels, gold)


def test_bad_settings_are_refused() -> None:
    for settings_ in ({"prior_accuracy": 1.0}, {"prior_strength": 0.0}, {"tolerance": 0.0}, {"max_iterations": 0}):
        with pytest.raises(ValueError, match="prior_accuracy"):
            dawid_skene([("a", "w", "pet")], LABELS, **settings_)


def test_max_iterations_bounds_the_work(crowd: Synthetic) -> None:
    result = dawid_skene(crowd.answers, LABELS, max_iterations=2)
    assert (result.iterations, result.converged) == (2, False)


small_answers = st.lists(
    st.tuples(st.sampled_from("abcdef"), st.sampled_from(["w1", "w2", "w3", "w4"]), st.sampled_from(LABELS[:4])),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(small_answers, st.dictionaries(st.sampled_from("abcdef"), st.sampled_from(LABELS[:4]), max_size=3))
def test_posteriors_are_distributions_for_any_answers(answers: list, gold: dict[str, str]) -> None:
    result = dawid_skene(answers, LABELS[:4], gold)
    for item in result.items.values():
        assert sum(item.posterior) == pytest.approx(1.0, abs=1e-9)
        assert all(0.0 <= p <= 1.0 for p in item.posterior)
        # Posteriors within 1e-9 of the best count as tied, and a tie goes to the first label.
        best = next(i for i, p in enumerate(item.posterior) if p >= max(item.posterior) - 1e-9)
        assert item.label == LABELS[best]
        assert item.confidence == item.posterior[best]
        if item.gold:
            assert item.label == gold[item.item_id]
    for worker in result.workers.values():
        assert np.allclose(np.sum(worker.confusion, axis=1), 1.0)
    assert sum(result.class_prior) == pytest.approx(1.0)


# --- agreement -------------------------------------------------------------------------------------------

# Fleiss (1971) as worked on Wikipedia ("Fleiss' kappa", worked example): 10 subjects, 14 raters, 5 categories.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]
CATEGORIES = ("c1", "c2", "c3", "c4", "c5")


def _answers_from_table(table: list[list[int]]) -> list[Answer]:
    answers = []
    for i, row in enumerate(table):
        labels = [CATEGORIES[c] for c, count in enumerate(row) for _ in range(count)]
        answers += [Answer(f"s{i}", f"r{r}", label) for r, label in enumerate(labels)]
    return answers


def test_fleiss_kappa_reproduces_the_worked_example() -> None:
    for result in (fleiss_kappa_table(FLEISS_TABLE), fleiss_kappa(_answers_from_table(FLEISS_TABLE), CATEGORIES)):
        assert result.value is not None
        assert round(result.value, 3) == 0.210
        assert round(result.observed, 3) == 0.378
        assert round(result.expected, 3) == 0.213
        assert (result.items, result.skipped) == (10, 0)


def test_fleiss_kappa_leaves_out_items_with_another_number_of_answers() -> None:
    answers = [*_answers_from_table(FLEISS_TABLE), Answer("short", "r0", "c1"), Answer("short", "r1", "c2")]
    result = fleiss_kappa(answers, CATEGORIES)
    assert result.value is not None and round(result.value, 3) == 0.210
    assert (result.items, result.skipped) == (10, 1)
    only_short = fleiss_kappa(answers, CATEGORIES, raters=2)
    assert (only_short.items, only_short.skipped, only_short.value) == (1, 10, pytest.approx(-1.0))


@pytest.mark.parametrize(
    ("both_yes", "first_only", "second_only", "both_no", "kappa"),
    # Wikipedia, "Cohen's kappa": the worked example, and the two tables with the same 60% agreement.
    [(20, 5, 10, 15, 0.4), (45, 15, 25, 15, 0.1304), (25, 35, 5, 35, 0.2593)],
)
def test_cohen_kappa_reproduces_textbook_values(
    both_yes: int, first_only: int, second_only: int, both_no: int, kappa: float
) -> None:
    first = ["yes"] * (both_yes + first_only) + ["no"] * (second_only + both_no)
    second = ["yes"] * both_yes + ["no"] * first_only + ["yes"] * second_only + ["no"] * both_no
    result = cohen_kappa(first, second, ("yes", "no"))
    assert result.value == pytest.approx(kappa, abs=5e-5)


def test_krippendorff_alpha_reproduces_the_published_nominal_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 coders, 12 units, "*" missing.
    coders = {
        "A": "1 2 3 3 2 1 4 1 2 * * *",
        "B": "1 2 3 3 2 2 4 1 2 5 * 3",
        "C": "* 3 3 3 2 3 4 2 2 5 1 *",
        "D": "1 2 3 3 2 4 4 1 2 5 1 *",
    }
    answers = [
        Answer(f"u{unit}", coder, value)
        for coder, values in coders.items()
        for unit, value in enumerate(values.split())
        if value != "*"
    ]
    result = krippendorff_alpha(answers, ("1", "2", "3", "4", "5"))
    assert result.value is not None and round(result.value, 3) == 0.743
    assert (result.items, result.skipped) == (11, 1)  # unit 12 has a single value


def test_one_category_for_every_answer_leaves_the_coefficient_undefined() -> None:
    answers = [Answer(item, rater, "pet") for item in "abc" for rater in ("r1", "r2")]
    for result in (
        cohen_kappa(["pet"] * 3, ["pet"] * 3, LABELS),
        fleiss_kappa(answers, LABELS),
        krippendorff_alpha(answers, LABELS),
    ):
        assert (result.value, result.observed, result.expected) == (None, 1.0, 1.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: cohen_kappa(["pet"], ["pet", "pet"], LABELS), "must match"),
        (lambda: cohen_kappa([], [], LABELS), "no items"),
        (lambda: cohen_kappa(["pet"], ["cat"], LABELS), "unknown label 'cat'"),
        (lambda: fleiss_kappa([("a", "r", "pet")], LABELS), "single answer"),
        (lambda: fleiss_kappa([("a", "r", "pet"), ("a", "s", "pet")], LABELS, raters=1), "at least 2 raters"),
        (lambda: fleiss_kappa([("a", "r", "pet"), ("a", "s", "pet")], LABELS, raters=3), "exactly 3"),
        (lambda: fleiss_kappa_table([[1, 1], [2, 1]]), "same number of answers"),
        (lambda: fleiss_kappa_table([]), "non-empty"),
        (lambda: krippendorff_alpha([("a", "r", "pet"), ("b", "r", "pet")], LABELS), "two answers"),
    ],
)
def test_agreement_refuses_bad_input(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


rated_items = st.lists(st.lists(st.sampled_from(CATEGORIES), min_size=3, max_size=3), min_size=1, max_size=15)


def _as_answers(items: list[list[str]]) -> list[Answer]:
    return [Answer(f"i{i}", f"r{r}", label) for i, labels in enumerate(items) for r, label in enumerate(labels)]


@settings(deadline=None)
@given(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=20))
def test_perfect_agreement_gives_one_where_defined(labels: list[str]) -> None:
    items = [[label] * 3 for label in labels]
    defined = len(set(labels)) > 1
    for result in (
        cohen_kappa(labels, labels, CATEGORIES),
        fleiss_kappa(_as_answers(items), CATEGORIES),
        krippendorff_alpha(_as_answers(items), CATEGORIES),
    ):
        assert result.value == (pytest.approx(1.0) if defined else None)


@settings(deadline=None)
@given(rated_items, st.permutations(CATEGORIES))
def test_relabelling_categories_leaves_agreement_unchanged(items: list[list[str]], renamed: list[str]) -> None:
    rename = dict(zip(CATEGORIES, renamed, strict=True))
    relabelled = [[rename[label] for label in labels] for labels in items]
    for measure in (fleiss_kappa, krippendorff_alpha):
        before, after = measure(_as_answers(items), CATEGORIES), measure(_as_answers(relabelled), CATEGORIES)
        assert (before.value is None) == (after.value is None)
        assert before.value == pytest.approx(after.value)
    first, second = [labels[0] for labels in items], [labels[1] for labels in items]
    renamed_first, renamed_second = [rename[x] for x in first], [rename[x] for x in second]
    assert cohen_kappa(first, second, CATEGORIES).value == pytest.approx(
        cohen_kappa(renamed_first, renamed_second, CATEGORIES).value
    )
    assert cohen_kappa(first, second, CATEGORIES).value == pytest.approx(cohen_kappa(second, first, CATEGORIES).value)


@settings(deadline=None)
@given(rated_items)
def test_kappa_is_at_most_one(items: list[list[str]]) -> None:
    for result in (fleiss_kappa(_as_answers(items), CATEGORIES), krippendorff_alpha(_as_answers(items), CATEGORIES)):
        assert result.value is None or result.value <= 1.0 + 1e-12


# --- agreement against statsmodels and the krippendorff package on the same answers -----------------


def _vote_table(answers: list[Answer], labels: tuple[str, ...]) -> np.ndarray:
    items = sorted({answer.item_id for answer in answers})
    table = np.zeros((len(items), len(labels)), dtype=np.int64)
    for answer in answers:
        table[items.index(answer.item_id), labels.index(answer.label)] += 1
    return table


def test_fleiss_kappa_matches_statsmodels_on_the_crowd(crowd: Synthetic) -> None:
    ours = fleiss_kappa(crowd.answers, LABELS)
    assert ours.value == pytest.approx(inter_rater.fleiss_kappa(_vote_table(crowd.answers, LABELS), method="fleiss"))


def test_krippendorff_alpha_matches_the_package_given_rater_rows(crowd: Synthetic) -> None:
    workers, items = sorted(CROWD), sorted(crowd.truth)
    ratings = np.full((len(workers), len(items)), np.nan)
    for answer in crowd.answers:
        ratings[workers.index(answer.worker_id), items.index(answer.item_id)] = LABELS.index(answer.label)
    reference = krippendorff.alpha(reliability_data=ratings, level_of_measurement="nominal")
    assert krippendorff_alpha(crowd.answers, LABELS).value == pytest.approx(reference)


@settings(deadline=None)
@given(rated_items)
def test_agreement_matches_statsmodels_and_its_own_fields(items: list[list[str]]) -> None:
    answers = _as_answers(items)
    first, second = [labels[0] for labels in items], [labels[1] for labels in items]
    pairs = np.zeros((len(CATEGORIES), len(CATEGORIES)))
    for a, b in zip(first, second, strict=True):
        pairs[CATEGORIES.index(a), CATEGORIES.index(b)] += 1
    cohen, fleiss = cohen_kappa(first, second, CATEGORIES), fleiss_kappa(answers, CATEGORIES)
    with np.errstate(divide="ignore", invalid="ignore"):  # statsmodels divides by zero where kappa is undefined
        references = [
            (cohen, inter_rater.cohens_kappa(pairs)["kappa"]),
            (fleiss, inter_rater.fleiss_kappa(_vote_table(answers, CATEGORIES), method="fleiss")),
        ]
    for result, reference in references:
        if result.value is not None:
            assert result.value == pytest.approx(reference)
    for result in (cohen, fleiss, krippendorff_alpha(answers, CATEGORIES)):
        if result.value is not None:
            assert result.value == pytest.approx((result.observed - result.expected) / (1 - result.expected))


# --- gold accuracy and triage ----------------------------------------------------------------------------


def test_gold_accuracy_counts_answers_on_gold_items_only() -> None:
    answers = [
        ("g1", "ana", "pet"),
        ("g2", "ana", "vehicle"),
        ("g1", "bo", "environment"),
        ("x", "bo", "pet"),
        ("x", "cy", "pet"),
    ]
    scores = gold_accuracy(answers, {"g1": "pet", "g2": "vehicle", "g3": "intruder"}, LABELS)
    assert set(scores) == {"ana", "bo"}  # cy answered no gold item
    assert (scores["ana"].correct, scores["ana"].answered, scores["ana"].accuracy) == (2, 2, 1.0)
    assert (scores["bo"].correct, scores["bo"].answered, scores["bo"].accuracy) == (0, 1, 0.0)


def test_gold_accuracy_refuses_bad_gold() -> None:
    with pytest.raises(ValueError, match="at least one gold item"):
        gold_accuracy([("a", "w", "pet")], {}, LABELS)
    with pytest.raises(ValueError, match="unknown labels"):
        gold_accuracy([("a", "w", "pet")], {"a": "cat"}, LABELS)


def _item(item_id: str, confidence: float, votes: tuple[int, ...], gold: bool = False) -> ItemResult:
    posterior = (confidence, 1.0 - confidence) + (0.0,) * (K - 2)
    return ItemResult(item_id, LABELS[0], confidence, posterior, votes + (0,) * (K - len(votes)), gold)


def test_needing_review_names_its_reasons_least_confident_first() -> None:
    items = [
        _item("sure", 0.99, (3,)),
        _item("unsure", 0.7, (3,)),
        _item("split", 0.95, (2, 1)),
        _item("both", 0.5, (1, 1)),
        _item("alone", 0.97, (1,)),
        _item("gold-split", 1.0, (1, 2), gold=True),
    ]
    result = Consolidation(LABELS, {i.item_id: i for i in items}, {}, (1 / K,) * K, 1, True)
    needs = needing_review(result, min_confidence=0.9, min_answers=2)
    assert [(n.item_id, n.reasons) for n in needs] == [
        ("both", (LOW_CONFIDENCE, DISAGREEMENT)),
        ("unsure", (LOW_CONFIDENCE,)),
        ("split", (DISAGREEMENT,)),
        ("alone", (TOO_FEW_ANSWERS,)),
    ]
    with pytest.raises(ValueError, match="min_confidence"):
        needing_review(result, min_confidence=0.0)


def test_needing_review_on_the_crowd_catches_most_errors(crowd: Synthetic, consolidated: Consolidation) -> None:
    flagged = {need.item_id for need in needing_review(consolidated, min_confidence=0.9)}
    wrong = {i for i, item in consolidated.items.items() if item.label != crowd.truth[i]}
    assert len(wrong & flagged) / len(wrong) >= 0.85
    assert all(not consolidated.items[i].unanimous or consolidated.items[i].confidence < 0.9 for i in flagged)

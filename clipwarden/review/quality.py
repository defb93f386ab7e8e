"""Consolidating k answers per clip: Dawid-Skene EM, agreement coefficients, gold scores, review triage.

Pure functions over plain data. An answer is an ``(item_id, worker_id, label)`` triple; a label set is the
tuple of labels an answer may use (``clipwarden.domain.LABELS`` in the pipeline), and its order breaks ties.
Nothing here reads a database, a file or a clock: the review service gathers answers and stores results.

References
- A. P. Dawid and A. M. Skene (1979). Maximum likelihood estimation of observer error-rates using the EM
  algorithm. Journal of the Royal Statistical Society, Series C 28(1), 20-28.
- J. Cohen (1960). A coefficient of agreement for nominal scales. Educational and Psychological
  Measurement 20(1), 37-46.
- J. L. Fleiss (1971). Measuring nominal scale agreement among many raters. Psychological Bulletin 76(5),
  378-382.
- K. Krippendorff (2011). Computing Krippendorff's alpha-reliability. Annenberg School for Communication.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import krippendorff
import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]
# (item_id, worker_id, label) triples; `Answer` names the fields.
Answers = Iterable[tuple[str, str, str]]

# Posteriors closer than this to the best one count as tied, so that summation order cannot pick a winner.
_TIE = 1e-9

LOW_CONFIDENCE = "low_confidence"
DISAGREEMENT = "disagreement"
TOO_FEW_ANSWERS = "too_few_answers"


class Answer(NamedTuple):
    """One worker's label for one item. Plain ``(item_id, worker_id, label)`` tuples are accepted too."""

    item_id: str
    worker_id: str
    label: str


@dataclass(frozen=True)
class ItemResult:
    item_id: str
    label: str  # highest posterior; ties go to the label that comes first in the label set
    confidence: float  # the posterior probability of `label`
    posterior: tuple[float, ...]  # P(true label | answers), in label-set order; sums to 1
    votes: tuple[int, ...]  # answers given per label, in label-set order
    gold: bool  # clamped to a known answer

    @property
    def answers(self) -> int:
        return sum(self.votes)

    @property
    def unanimous(self) -> bool:
        return sum(1 for count in self.votes if count) == 1


@dataclass(frozen=True)
class WorkerResult:
    worker_id: str
    confusion: tuple[tuple[float, ...], ...]  # [true][answered]: P(answers column | truth is row); rows sum to 1
    answers: int
    accuracy: float  # chance of a right answer on an item drawn from the class prior: sum_k prior_k * confusion_kk


@dataclass(frozen=True)
class Consolidation:
    labels: tuple[str, ...]
    items: Mapping[str, ItemResult]
    workers: Mapping[str, WorkerResult]
    class_prior: tuple[float, ...]  # estimated share of each true label, in label-set order
    iterations: int
    converged: bool


@dataclass(frozen=True)
class Agreement:
    """A chance-corrected agreement coefficient, ``(observed - expected) / (1 - expected)``.

    ``value`` is None when expected agreement is 1: every answer used one and the same category, so
    agreement is perfect but chance alone explains it and the coefficient is 0/0. Report it as undefined.
    """

    method: str  # "cohen_kappa", "fleiss_kappa" or "krippendorff_alpha"
    value: float | None
    observed: float
    expected: float
    items: int  # items the coefficient was computed over
    skipped: int = 0  # items left out: Fleiss, another number of answers; alpha, a single answer


@dataclass(frozen=True)
class GoldScore:
    worker_id: str
    correct: int
    answered: int  # answers this worker gave on gold items (never 0 in a result)

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered


@dataclass(frozen=True)
class ReviewNeed:
    item_id: str
    label: str
    confidence: float
    reasons: tuple[str, ...]  # LOW_CONFIDENCE, DISAGREEMENT, TOO_FEW_ANSWERS


@dataclass(frozen=True)
class _Coded:
    """Answers as index arrays, sorted by (item, worker, label) so results do not depend on input order."""

    labels: tuple[str, ...]
    item_ids: tuple[str, ...]  # sorted
    worker_ids: tuple[str, ...]  # sorted
    item: Indices  # per answer
    worker: Indices
    label: Indices

    @property
    def label_count(self) -> int:
        return len(self.labels)


def dawid_skene(
    answers: Answers,
    labels: Sequence[str],
    gold: Mapping[str, str] | None = None,
    *,
    prior_accuracy: float = 0.7,
    prior_strength: float = 5.0,
    tolerance: float = 1e-6,
    max_iterations: int = 200,
) -> Consolidation:
    """Consolidate answers with the EM algorithm of Dawid and Skene (1979).

    Each worker has a confusion matrix (the chance of each answer given the true label) and the items share a
    class prior; EM alternates between the posterior of each item's true label (E) and the maximum a posteriori
    matrices and prior given those posteriors (M). It starts from the soft majority vote.

    Each row of a confusion matrix has a Dirichlet prior worth ``prior_strength`` pseudo-answers, right with
    ``prior_accuracy`` and wrong evenly otherwise, so a worker seen once gets a mild matrix instead of a
    degenerate one; the class prior gets one pseudo-item per label. ``prior_accuracy=1/k, prior_strength=k``
    is plain add-one smoothing. The default leans towards the diagonal because without a lean EM on a small
    batch slides to uniform posteriors (everyone looks like chance); workers with many answers outweigh it.

    ``gold`` items (known answers) stay clamped to their label throughout, so they calibrate the workers who
    answered them; gold items nobody answered are ignored. Iteration stops when no posterior moves by
    ``tolerance`` or more, or after ``max_iterations`` (``converged`` is then False).
    A worker answering one item twice counts twice, as in Dawid and Skene's repeated observations.
    """
    if not 0 < prior_accuracy < 1 or prior_strength <= 0 or tolerance <= 0 or max_iterations < 1:
        raise ValueError("need 0 < prior_accuracy < 1, prior_strength > 0, tolerance > 0 and max_iterations >= 1")
    coded = _encode(answers, labels)
    pseudo = _pseudo_answers(coded.label_count, prior_accuracy, prior_strength)
    gold_label = _gold_index(coded, gold or {})
    votes = _votes(coded)
    posterior = _clamp(votes / votes.sum(axis=1, keepdims=True), gold_label)
    iterations, converged = 0, False
    while iterations < max_iterations and not converged:
        iterations += 1
        prior, confusion = _maximise(coded, posterior, pseudo)
        updated = _clamp(_expect(coded, prior, confusion), gold_label)
        converged = bool(np.abs(updated - posterior).max() < tolerance)
        posterior = updated
    prior, confusion = _maximise(coded, posterior, pseudo)
    return Consolidation(
        labels=coded.labels,
        items=_item_results(coded, posterior, votes, gold_label),
        workers=_worker_results(coded, prior, confusion),
        class_prior=tuple(float(p) for p in prior),
        iterations=iterations,
        converged=converged,
    )


def majority_vote(answers: Answers, labels: Sequence[str]) -> dict[str, str]:
    """The most frequent answer per item; ties go to the label that comes first in the label set."""
    coded = _encode(answers, labels)
    winners = _first_best(_votes(coded).astype(np.float64))
    return {item_id: coded.labels[w] for item_id, w in zip(coded.item_ids, winners, strict=True)}


def needing_review(result: Consolidation, min_confidence: float = 0.9, min_answers: int = 1) -> tuple[ReviewNeed, ...]:
    """Items that should go to a review stage: consolidated confidence below ``min_confidence``, answers that
    disagree, or fewer than ``min_answers`` answers. Gold items never do. Least confident first, then by id."""
    if not 0 < min_confidence <= 1 or min_answers < 1:
        raise ValueError("min_confidence must be in (0, 1] and min_answers >= 1")
    needs = []
    for item in result.items.values():
        reasons = _review_reasons(item, min_confidence, min_answers)
        if reasons and not item.gold:
            needs.append(ReviewNeed(item.item_id, item.label, item.confidence, reasons))
    return tuple(sorted(needs, key=lambda need: (need.confidence, need.item_id)))


def gold_accuracy(answers: Answers, gold: Mapping[str, str], labels: Sequence[str]) -> dict[str, GoldScore]:
    """Per worker, how many of their answers on gold items match the known label. Workers who answered no
    gold item are left out; gold items nobody answered count for no one."""
    if not gold:
        raise ValueError("gold accuracy needs at least one gold item")
    coded = _encode(answers, labels)
    truth = _gold_index(coded, gold)[coded.item]
    on_gold = truth >= 0
    answered = np.bincount(coded.worker[on_gold], minlength=len(coded.worker_ids))
    correct = np.bincount(coded.worker[on_gold & (coded.label == truth)], minlength=len(coded.worker_ids))
    return {
        worker_id: GoldScore(worker_id, int(right), int(seen))
        for worker_id, right, seen in zip(coded.worker_ids, correct, answered, strict=True)
        if seen
    }


def cohen_kappa(first: Sequence[str], second: Sequence[str], labels: Sequence[str]) -> Agreement:
    """Cohen's (1960) kappa for two raters who labelled the same items: ``first[i]`` and ``second[i]`` are
    their labels for item i. Chance agreement comes from each rater's own label shares. The value is
    scikit-learn's ``cohen_kappa_score``; observed and expected agreement come from its confusion matrix."""
    if len(first) != len(second):
        raise ValueError(f"cohen_kappa: the raters labelled {len(first)} and {len(second)} items; they must match")
    if not first:
        raise ValueError("cohen_kappa: no items")
    # Imported here: scikit-learn's metrics take over a second to import, and the review service never needs them.
    from sklearn.metrics import cohen_kappa_score, confusion_matrix

    index = _label_index(labels)
    _lookup([*first, *second], index)
    table = confusion_matrix(first, second, labels=list(labels), normalize="all")
    observed, expected = float(np.trace(table)), float(table.sum(axis=1) @ table.sum(axis=0))
    value = None if _undefined(expected) else float(cohen_kappa_score(first, second, labels=list(labels)))
    return Agreement("cohen_kappa", value, observed, expected, items=len(first))


def fleiss_kappa(answers: Answers, labels: Sequence[str], raters: int | None = None) -> Agreement:
    """Fleiss' (1971) kappa over the items that received exactly ``raters`` answers; the others are left out
    and counted in ``skipped``. Raters may differ from item to item. ``raters`` None takes the most common
    number of answers of at least 2 (on a tie, the larger). For varying numbers use `krippendorff_alpha`."""
    votes = _votes(_encode(answers, labels))
    per_item = votes.sum(axis=1)
    wanted = _most_common_count(per_item) if raters is None else raters
    if wanted < 2:
        raise ValueError(f"fleiss_kappa: needs at least 2 raters per item, got {wanted}")
    kept = per_item == wanted
    if not kept.any():
        raise ValueError(f"fleiss_kappa: no item has exactly {wanted} answers")
    return replace(fleiss_kappa_table(votes[kept]), skipped=int((~kept).sum()))


def fleiss_kappa_table(counts: Sequence[Sequence[int]] | npt.NDArray[np.integer]) -> Agreement:
    """Fleiss' (1971) kappa from an items x categories table of answer counts; every row must sum to the
    same number of raters n >= 2."""
    table = np.asarray(counts, dtype=np.float64)
    if table.ndim != 2 or table.size == 0 or (table < 0).any() or (table != np.round(table)).any():
        raise ValueError("fleiss_kappa_table: counts must be a non-empty items x categories table of counts >= 0")
    raters = table.sum(axis=1)
    if (raters != raters[0]).any() or raters[0] < 2:
        raise ValueError("fleiss_kappa_table: every item needs the same number of answers, at least 2")
    n = raters[0]
    per_item = (np.square(table).sum(axis=1) - n) / (n * (n - 1))
    shares = table.sum(axis=0) / table.sum()  # sums of counts: exact in any order
    observed = float(np.sort(per_item).mean())  # in the order of the values, not of the items (_value_rank)
    return _chance_corrected("fleiss_kappa", observed, float(np.square(shares).sum()), len(table))


def krippendorff_alpha(answers: Answers, labels: Sequence[str]) -> Agreement:
    """Krippendorff's alpha for nominal labels, which allows any number of answers per item, from the
    ``krippendorff`` package. Items with a single answer have no pair to compare and are left out
    (``skipped``). Expected agreement is sum_c n_c (n_c - 1) / (n (n - 1)) over the pairable answers
    (Krippendorff 2011); observed agreement is what alpha = (observed - expected) / (1 - expected) implies."""
    votes = _votes(_encode(answers, labels))
    per_item = votes.sum(axis=1)
    pairable = per_item >= 2
    if not pairable.any():
        raise ValueError("krippendorff_alpha: no item has two answers to compare")
    units = votes[pairable]
    values = units.sum(axis=0).astype(np.float64)
    n = values.sum()
    expected = float((values * (values - 1)).sum() / (n * (n - 1)))
    skipped = int((~pairable).sum())
    if _undefined(expected):
        return Agreement("krippendorff_alpha", None, 1.0, expected, len(units), skipped)
    value = float(krippendorff.alpha(value_counts=units, level_of_measurement="nominal"))
    return Agreement("krippendorff_alpha", value, expected + value * (1.0 - expected), expected, len(units), skipped)


def _chance_corrected(method: str, observed: float, expected: float, items: int, skipped: int = 0) -> Agreement:
    value = None if _undefined(expected) else (observed - expected) / (1.0 - expected)
    return Agreement(method, value, observed, expected, items, skipped)


def _undefined(expected: float) -> bool:
    """Expected agreement 1 happens only when one category took every answer; the coefficient is then 0/0."""
    return math.isclose(expected, 1.0, rel_tol=0.0, abs_tol=1e-12)


def _most_common_count(per_item: Indices) -> int:
    frequency = np.bincount(per_item)
    frequency[:2] = 0
    if not frequency.any():
        raise ValueError("fleiss_kappa: every item has a single answer")
    return int(len(frequency) - 1 - np.argmax(frequency[::-1]))


def _review_reasons(item: ItemResult, min_confidence: float, min_answers: int) -> tuple[str, ...]:
    checks = (
        (item.confidence < min_confidence, LOW_CONFIDENCE),
        (not item.unanimous, DISAGREEMENT),
        (item.answers < min_answers, TOO_FEW_ANSWERS),
    )
    return tuple(reason for failed, reason in checks if failed)


def _label_index(labels: Sequence[str]) -> dict[str, int]:
    if isinstance(labels, str) or len(set(labels)) != len(labels) or len(labels) < 2:
        raise ValueError(f"a label set needs at least two distinct labels, got {labels!r}")
    return {label: i for i, label in enumerate(labels)}


def _lookup(values: Iterable[str], index: Mapping[str, int]) -> Indices:
    try:
        return np.array([index[value] for value in values], dtype=np.intp)
    except KeyError as unknown:
        raise ValueError(f"unknown label {unknown.args[0]!r}; expected one of {sorted(index)}") from None


def _encode(answers: Answers, labels: Sequence[str]) -> _Coded:
    index = _label_index(labels)
    rows = list(answers)
    if not rows:
        raise ValueError("no answers")
    coded_labels = _lookup((label for _, _, label in rows), index)
    order = sorted(range(len(rows)), key=lambda r: (rows[r][0], rows[r][1], coded_labels[r]))
    item_ids, item = np.unique([rows[r][0] for r in order], return_inverse=True)
    worker_ids, worker = np.unique([rows[r][1] for r in order], return_inverse=True)
    return _Coded(
        labels=tuple(labels),
        item_ids=tuple(str(i) for i in item_ids),
        worker_ids=tuple(str(w) for w in worker_ids),
        item=item.astype(np.intp),
        worker=worker.astype(np.intp),
        label=coded_labels[order],
    )


def _votes(coded: _Coded) -> npt.NDArray[np.int64]:
    votes = np.zeros((len(coded.item_ids), coded.label_count), dtype=np.int64)
    np.add.at(votes, (coded.item, coded.label), 1)
    return votes


def _gold_index(coded: _Coded, gold: Mapping[str, str]) -> Indices:
    """Per item, the index of its gold label, or -1 where it has none."""
    unknown = sorted({label for label in gold.values() if label not in coded.labels})
    if unknown:
        raise ValueError(f"gold uses unknown labels {unknown}; expected one of {list(coded.labels)}")
    return np.array([coded.labels.index(gold[i]) if i in gold else -1 for i in coded.item_ids], dtype=np.intp)


def _clamp(posterior: Floats, gold_label: Indices) -> Floats:
    rows = np.flatnonzero(gold_label >= 0)
    clamped = posterior.copy()
    clamped[rows] = 0.0
    clamped[rows, gold_label[rows]] = 1.0
    return clamped


def _pseudo_answers(k: int, accuracy: float, strength: float) -> Floats:
    """The Dirichlet prior of one worker's [true, answered] matrix, as pseudo-answers."""
    pseudo = np.full((k, k), strength * (1.0 - accuracy) / (k - 1))
    np.fill_diagonal(pseudo, strength * accuracy)
    return pseudo


def _maximise(coded: _Coded, posterior: Floats, pseudo: Floats) -> tuple[Floats, Floats]:
    """M step: the class prior and, per worker, a [true, answered] confusion matrix, both smoothed."""
    k = coded.label_count
    rank = _value_rank(posterior)
    prior = (posterior[np.argsort(rank)].sum(axis=0) + 1.0) / (len(posterior) + k)
    # Row (worker, answered) collects the posterior over true labels of every item so answered.
    answered = coded.worker * k + coded.label
    by_answer = _sum_rows_by(answered, posterior[coded.item], len(coded.worker_ids) * k, rank[coded.item])
    counts = by_answer.reshape(len(coded.worker_ids), k, k).transpose(0, 2, 1) + pseudo
    return prior, counts / counts.sum(axis=2, keepdims=True)


def _expect(coded: _Coded, prior: Floats, confusion: Floats) -> Floats:
    """E step: each item's posterior over true labels, in log space so that many answers cannot underflow."""
    k = coded.label_count
    # Row (worker, answered): the log chance of that answer under each true label.
    per_answer = np.log(confusion).transpose(0, 2, 1).reshape(-1, k)
    answered = coded.worker * k + coded.label
    summed = _sum_rows_by(coded.item, per_answer[answered], len(coded.item_ids), _value_rank(per_answer)[answered])
    log_posterior = np.log(prior) + summed
    log_posterior -= log_posterior.max(axis=1, keepdims=True)
    posterior = np.exp(log_posterior)
    return posterior / posterior.sum(axis=1, keepdims=True)


# Sums over items and workers are taken in an order of their values, never in the order the rows come in:
# that is the sorted order of the ids, which are random in the pipeline, and floating-point addition depends
# on its order, so the same answers under other ids gave other bits (and, near a threshold, other figures).
# Any order that depends on the values alone would do; a digest of each row's bits costs one sort, where
# sorting by the values themselves costs one per label and was several times slower than the EM itself.
_DIGEST = np.random.default_rng(20260105).integers(1, 2**63, size=64, dtype=np.uint64) | np.uint64(1)


def _value_rank(rows: Floats) -> Indices:
    """Each row's place in the order of its digest. Equal rows may take either place: they add up alike. Two
    different rows with one digest (odds about n^2 / 2^64) would keep their order, the only dependence left."""
    bits = np.ascontiguousarray(rows, dtype=np.float64).view(np.uint64)
    digest = (bits * _DIGEST[: bits.shape[1]]).sum(axis=1, dtype=np.uint64)
    digest ^= digest >> np.uint64(31)
    rank = np.empty(len(rows), dtype=np.intp)
    rank[np.argsort(digest, kind="stable")] = np.arange(len(rows))
    return rank


def _sum_rows_by(group: Indices, rows: Floats, groups: int, rank: Indices) -> Floats:
    """Sum of the rows in each group, one column at a time (bincount is several times faster than np.add.at),
    each group's rows added in the order of their ``rank``."""
    order = np.argsort(group * (int(rank.max()) + 1) + rank, kind="stable")
    grouped = group[order]
    return np.stack([np.bincount(grouped, weights=column, minlength=groups) for column in rows[order].T], axis=1)


def _first_best(scores: Floats) -> Indices:
    """Row-wise argmax that treats near-equal scores as tied and then takes the first column."""
    return np.argmax(scores >= scores.max(axis=1, keepdims=True) - _TIE, axis=1)


def _item_results(
    coded: _Coded, posterior: Floats, votes: npt.NDArray[np.int64], gold_label: Indices
) -> dict[str, ItemResult]:
    best = _first_best(posterior)
    return {
        item_id: ItemResult(
            item_id=item_id,
            label=coded.labels[best[i]],
            confidence=float(posterior[i, best[i]]),
            posterior=tuple(float(p) for p in posterior[i]),
            votes=tuple(int(v) for v in votes[i]),
            gold=bool(gold_label[i] >= 0),
        )
        for i, item_id in enumerate(coded.item_ids)
    }


def _worker_results(coded: _Coded, prior: Floats, confusion: Floats) -> dict[str, WorkerResult]:
    answered = np.bincount(coded.worker, minlength=len(coded.worker_ids))
    accuracy = np.einsum("k,wkk->w", prior, confusion)
    return {
        worker_id: WorkerResult(
            worker_id=worker_id,
            confusion=tuple(tuple(float(p) for p in row) for row in confusion[w]),
            answers=int(answered[w]),
            accuracy=float(accuracy[w]),
        )
        for w, worker_id in enumerate(coded.worker_ids)
    }

"""Simulated reviewers: how the people at the review sites answer a task. Simulation only (DESIGN invariant 7).

A simulated reviewer is shown a clip whose true label only the simulator knows, and answers through the
fields the review API asks for: a label and whether the camera's AI was right, or a flag that the clip is
private. Answers are drawn from the reviewer's profile: a confusion matrix (the chance of each answer given
the truth), a pace, and two habits. The figures are assumptions of the simulation, not measurements of any
real workforce; sites differ only in what an operator sets (the daily quota), not in their people.

Everything is deterministic: `build_reviewers` draws each reviewer from its own stream of the seed, and
`answer` draws from the Generator it is given: the demo's driver gives each (reviewer, recording) its own
stream, ``rng_for(seed, "answers", reviewer.id, camera_id, started_at)``, so that an answer does not depend on
the random task token, nor on which clips the reviewer happened to answer before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from clipwarden.consent.vocabulary import SITES
from clipwarden.domain import LABELS, Label
from clipwarden.sim.fleet import SimFleet
from clipwarden.sim.seeding import rng_for
from clipwarden.sim.truth import seen_in

Confusion = tuple[tuple[float, ...], ...]  # [true][answered], in LABELS order; rows sum to 1

# Pairs that people mix up more often than the rest, as a weight against 1 for any other wrong answer.
CONFUSABLE: dict[frozenset[str], float] = {
    frozenset({"resident", "visitor"}): 8.0,  # who lives there is not written on a person
    frozenset({"intruder", "visitor"}): 6.0,  # intent is rarely visible: a courier and a prowler both walk up
    frozenset({"intruder", "resident"}): 4.0,
    frozenset({"pet", "environment"}): 6.0,  # a cat at night against a moving shadow
    frozenset({"environment", "no_event"}): 6.0,  # a light change reads as "nothing happened"
    frozenset({"vehicle", "environment"}): 2.0,  # headlights sweeping a wall
}


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")


@dataclass(frozen=True)
class SiteDefaults:
    """How the reviewers of one site are drawn. Reviewers vary around these centres."""

    clips_per_shift: float = 150.0  # the reported daily figure
    shift_hours: float = 8.0
    shift_starts_utc: float = 9.0  # hour of the day, UTC, at which the site's shift begins
    pace_spread: float = 0.5  # lognormal sigma of one clip's seconds: some clips take far longer
    reviewer_pace_spread: float = 0.1  # lognormal sigma of a reviewer's own mean pace around the site's
    accuracy: float = 0.88  # centre of a careful reviewer's chance of the right label
    accuracy_spread: float = 0.04  # standard deviation between reviewers
    careless_share: float = 0.1  # share of reviewers who click through
    careless_accuracy: float = 0.45
    ai_check_rate: float = 0.9  # chance of answering "was the camera's AI right?"
    private_flag_rate: float = 0.1  # chance of flagging a private scene that reaches them

    def __post_init__(self) -> None:
        if not self.clips_per_shift > 0 or not 0 < self.shift_hours <= 24:
            raise ValueError("clips_per_shift must be > 0 and shift_hours in (0, 24]")
        if not 0.0 <= self.shift_starts_utc < 24.0:
            raise ValueError(f"shift_starts_utc must be an hour in [0, 24), got {self.shift_starts_utc!r}")
        for name in ("accuracy", "careless_share", "careless_accuracy", "ai_check_rate", "private_flag_rate"):
            _check_probability(name, getattr(self, name))

    @property
    def mean_seconds(self) -> float:
        return self.shift_hours * 3600.0 / self.clips_per_shift

    def shifts(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The site's shifts that overlap ``[start, end)``, each as (begins, ends)."""
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        first = midnight + timedelta(hours=self.shift_starts_utc) - timedelta(days=1)
        found = []
        while first < end:
            if first + timedelta(hours=self.shift_hours) > start:
                found.append((first, first + timedelta(hours=self.shift_hours)))
            first += timedelta(days=1)
        return found


# The contractor sites work to the reported quota; the controller's own staff to a lower one. Each site works
# 09:00 to 17:00 local time (winter): Hyderabad UTC+5:30, Bucharest UTC+2, Seattle UTC-8.
SITE_DEFAULTS: dict[str, SiteDefaults] = {
    "in-hyd": SiteDefaults(shift_starts_utc=3.5),
    "ro-buc": SiteDefaults(shift_starts_utc=7.0),
    "us-sea": SiteDefaults(clips_per_shift=120.0, shift_starts_utc=17.0),
}


@dataclass(frozen=True)
class ReviewerProfile:
    id: str
    site: str
    confusion: Confusion
    mean_seconds: float  # long-run mean time per clip
    pace_spread: float  # lognormal sigma of one clip's time
    ai_check_rate: float
    private_flag_rate: float

    def __post_init__(self) -> None:
        if self.site not in SITES:
            raise ValueError(f"reviewer {self.id}: unknown site {self.site!r}; expected one of {sorted(SITES)}")
        _check_confusion(self.confusion)
        if not self.mean_seconds > 0 or not self.pace_spread >= 0:
            raise ValueError(f"reviewer {self.id}: mean_seconds must be > 0 and pace_spread >= 0")
        for name in ("ai_check_rate", "private_flag_rate"):
            _check_probability(name, getattr(self, name))

    def accuracy(self, true_label: str) -> float:
        """The chance of answering `true_label` when it is the truth."""
        row = _label_index(true_label)
        return self.confusion[row][row]


@dataclass(frozen=True)
class Annotation:
    label: Label
    ai_correct: bool | None  # None: the reviewer left the question unanswered
    seconds: float


@dataclass(frozen=True)
class PrivateFlag:
    """The reviewer stopped the view and flagged the clip as private instead of labelling it."""

    seconds: float


def confusion_from_accuracy(accuracy: float, confusable: Mapping[frozenset[str], float] = CONFUSABLE) -> Confusion:
    """A confusion matrix that answers the truth with `accuracy` and spreads the rest over the other labels
    in proportion to their weight (1 unless `confusable` names the pair)."""
    _check_probability("accuracy", accuracy)
    rows = []
    for truth in LABELS:
        weights = np.array(
            [0.0 if other == truth else confusable.get(frozenset({truth, other}), 1.0) for other in LABELS]
        )
        row = (1.0 - accuracy) * weights / weights.sum()
        row[LABELS.index(truth)] = accuracy
        rows.append(tuple(float(p) for p in row))
    return tuple(rows)


def build_reviewers(
    seed: int, per_site: int, sites: Mapping[str, SiteDefaults] = SITE_DEFAULTS
) -> tuple[ReviewerProfile, ...]:
    """`per_site` reviewers at each site, site by site. Each is drawn from its own stream, so a larger team
    keeps the reviewers of a smaller one."""
    if per_site < 0:
        raise ValueError(f"per_site must be >= 0, got {per_site}")
    return tuple(
        _draw_reviewer(seed, site, index, defaults) for site, defaults in sites.items() for index in range(per_site)
    )


def answer(
    profile: ReviewerProfile, true_label: str, ai_label: str, rng: np.random.Generator, *, private: bool = False
) -> Annotation | PrivateFlag:
    """What `profile` answers for a clip whose truth is `true_label` and whose camera AI said `ai_label`.
    `private` is the simulator's truth that the scene is intimate; the reviewer may flag it."""
    truth = _label_index(true_label)
    _label_index(ai_label)  # refuses an unknown label
    seconds = _clip_seconds(profile, rng)
    if private and rng.random() < profile.private_flag_rate:
        # They stop as soon as they see what it is, part-way into the clip.
        return PrivateFlag(seconds=seconds * float(rng.uniform(0.1, 0.5)))
    label = LABELS[int(rng.choice(len(LABELS), p=profile.confusion[truth]))]
    ai_correct = label == ai_label if rng.random() < profile.ai_check_rate else None
    return Annotation(label=label, ai_correct=ai_correct, seconds=seconds)


class Eyes:
    """What a simulated reviewer sees when a clip plays: the scene's true label, and whether it is private.
    Only the simulated person reads the truth; the pipeline never learns it."""

    def __init__(self, fleet: SimFleet) -> None:
        self._events = fleet.truth()

    def watch(self, camera_id: str, started_at: datetime, duration_s: float) -> tuple[str, bool]:
        return seen_in(camera_id, started_at, started_at + timedelta(seconds=duration_s), self._events)


def _draw_reviewer(seed: int, site: str, index: int, defaults: SiteDefaults) -> ReviewerProfile:
    rng = rng_for(seed, "reviewer", site, index)
    careless = rng.random() < defaults.careless_share
    centre = defaults.careless_accuracy if careless else defaults.accuracy
    accuracy = float(np.clip(rng.normal(centre, defaults.accuracy_spread), 0.2, 0.99))
    return ReviewerProfile(
        id=f"rv-{seed}-{site}-{index:03d}",
        site=site,
        confusion=confusion_from_accuracy(accuracy),
        mean_seconds=defaults.mean_seconds * _unit_mean_lognormal(rng, defaults.reviewer_pace_spread),
        pace_spread=defaults.pace_spread,
        ai_check_rate=defaults.ai_check_rate,
        private_flag_rate=defaults.private_flag_rate,
    )


def _clip_seconds(profile: ReviewerProfile, rng: np.random.Generator) -> float:
    return profile.mean_seconds * _unit_mean_lognormal(rng, profile.pace_spread)


def _unit_mean_lognormal(rng: np.random.Generator, sigma: float) -> float:
    # mu = -sigma^2 / 2 gives a mean of 1, so spreading a pace does not slow it down on average.
    return float(rng.lognormal(-(sigma**2) / 2.0, sigma))


def _label_index(label: str) -> int:
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; expected one of {list(LABELS)}")
    return LABELS.index(label)


def _check_confusion(confusion: Confusion) -> None:
    matrix = np.asarray(confusion, dtype=np.float64)
    if matrix.shape != (len(LABELS), len(LABELS)):
        raise ValueError(f"confusion must be {len(LABELS)} x {len(LABELS)} (LABELS order), got shape {matrix.shape}")
    if (matrix < 0).any() or not np.allclose(matrix.sum(axis=1), 1.0):
        raise ValueError("confusion rows must be probabilities that sum to 1")

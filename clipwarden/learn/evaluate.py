"""Evaluation: compare what the pipeline decided with the simulator's ground truth.

This is one of the two places allowed to read ground truth (DESIGN invariant 7); it only scores, and
nothing it computes flows back into the pipeline. Truth never leaves this module as labels: callers get
scores (``Scorecard``), and the truth-labelled reference model, which exists for evaluation only and is
never stored or deployed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import select

from clipwarden import services
from clipwarden.domain import LABELS, Label
from clipwarden.errors import NotFound
from clipwarden.learn import models, training
from clipwarden.learn.features import FEATURE_NAMES
from clipwarden.review import queue
from clipwarden.services import consolidation, screening
from clipwarden.sim import SimConfig, build_fleet
from clipwarden.sim.truth import TruthEvent, seen_in
from clipwarden.store import Store
from clipwarden.store.schema import CLIP_STATUSES, clips, dataset_items
from clipwarden.store.schema import models as models_table


@dataclass(frozen=True)
class ClipFacts:
    """What evaluation needs of a stored clip."""

    clip_id: str
    camera_id: str
    started_at: datetime
    duration_s: float
    ai_label: str
    ai_alert: bool

    @property
    def ended_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.duration_s)


@dataclass(frozen=True)
class AiEvaluation:
    clips: int
    truth_by_label: dict[str, int]
    ai_by_label: dict[str, int]
    confusion: dict[str, dict[str, int]]  # truth label -> AI label -> clips
    accuracy: float
    alerts: int
    false_alarms: int  # alerts on clips with no intruder
    false_alarm_causes: dict[str, int]  # true label of the falsely alerted clips
    intruder_clips: int
    intruder_clips_alerted: int
    sensitive_clips: int
    events: int
    events_recorded: int  # truth events overlapped by at least one clip

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def truth_label(clip: ClipFacts, events: Sequence[TruthEvent]) -> tuple[str, bool]:
    """The clip's true label and whether it shows a private scene."""
    return seen_in(clip.camera_id, clip.started_at, clip.ended_at, events)


def evaluate_ai(clips: Iterable[ClipFacts], events: Sequence[TruthEvent]) -> AiEvaluation:
    clips = list(clips)
    by_camera: dict[str, list[TruthEvent]] = {}
    for event in events:
        by_camera.setdefault(event.camera_id, []).append(event)
    confusion: dict[str, Counter[str]] = {label: Counter() for label in LABELS}
    false_alarm_causes: Counter[str] = Counter()
    intruder_alerted = sensitive = 0
    recorded_events: set[int] = set()
    for clip in clips:
        camera_events = by_camera.get(clip.camera_id, [])
        label, private = truth_label(clip, camera_events)
        confusion[label][clip.ai_label] += 1
        sensitive += private
        if clip.ai_alert and label != "intruder":
            false_alarm_causes[label] += 1
        intruder_alerted += clip.ai_alert and label == "intruder"
        recorded_events.update(id(e) for e in camera_events if _overlaps(clip, e))
    truth_by_label = {label: sum(row.values()) for label, row in confusion.items()}
    correct = sum(confusion[label][label] for label in LABELS)
    return AiEvaluation(
        clips=len(clips),
        truth_by_label=truth_by_label,
        ai_by_label=dict(Counter(clip.ai_label for clip in clips)),
        confusion={label: dict(row) for label, row in confusion.items() if row},
        accuracy=correct / len(clips) if clips else 0.0,
        alerts=sum(clip.ai_alert for clip in clips),
        false_alarms=sum(false_alarm_causes.values()),
        false_alarm_causes=dict(false_alarm_causes),
        intruder_clips=truth_by_label["intruder"],
        intruder_clips_alerted=intruder_alerted,
        sensitive_clips=sensitive,
        events=len(events),
        events_recorded=len(recorded_events),
    )


def _overlaps(clip: ClipFacts, event: TruthEvent) -> bool:
    return event.start < clip.ended_at and clip.started_at < event.end


def evaluate_run(store: Store, config: SimConfig, clip_ids: Sequence[str]) -> AiEvaluation:
    """Score the camera AI on the clips one fleet run stored, against that fleet's ground truth."""
    wanted = set(clip_ids)
    clips = [_facts(row) for row in services.list_clips(store) if row["id"] in wanted]
    return evaluate_ai(clips, build_fleet(config).truth())


def _facts(row: dict[str, object]) -> ClipFacts:
    return ClipFacts(
        clip_id=str(row["id"]),
        camera_id=str(row["camera_id"]),
        started_at=datetime.fromisoformat(str(row["started_at"])),
        duration_s=float(str(row["duration_s"])),
        ai_label=str(row["ai_label"]),
        ai_alert=bool(row["ai_alert"]),
    )


@dataclass(frozen=True)
class ScreenEvaluation:
    """The sensitive-content screen on the clips it looked at (shared for review or from testers)."""

    screened: int
    private: int  # screened clips that show a private scene
    private_held: int
    harmless_held: int
    private_reached_queue: int  # private clips that ever had a review task: must be 0

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def evaluate_screen(store: Store, config: SimConfig, clip_ids: Sequence[str]) -> ScreenEvaluation:
    """Score the screen's holds, and check that no private scene of this run reached the review queue."""
    flagged = screening.verdicts(store)
    wanted = set(clip_ids)
    rows = services.list_clips(store, statuses=CLIP_STATUSES)  # deleted ones too: they may have been queued
    clips = {row["id"]: _facts(row) for row in rows if row["id"] in wanted}
    events = build_fleet(config).truth()
    private = {clip_id for clip_id, clip in clips.items() if truth_label(clip, events)[1]}
    queued = set(queue.summary(store)["clips_ever_queued"]) & wanted
    screened = {clip_id: held for clip_id, held in flagged.items() if clip_id in wanted}
    return ScreenEvaluation(
        screened=len(screened),
        private=sum(clip_id in private for clip_id in screened),
        private_held=sum(held and clip_id in private for clip_id, held in screened.items()),
        harmless_held=sum(held and clip_id not in private for clip_id, held in screened.items()),
        private_reached_queue=len(queued & private),
    )


@dataclass(frozen=True)
class ReviewEvaluation:
    """The reviewers' consolidated labels against the truth, beside the camera AI on the same clips."""

    clips: int
    consolidated_accuracy: float
    camera_ai_accuracy: float  # on the same clips

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def evaluate_review(store: Store, config: SimConfig, clip_ids: Sequence[str]) -> ReviewEvaluation:
    consolidated = consolidation.consolidated_labels(store)
    wanted = set(clip_ids) & consolidated.keys()
    rows = {row["id"]: row for row in services.list_clips(store, statuses=CLIP_STATUSES) if row["id"] in wanted}
    events = build_fleet(config).truth()
    truths = {clip_id: truth_label(_facts(row), events)[0] for clip_id, row in rows.items()}
    right = sum(consolidated[clip_id]["label"] == truth for clip_id, truth in truths.items())
    ai_right = sum(rows[clip_id]["ai_label"] == truth for clip_id, truth in truths.items())
    count = len(truths)
    return ReviewEvaluation(count, right / count if count else 0.0, ai_right / count if count else 0.0)


# Scores on a held-out fleet, with 95% intervals

Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson's score interval for a proportion (None for no trials): it stays inside [0, 1] and, unlike the
    normal approximation, does not collapse to a point at 0 or 1 successes, which small counts here often are."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Scorecard:
    """One camera AI on one held-out fleet. A clip has at most one alert, so false alarms per 100 clips is a
    proportion of clips (times 100) and takes a Wilson interval like accuracy and intruder recall."""

    model: str
    clips: int
    correct: int
    alerts: int
    false_alarms: int  # alerts on clips whose true label is not intruder
    intruder_clips: int
    intruder_clips_alerted: int
    confusion: dict[str, dict[str, int]]  # true label -> the AI's label -> clips, every label present

    @property
    def accuracy(self) -> float:
        return self.correct / self.clips if self.clips else 0.0

    @property
    def false_alarms_per_100(self) -> float:
        return 100 * self.false_alarms / self.clips if self.clips else 0.0

    @property
    def intruder_recall(self) -> float | None:
        return self.intruder_clips_alerted / self.intruder_clips if self.intruder_clips else None

    def as_dict(self) -> dict[str, Any]:
        """CONTRACT's ``{model, clips, accuracy, false_alarms_per_100, alerts, intruder_recall, confusion}``,
        each rate with its ``*_ci95`` [low, high], and the counts they come from."""
        per_100 = wilson(self.false_alarms, self.clips)
        return {
            "model": self.model,
            "clips": self.clips,
            "accuracy": _round(self.accuracy),
            "accuracy_ci95": _rounded(wilson(self.correct, self.clips)),
            "false_alarms_per_100": _round(self.false_alarms_per_100),
            "false_alarms_per_100_ci95": None if per_100 is None else [_round(100 * v) for v in per_100],
            "alerts": self.alerts,
            "false_alarms": self.false_alarms,
            "intruder_clips": self.intruder_clips,
            "intruder_clips_alerted": self.intruder_clips_alerted,
            "intruder_recall": None if self.intruder_recall is None else _round(self.intruder_recall),
            "intruder_recall_ci95": _rounded(wilson(self.intruder_clips_alerted, self.intruder_clips)),
            "confusion": self.confusion,
        }


Verdict = tuple[str, bool]  # (label, alert)


def score_held_out(
    config: SimConfig, fleet_clips: Sequence[ClipFacts], others: Mapping[str, Sequence[Verdict]]
) -> list[Scorecard]:
    """The rules (each clip's stored verdict, as capture made it) and every other camera AI in ``others``
    (name -> one verdict per clip, in the clips' order) against the truth of the fleet ``config`` simulates."""
    events = build_fleet(config).truth()
    truths = [truth_label(clip, events)[0] for clip in fleet_clips]
    rows = [("rules", [(clip.ai_label, clip.ai_alert) for clip in fleet_clips]), *others.items()]
    return [_scorecard(name, truths, verdicts) for name, verdicts in rows]


def _scorecard(name: str, truths: Sequence[str], verdicts: Sequence[Verdict]) -> Scorecard:
    if len(truths) != len(verdicts):
        raise ValueError(f"{name}: {len(verdicts)} verdicts for {len(truths)} clips")
    confusion: dict[str, dict[str, int]] = {label: dict.fromkeys(LABELS, 0) for label in LABELS}
    for truth, (label, _) in zip(truths, verdicts, strict=True):
        confusion[truth][label] += 1
    pairs = list(zip(truths, verdicts, strict=True))
    return Scorecard(
        model=name,
        clips=len(truths),
        correct=sum(truth == label for truth, (label, _) in pairs),
        alerts=sum(alert for _, (_, alert) in pairs),
        false_alarms=sum(alert and truth != "intruder" for truth, (_, alert) in pairs),
        intruder_clips=sum(truth == "intruder" for truth in truths),
        intruder_clips_alerted=sum(alert and truth == "intruder" for truth, (_, alert) in pairs),
        confusion=confusion,
    )


def _round(value: float) -> float:
    return round(value, 4)


def _rounded(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [_round(v) for v in interval]


# Reference models: evaluation only, never stored, never deployed


def reference_models(
    store: Store, model_id: str, training_config: SimConfig, at: datetime
) -> dict[str, models.ShardedModel]:
    """The model ``model_id`` trained again, with its shards and seed, on the same items (those of its
    snapshot the gate allows at ``at``, read as training reads them), once with the camera's own labels
    (the verdict capture stored for each clip: does human review add anything?) and once with the true
    labels of the fleet ``training_config`` simulated (the ceiling). Neither is stored or deployed."""
    with store.connect() as conn:
        model = conn.execute(select(models_table).where(models_table.c.id == model_id)).first()
    if model is None:
        raise NotFound(f"unknown model id: {model_id}")
    items, _ = training.read_items(store, model.snapshot_id, at)
    item_ids, keys, features = items.item_ids, items.keys, items.features
    slices = model.card.get("slices", models.DEFAULT_SLICES)
    with store.connect() as conn:
        rows = conn.execute(
            select(dataset_items.c.item_id, clips)
            .join(clips, clips.c.id == dataset_items.c.clip_id)
            .where(dataset_items.c.snapshot_id == model.snapshot_id)
        ).all()
    by_item = {row.item_id: row for row in rows}
    facts = [
        ClipFacts(row.id, row.camera_id, row.started_at, row.duration_s, row.ai_label, row.ai_alert)
        for row in (by_item[item_id] for item_id in item_ids)
    ]
    events = build_fleet(training_config).truth()
    own = [cast(Label, fact.ai_label) for fact in facts]
    truth = [cast(Label, truth_label(fact, events)[0]) for fact in facts]
    return {
        "own_labels": models.train(item_ids, keys, features, own, FEATURE_NAMES, model.shards, model.seed, slices),
        "truth": models.train(item_ids, keys, features, truth, FEATURE_NAMES, model.shards, model.seed, slices),
    }

"""Evaluation: compare what the pipeline decided with the simulator's ground truth.

This is one of the two places allowed to read ground truth (DESIGN invariant 7); it only scores, and
nothing it computes flows back into the pipeline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from clipwarden import services
from clipwarden.domain import LABELS
from clipwarden.review import queue
from clipwarden.services import consolidation, screening
from clipwarden.sim import SimConfig, build_fleet
from clipwarden.sim.truth import TruthEvent, seen_in
from clipwarden.store import Store
from clipwarden.store.schema import CLIP_STATUSES


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

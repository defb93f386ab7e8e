"""Simulated owners: when they press the feedback button, withdraw, delete, and join the tester program.
Simulation only (DESIGN invariant 7).

An owner sees their clips as the app shows them (time, the camera AI's label) and, having watched them,
knows what really happened; so a simulated owner may read the simulator's truth. Owners report mistakes
far more often than correct alerts; most reports also agree to human review; some withdraw later, often
after the clip was queued; a few delete clips; some households are employee testers whose every clip
goes to review. Owners never knowingly confirm a private scene after the screen's warning, and confirm
a harmless held clip only sometimes.

`plan_owner_actions` returns what the owners will do, in time order; a driver carries the actions out
through the same service functions a person's request reaches. Rates are assumptions of the
simulation, not measurements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from clipwarden.sim.fleet import SimFleet
from clipwarden.sim.seeding import rng_for
from clipwarden.sim.truth import TruthEvent, seen_in

ActionKind = Literal["enroll_tester", "share", "confirm_sensitive", "withdraw", "delete"]
HUMAN_REVIEW = "human_review_for_model_improvement"


@dataclass(frozen=True)
class OwnerBehaviour:
    """How often owners do what; every field is a probability."""

    share_if_ai_wrong: float = 0.4  # the feedback button on a clip the camera's AI got wrong
    share_if_ai_right: float = 0.03
    review_share: float = 0.7  # of shares, those that also agree to human review (else troubleshooting only)
    unredacted: float = 0.1  # of review shares, those that allow reviewers to see people unredacted
    withdraw: float = 0.2  # of review shares, withdrawn later
    delete: float = 0.05  # of clips, deleted by the owner
    tester: float = 0.25  # of households, enrolled in the tester program from the start
    confirm_harmless: float = 0.6  # of held clips with nothing private in them, confirmed after the warning

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"owner behaviour {field.name} must be a probability in [0, 1], got {value!r}")


@dataclass(frozen=True)
class SeenClip:
    """A clip as the owner's app lists it."""

    clip_id: str
    household_id: str
    camera_id: str
    started_at: datetime
    duration_s: float
    ai_label: str


@dataclass(frozen=True)
class OwnerAction:
    at: datetime
    kind: ActionKind
    household_id: str
    clip_id: str | None = None
    purposes: tuple[str, ...] = ()
    allow_unredacted: bool = False


def plan_owner_actions(behaviour: OwnerBehaviour, fleet: SimFleet, clips: Iterable[SeenClip]) -> list[OwnerAction]:
    """Every owner's actions over the fleet's run, in time order (ties in planning order)."""
    rng = rng_for(fleet.config.seed, "owners")
    truth = fleet.truth()  # what the owners saw when they watched their clips
    actions = [
        OwnerAction(fleet.config.start, "enroll_tester", household.id)
        for household in fleet.households
        if rng.random() < behaviour.tester
    ]
    # One stream for all clips, so they take their turns in recording order: clips of two cameras may start
    # at one instant, and their ids, which are random, must not decide who draws what.
    for clip in sorted(clips, key=lambda c: (c.started_at, c.camera_id, c.clip_id)):
        actions += _clip_actions(behaviour, rng, clip, truth)
    return sorted(actions, key=lambda action: action.at)


def _clip_actions(
    behaviour: OwnerBehaviour, rng: np.random.Generator, clip: SeenClip, truth: Sequence[TruthEvent]
) -> list[OwnerAction]:
    ended = clip.started_at + timedelta(seconds=clip.duration_s)
    label, private = seen_in(clip.camera_id, clip.started_at, ended, truth)
    deleted_at = ended + _delay(rng, median_min=120) if rng.random() < behaviour.delete else None
    share_chance = behaviour.share_if_ai_right if clip.ai_label == label else behaviour.share_if_ai_wrong
    planned: list[OwnerAction] = []
    if rng.random() < share_chance:
        planned += _share_and_after(behaviour, rng, clip, ended + _delay(rng, median_min=60), private)
    if deleted_at is not None:
        planned = [action for action in planned if action.at < deleted_at]
        planned.append(OwnerAction(deleted_at, "delete", clip.household_id, clip.clip_id))
    return planned


def _share_and_after(
    behaviour: OwnerBehaviour, rng: np.random.Generator, clip: SeenClip, at: datetime, private: bool
) -> list[OwnerAction]:
    """The share, then, for a review share, the owner's answer to a possible warning and a later withdrawal."""
    if rng.random() >= behaviour.review_share:
        return [OwnerAction(at, "share", clip.household_id, clip.clip_id, ("troubleshooting",))]
    share = OwnerAction(
        at,
        "share",
        clip.household_id,
        clip.clip_id,
        ("troubleshooting", HUMAN_REVIEW),
        allow_unredacted=bool(rng.random() < behaviour.unredacted),
    )
    planned = [share]
    # Decided now, carried out only if the screen holds the clip: nobody confirms a private scene.
    if not private and rng.random() < behaviour.confirm_harmless:
        confirm_at = at + _delay(rng, median_min=15)
        planned.append(OwnerAction(confirm_at, "confirm_sensitive", clip.household_id, clip.clip_id))
    if rng.random() < behaviour.withdraw:
        planned.append(OwnerAction(at + _delay(rng, median_min=240), "withdraw", clip.household_id, clip.clip_id))
    return planned


def _delay(rng: np.random.Generator, median_min: float) -> timedelta:
    """A human delay: lognormal around ``median_min`` minutes, at least a minute."""
    return timedelta(minutes=max(1.0, median_min * float(rng.lognormal(0.0, 0.8))))

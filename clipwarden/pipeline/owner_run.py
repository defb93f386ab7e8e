"""Drive the simulated owners through the real services.

Each household gets an owner account; every action the simulated owners planned (clipwarden.sim.owners)
is carried out, in time order, through the function a person's HTTP or command-line request reaches
(clipwarden.services.owner), as that account, so it passes the enforcement point and leaves the same
audit trail. The tester program's intake runs at each clip's end, as it would after an upload. A request
the services refuse (a withdrawal after the clip was deleted, say) is counted, not retried: a person's
app would have shown the button gone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from clipwarden.errors import Conflict
from clipwarden.policy.decision import Actor
from clipwarden.policy.gate import Denied
from clipwarden.review import queue
from clipwarden.services import intake, owner
from clipwarden.services.users import add_user
from clipwarden.sim import SimFleet
from clipwarden.sim.owners import OwnerAction, OwnerBehaviour, SeenClip, plan_owner_actions
from clipwarden.store import Store


@dataclass
class OwnerRun:
    """What the owners did, and what became of it."""

    done: Counter[str] = field(default_factory=Counter)  # action kind -> carried out
    refused: Counter[str] = field(default_factory=Counter)  # action kind -> refused by the services
    review_shares: int = 0  # shares that agreed to human review
    held_by_screen: int = 0  # ... that the sensitive-content screen held for the owner's confirmation
    queued_by_shares: int = 0  # review tasks the shares (and confirmations) created
    tester_households: int = 0
    tester_clips_queued: int = 0
    tester_clips_held: int = 0
    tasks_removed_by_withdrawal: int = 0
    tasks_removed_by_deletion: int = 0
    after_the_days: int = 0  # actions the owners would take after the simulated days end: not taken

    def as_dict(self) -> dict[str, Any]:
        return {
            "actions": dict(sorted(self.done.items())),
            "refused": dict(sorted(self.refused.items())),
            "review_shares": self.review_shares,
            "held_by_screen": self.held_by_screen,
            "queued_by_shares": self.queued_by_shares,
            "tester_households": self.tester_households,
            "tester_clips_queued": self.tester_clips_queued,
            "tester_clips_held": self.tester_clips_held,
            "tasks_removed_by_withdrawal": self.tasks_removed_by_withdrawal,
            "tasks_removed_by_deletion": self.tasks_removed_by_deletion,
            "after_the_days": self.after_the_days,
        }


@dataclass
class _State:
    run: OwnerRun
    consent_of: dict[str, str] = field(default_factory=dict)  # clip id -> its share's consent
    held: set[str] = field(default_factory=set)  # clips the screen held


class Owners:
    """The simulated owners of one fleet run, acting on the clips it stored: ``timeline`` holds their actions
    and the tester intakes in time order, ``act`` carries out one of them. The demo interleaves them with the
    reviewers' work (``pipeline.days``)."""

    def __init__(self, store: Store, fleet: SimFleet, clip_ids: list[str], behaviour: OwnerBehaviour) -> None:
        self._store = store
        self._actors = {h.id: _owner_account(store, h.id, fleet.config.start) for h in fleet.households}
        wanted = set(clip_ids)
        start = fleet.config.start
        seen = [c for actor in self._actors.values() for c in _seen_clips(store, actor, start) if c.clip_id in wanted]
        # In recording order, not the app's (which breaks ties by the random clip id): the tester intakes of
        # clips that end at one instant then queue in the same order in every run.
        seen.sort(key=lambda clip: (clip.started_at, clip.camera_id))
        # An action planned after the days end (a withdrawal hours after a late clip's share) lies in the
        # simulated future: the days stop there, as the log does.
        end = fleet.config.start + timedelta(hours=fleet.config.hours)
        planned = list(_timeline(plan_owner_actions(behaviour, fleet, seen), seen))
        self.timeline = [(at, action) for at, action in planned if at <= end]
        self._state = _State(OwnerRun(after_the_days=len(planned) - len(self.timeline)))

    @property
    def run(self) -> OwnerRun:
        return self._state.run

    def act(self, at: datetime, action: OwnerAction | str) -> None:
        """Carry out one entry of the timeline: a tester intake (a clip id) or an owner's action."""
        if isinstance(action, str):
            _intake(self._store, action, at, self.run)
            return
        if action.kind == "confirm_sensitive" and action.clip_id not in self._state.held:
            return  # no warning was shown, so there is nothing to confirm
        try:
            _carry_out(self._store, self._actors[action.household_id], action, self._state)
            self.run.done[action.kind] += 1
        except (Conflict, Denied):
            self.run.refused[action.kind] += 1

    def queued(self) -> int:
        """Review tasks the owners' shares, confirmations and the tester intakes have queued so far."""
        return self.run.queued_by_shares + self.run.tester_clips_queued


def _owner_account(store: Store, household_id: str, at: datetime) -> Actor:
    account = add_user(store, "owner", household_id, None, at)
    return Actor(account["user_id"], "owner", household_id=household_id)


def _seen_clips(store: Store, actor: Actor, at: datetime) -> list[SeenClip]:
    """The household's clips, as its owner's app lists them. The simulated owners plan their actions from
    the whole day's clips at once, so they ask once, at the day's start: a listing logged at its end would
    precede, in the log, the actions it led to."""
    return [
        SeenClip(
            clip["id"],
            clip["household_id"],
            clip["camera_id"],
            datetime.fromisoformat(clip["started_at"]),
            clip["duration_s"],
            clip["ai_label"],
        )
        for clip in owner.list_clips(store, actor, at)
    ]


def _timeline(actions: list[OwnerAction], seen: list[SeenClip]) -> Iterator[tuple[datetime, OwnerAction | str]]:
    """The owners' actions and, at each clip's end, the tester intake (a clip id), in time order."""
    intake_at = [(c.started_at + timedelta(seconds=c.duration_s), c.clip_id) for c in seen]
    merged: list[tuple[datetime, int, OwnerAction | str]] = [(a.at, 1, a) for a in actions]
    merged += [(at, 0, clip_id) for at, clip_id in intake_at]
    for at, _, item in sorted(merged, key=lambda entry: (entry[0], entry[1])):
        yield at, item


def _intake(store: Store, clip_id: str, at: datetime, run: OwnerRun) -> None:
    outcome = intake.queue_if_enrolled(store, clip_id, at)
    run.tester_clips_queued += outcome == "queued"
    run.tester_clips_held += outcome == "held"


def _carry_out(store: Store, actor: Actor, action: OwnerAction, state: _State) -> None:
    clip_id, at, run = action.clip_id or "", action.at, state.run
    if action.kind == "enroll_tester":
        owner.enroll_tester(store, actor, at)
        run.tester_households += 1
    elif action.kind == "share":
        _share(store, actor, action, state)
    elif action.kind == "confirm_sensitive":
        run.queued_by_shares += owner.confirm_sensitive(store, actor, clip_id, at)["queued"]
    elif action.kind == "withdraw":
        if clip_id not in state.consent_of:
            raise Conflict("the share was never made")
        queued = _queued(store, clip_id)
        owner.withdraw_consent(store, actor, state.consent_of[clip_id], at)
        run.tasks_removed_by_withdrawal += queued - _queued(store, clip_id)
    else:
        queued = _queued(store, clip_id)
        owner.delete_clip(store, actor, clip_id, at)
        run.tasks_removed_by_deletion += queued


def _share(store: Store, actor: Actor, action: OwnerAction, state: _State) -> None:
    clip_id = action.clip_id or ""
    queued = _queued(store, clip_id)
    answer = owner.share_clip(store, actor, clip_id, action.purposes, None, action.allow_unredacted, None, action.at)
    state.consent_of[clip_id] = answer["consent_id"]
    if "screen" in answer:
        state.run.review_shares += 1
        state.run.queued_by_shares += _queued(store, clip_id) - queued
    if answer.get("held"):
        state.held.add(clip_id)
        state.run.held_by_screen += 1


def _queued(store: Store, clip_id: str) -> int:
    with store.connect() as conn:
        return len(queue.queued_tasks(conn, clip_id))

"""Simulated owners' plans: deterministic per seed, consistent in time, and true to their rates."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clipwarden.sim import SimConfig, build_fleet
from clipwarden.sim.owners import HUMAN_REVIEW, OwnerAction, OwnerBehaviour, SeenClip, plan_owner_actions
from clipwarden.sim.truth import seen_in

FLEET = build_fleet(SimConfig(seed=3, households=6, hours=48))
TRUTH = FLEET.truth()


def _clips(ai_label: str | None = None) -> list[SeenClip]:
    """One 25-s clip at the start of every activity window; the AI's label is the truth unless given."""
    home = {camera.id: camera.household_id for camera in FLEET.cameras}
    clips = []
    for window in FLEET.windows():
        start = window.start + timedelta(seconds=7)
        truth, _ = seen_in(window.camera_id, start, start + timedelta(seconds=25), TRUTH)
        clips.append(SeenClip(window.id, home[window.camera_id], window.camera_id, start, 25.0, ai_label or truth))
    return clips


def _by_clip(actions: list[OwnerAction]) -> dict[str, list[OwnerAction]]:
    found: dict[str, list[OwnerAction]] = {}
    for action in actions:
        if action.clip_id is not None:
            found.setdefault(action.clip_id, []).append(action)
    return found


def test_the_same_seed_plans_the_same_actions() -> None:
    behaviour = OwnerBehaviour(share_if_ai_right=0.3, delete=0.2)
    assert plan_owner_actions(behaviour, FLEET, _clips()) == plan_owner_actions(behaviour, FLEET, _clips())
    other = build_fleet(SimConfig(seed=4, households=6, hours=48))
    assert plan_owner_actions(behaviour, other, _clips()) != plan_owner_actions(behaviour, FLEET, _clips())


def test_owners_report_mistakes_not_correct_labels() -> None:
    behaviour = OwnerBehaviour(share_if_ai_wrong=1.0, share_if_ai_right=0.0, delete=0.0, tester=0.0)
    right = plan_owner_actions(behaviour, FLEET, _clips())
    wrong = plan_owner_actions(behaviour, FLEET, _clips(ai_label="vehicle"))
    assert [a for a in right if a.kind == "share"] == []
    shared = {a.clip_id for a in wrong if a.kind == "share"}
    not_vehicles = {c.clip_id for c in _clips() if c.ai_label != "vehicle"}
    assert shared == not_vehicles and shared


def test_actions_come_in_time_order_and_nothing_follows_a_deletion() -> None:
    behaviour = OwnerBehaviour(share_if_ai_right=0.8, withdraw=0.8, delete=0.5, confirm_harmless=1.0)
    actions = plan_owner_actions(behaviour, FLEET, _clips())
    assert [a.at for a in actions] == sorted(a.at for a in actions)
    for clip_actions in _by_clip(actions).values():
        kinds = [a.kind for a in clip_actions]
        assert "delete" not in kinds[:-1]
        if "withdraw" in kinds or "confirm_sensitive" in kinds:
            assert kinds[0] == "share" and HUMAN_REVIEW in clip_actions[0].purposes


def test_nobody_confirms_a_private_scene_after_the_warning() -> None:
    behaviour = OwnerBehaviour(share_if_ai_wrong=1.0, review_share=1.0, confirm_harmless=1.0, delete=0.0)
    clips = _clips(ai_label="vehicle")
    private = {
        c.clip_id for c in clips if seen_in(c.camera_id, c.started_at, c.started_at + timedelta(seconds=25), TRUTH)[1]
    }
    assert private, "the fleet should hold private scenes"
    confirmed = {a.clip_id for a in plan_owner_actions(behaviour, FLEET, clips) if a.kind == "confirm_sensitive"}
    assert confirmed and confirmed.isdisjoint(private)


def test_rates_hold_in_the_long_run() -> None:
    behaviour = OwnerBehaviour(share_if_ai_wrong=1.0, review_share=0.5, withdraw=0.5, delete=0.1, tester=0.5)
    clips = _clips(ai_label="vehicle")  # every clip is a mistake, so every clip is shared
    actions = plan_owner_actions(behaviour, FLEET, clips)
    shares = [a for a in actions if a.kind == "share"]
    review = [a for a in shares if HUMAN_REVIEW in a.purposes]
    withdrawn = [a for a in actions if a.kind == "withdraw"]
    assert len(review) / len(shares) == pytest.approx(0.5, abs=0.1)
    assert len(withdrawn) / len(review) == pytest.approx(0.5, abs=0.15)
    assert all(a.at == FLEET.config.start for a in actions if a.kind == "enroll_tester")


def test_rates_outside_zero_to_one_are_refused() -> None:
    with pytest.raises(ValueError, match="withdraw must be a probability"):
        OwnerBehaviour(withdraw=1.5)

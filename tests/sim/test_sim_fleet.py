"""The simulated fleet's schedule: reproducible, consistent with itself, and with the mix it promises."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import pytest

from clipwarden.domain import JURISDICTIONS, LABELS, PLACEMENTS, ModeChange
from clipwarden.errors import ClipwardenError, NotFound
from clipwarden.sim import ActivityWindow, SimConfig, SimFleet, build_fleet
from clipwarden.sim.events import KINDS, LEAD_S, MAX_WINDOW_S, TAIL_S
from clipwarden.sim.fleet import _systematic
from clipwarden.sim.render.elements import ELEMENTS
from clipwarden.sim.truth import TruthEvent


@pytest.fixture(scope="module")
def fleet() -> SimFleet:
    return build_fleet(SimConfig())


def _end(window: ActivityWindow, fps: int) -> datetime:
    return window.start + timedelta(seconds=window.n_frames / fps)


def _mode_at(changes: list[ModeChange], household_id: str, at: datetime) -> str:
    mode = None
    for change in changes:
        if change.household_id == household_id and change.at <= at:
            mode = change.mode
    assert mode is not None, "mode_changes must start with the mode at config.start"
    return mode


def test_same_config_gives_the_same_fleet(fleet: SimFleet) -> None:
    again = build_fleet(SimConfig())
    assert again.households == fleet.households
    assert again.cameras == fleet.cameras
    assert again.windows() == fleet.windows()
    assert again.truth() == fleet.truth()
    assert again.mode_changes() == fleet.mode_changes()


def test_another_seed_gives_another_fleet(fleet: SimFleet) -> None:
    other = build_fleet(SimConfig(seed=8))
    assert [h.id for h in other.households] != [h.id for h in fleet.households]
    assert [(w.start, w.n_frames) for w in other.windows()] != [(w.start, w.n_frames) for w in fleet.windows()]


def test_households_and_cameras_are_filled_in(fleet: SimFleet) -> None:
    config = fleet.config
    assert [h.id for h in fleet.households] == [f"hh-7-{i:04d}" for i in range(4)]
    assert {h.jurisdiction for h in fleet.households} == set(JURISDICTIONS)
    assert all(h.owner_name and h.address and h.plan in ("free", "plus", "pro") for h in fleet.households)
    assert len(fleet.cameras) == 8
    assert {c.placement for c in fleet.cameras} == set(PLACEMENTS)
    for camera in fleet.cameras:
        assert camera.id.startswith(f"cam-7-{camera.household_id[-4:]}-")
        assert (camera.width, camera.height, camera.fps) == (config.width, config.height, config.fps)
        for zone in (*camera.motion_masks, *camera.privacy_zones):
            assert len(zone) >= 3 and all(0.0 <= v <= 1.0 for point in zone for v in point)
    mixes = [tuple(c.placement for c in fleet.cameras if c.household_id == h.id) for h in fleet.households]
    assert len(set(mixes)) == len(mixes), "each household has its own mix of placements"
    assert any(c.motion_masks for c in fleet.cameras) and any(c.privacy_zones for c in fleet.cameras)


def test_a_household_does_not_depend_on_the_size_of_the_fleet(fleet: SimFleet) -> None:
    bigger = build_fleet(SimConfig(households=9))
    assert bigger.households[:4] == fleet.households
    assert bigger.cameras[:8] == fleet.cameras


def test_mode_changes_start_at_config_start_and_alternate(fleet: SimFleet) -> None:
    changes = fleet.mode_changes()
    assert changes == sorted(changes, key=lambda m: m.at)
    by_household = defaultdict(list)
    for change in changes:
        by_household[change.household_id].append(change)
    assert set(by_household) == {h.id for h in fleet.households}
    for household_changes in by_household.values():
        assert household_changes[0].at == fleet.config.start
        modes = [m.mode for m in household_changes]
        assert all(a != b for a, b in itertools.pairwise(modes))
    assert any(m.mode == "away" for m in changes)


def test_intruders_come_only_while_the_household_is_away(fleet: SimFleet) -> None:
    changes = fleet.mode_changes()
    intruders = [e for e in fleet.truth() if e.label == "intruder"]
    assert intruders
    for event in intruders:
        assert _mode_at(changes, event.household_id, event.start) == "away"
        assert not [m for m in changes if m.household_id == event.household_id and event.start < m.at <= event.end], (
            f"{event.id}: the household came home during the break-in"
        )


def test_every_event_lies_in_a_window_of_its_camera_with_lead_in_and_tail(fleet: SimFleet) -> None:
    fps = fleet.config.fps
    windows = defaultdict(list)
    for window in fleet.windows():
        windows[window.camera_id].append(window)
    covered: dict[str, list[TruthEvent]] = defaultdict(list)
    for event in fleet.truth():
        home = [w for w in windows[event.camera_id] if w.start <= event.start and event.end <= _end(w, fps)]
        assert len(home) == 1, f"{event.id} is in {len(home)} windows"
        covered[home[0].id].append(event)
    for camera_windows in windows.values():
        for window in camera_windows:
            events = covered[window.id]
            assert events, f"{window.id} has no event: idle time is never rendered"
            lead = min(e.start for e in events) - window.start
            tail = _end(window, fps) - max(e.end for e in events)
            assert lead >= timedelta(seconds=LEAD_S)
            assert tail >= timedelta(seconds=TAIL_S)
            assert window.n_frames <= (MAX_WINDOW_S + 2) * fps


def test_windows_are_sorted_unique_and_do_not_overlap_per_camera(fleet: SimFleet) -> None:
    windows = fleet.windows()
    assert windows == sorted(windows, key=lambda w: (w.start, w.camera_id))
    assert len({w.id for w in windows}) == len(windows)
    for camera in fleet.cameras:
        own = fleet.windows(camera.id)
        assert own == [w for w in windows if w.camera_id == camera.id]
        for earlier, later in itertools.pairwise(own):
            assert _end(earlier, fleet.config.fps) <= later.start
        assert all(w.id.startswith(f"{camera.id}/w") for w in own)


def test_unknown_camera_is_not_found(fleet: SimFleet) -> None:
    with pytest.raises(NotFound):
        fleet.windows("cam-nope")


def test_default_run_has_the_promised_mix(fleet: SimFleet) -> None:
    truth = fleet.truth()
    labels = Counter(e.label for e in truth)
    assert set(labels) == set(LABELS) - {"no_event"}
    assert labels["pet"] + labels["environment"] > labels["intruder"] * 5
    assert 1 <= labels["intruder"] <= 8
    private = [e for e in truth if e.sensitive]
    assert private and all(e.kind == "private_scene" and e.label == "resident" for e in private)
    bedrooms = {c.id for c in fleet.cameras if c.placement == "bedroom"}
    assert all(e.camera_id in bedrooms for e in private)
    assert 60 <= len(fleet.windows()) <= 120
    for event in truth:
        assert KINDS[event.kind].label == event.label
        assert 3.0 <= (event.end - event.start).total_seconds() <= 60.0
        assert fleet.config.start <= event.start < event.end <= fleet.config.start + timedelta(hours=24)


def test_events_happen_where_they_can(fleet: SimFleet) -> None:
    placement = {c.id: c.placement for c in fleet.cameras}
    outdoor = {"entrance", "backyard"}
    for event in fleet.truth():
        where = placement[event.camera_id]
        if event.kind in ("car", "rain", "insect", "tree"):
            assert where in outdoor, event
        if event.kind in ("lights", "sun_patch", "curtain"):
            assert where not in outdoor, event
        if event.kind == "visitor":
            assert where == "entrance", event


def test_every_kind_has_a_renderer() -> None:
    assert set(KINDS) <= set(ELEMENTS)


def test_rare_events_are_spread_systematically() -> None:
    for expected, buckets, u in [(1.2, 4, 0.0), (1.2, 4, 0.99), (0.3, 1, 0.5), (7.5, 10, 0.3)]:
        counts = _systematic(expected, buckets, u)
        assert len(counts) == buckets
        assert sum(counts) in (int(expected), int(expected) + 1)
        assert max(counts) <= int(expected / buckets) + 1
    assert _systematic(1.0, 0, 0.5) == []


@pytest.mark.parametrize(
    "change",
    [
        {"households": 0},
        {"households": 10_001},
        {"cameras_per_household": 6},
        {"hours": 0},
        {"hours": 24 * 31 + 1},
        {"hours": float("nan")},
        {"width": 100},
        {"width": 641},
        {"height": 5000},
        {"fps": 0},
        {"fps": 61},
        {"seed": -1},
        {"pet_rate": -0.1},
        {"rain_chance": 1.5},
        {"households": True},
    ],
)
def test_config_rejects_absurd_values(change: dict[str, object]) -> None:
    with pytest.raises(ClipwardenError, match="sim config"):
        SimConfig(**change)  # type: ignore[arg-type]


def test_config_accepts_the_edges() -> None:
    config = SimConfig(households=1, cameras_per_household=5, hours=0.5, width=160, height=3840, fps=60)
    assert dataclasses.replace(config, seed=3).seed == 3
    fleet = build_fleet(config)
    assert len(fleet.cameras) == 5
    assert all(w.n_frames > 0 for w in fleet.windows())

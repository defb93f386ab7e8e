"""Drive the pipeline with the simulated fleet: register devices, capture clips, label and store them.

The simulator plays the part of the world and the camera sensor; everything after the sensor (motion
detection, privacy zones, encoding, the camera AI, the clip store) is the real pipeline. The camera AI is
the deployed model when one is (``models deploy``), else the rules. Windows are
rendered and captured in worker processes; the parent alone writes to the store, in window order, so a
seed always ingests the same clips in the same order.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import cv2

from clipwarden import services
from clipwarden.learn.deployed import fleet_ai
from clipwarden.media.camera_ai import CameraAi
from clipwarden.media.capture import CapturedClip, capture_window
from clipwarden.sim import ActivityWindow, SimConfig, SimFleet, build_fleet
from clipwarden.store import Store

# One fleet per worker process, built once from the config (cheap and deterministic).
_worker_fleet: SimFleet | None = None


@dataclass
class FleetRun:
    """What one run of the fleet produced."""

    households: int
    cameras: int
    windows: int
    frames: int = 0
    clip_ids: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0  # all processes: parent and workers


Progress = Callable[[str, int, int], None]  # (stage, done, total)


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def run_fleet(
    store: Store, config: SimConfig, workers: int, progress: Progress | None = None, ai: CameraAi | None = None
) -> FleetRun:
    """Run the simulated fleet for `config` and ingest every clip its cameras record, labelled by ``ai``
    (default: the deployed model, else the rules)."""
    started, cpu_started = time.perf_counter(), cpu_seconds()
    ai = ai or fleet_ai(store)  # first: an altered model stops the run before anything is stored
    fleet = build_fleet(config)
    _register(store, fleet)
    windows = fleet.windows()
    run = FleetRun(households=len(fleet.households), cameras=len(fleet.cameras), windows=len(windows))
    cameras = {camera.id: camera for camera in fleet.cameras}
    for done, (window, captured) in enumerate(_capture_all(config, windows, workers), start=1):
        run.frames += window.n_frames
        for clip in captured:
            camera = cameras[clip.clip.camera_id]
            away = services.mode_at(store, camera.household_id, clip.clip.started_at) == "away"
            verdict = ai.classify(clip, camera, away=away)
            run.clip_ids.append(services.ingest_clip(store, clip.clip, verdict, clip.track))
        if progress:
            progress("capture", done, len(windows))
    run.wall_s = time.perf_counter() - started
    run.cpu_s = cpu_seconds() - cpu_started
    return run


def _register(store: Store, fleet: SimFleet) -> None:
    for household in fleet.households:
        services.register_household(store, household)
    for camera in fleet.cameras:
        services.register_camera(store, camera)
    services.record_mode_changes(store, fleet.mode_changes())


def _capture_all(
    config: SimConfig, windows: list[ActivityWindow], workers: int
) -> Iterator[tuple[ActivityWindow, list[CapturedClip]]]:
    if workers <= 1:
        _init_worker(config)
        yield from zip(windows, map(_capture_one, windows), strict=True)
        return
    # spawn, not fork: the parent runs threads (progress display, database pool).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(config,)) as pool:
        yield from zip(windows, pool.map(_capture_one, windows), strict=True)


def _init_worker(config: SimConfig) -> None:
    global _worker_fleet
    # The pool already keeps every core busy; OpenCV's own threads would only contend with it.
    cv2.setNumThreads(1)
    _worker_fleet = build_fleet(config)


def _capture_one(window: ActivityWindow) -> list[CapturedClip]:
    assert _worker_fleet is not None, "worker not initialised"
    camera = next(c for c in _worker_fleet.cameras if c.id == window.camera_id)
    return list(capture_window(camera, window.start, _worker_fleet.render(window)))


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker pool)."""
    own = time.process_time()
    children = os.times()
    return own + children.children_user + children.children_system

"""Benchmark of the camera-side stage against baselines measured in the same run, on the same frames.

    .venv/bin/python benchmarks/bench_capture.py [--seed S] [--windows N] [--households H] [--hours H]

(a) Motion detection: MotionDetector against OpenCV's BackgroundSubtractorMOG2 on the full-resolution
    frames (default parameters, no shadows; its foreground thresholded, opened, masked like ours and
    reduced to contours of at least our minimum area scaled to full resolution). Throughput, and recall of
    the ground-truth events with a person, pet or vehicle: an event is detected when the detector reports
    motion in at least 2 frames of its span. Goal: >= 5x MOG2's throughput, recall >= 95% and >= MOG2's.
(b) The cost of producing clips (render + capture_window: black-out, detect, encode) against a bare
    encode_mp4 of the frames that ended up in clips. Goal: <= 1.5x.
(c) Clips per CPU-second at the fleet's resolution and frame rate.

This is evaluation code: it reads the simulator's ground truth, which clipwarden.media never does. It
prints ratios and whether each goal was met; it asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import cv2
import numpy as np

from clipwarden.domain import Camera
from clipwarden.media.capture import CapturedClip, capture_window
from clipwarden.media.codec import encode_mp4
from clipwarden.media.motion import MotionConfig, MotionDetector
from clipwarden.media.zones import ignore_mask
from clipwarden.sim import ActivityWindow, SimConfig, build_fleet
from clipwarden.sim.truth import TruthEvent

DETECTED_FRAMES = 2  # frames with motion inside an event's span for it to count as detected
RECALL_LABELS = {"intruder", "resident", "visitor", "pet", "vehicle"}


@dataclass
class Timer:
    """Wall and CPU seconds spent in one kind of work."""

    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu


@dataclass
class Tally:
    frames: int = 0
    render: Timer = field(default_factory=Timer)
    ours: Timer = field(default_factory=Timer)
    mog2: Timer = field(default_factory=Timer)
    capture: Timer = field(default_factory=Timer)
    bare_encode: Timer = field(default_factory=Timer)
    clips: int = 0
    clip_frames: int = 0
    # Per camera: (window start, per-frame motion flags) for each detector.
    motion: dict[str, list[tuple[datetime, np.ndarray, np.ndarray]]] = field(default_factory=dict)


class Mog2Motion:
    """The baseline: MOG2 foreground -> threshold -> open -> mask -> contours of a minimum area."""

    def __init__(self, camera: Camera, ignore: np.ndarray | None, config: MotionConfig) -> None:
        self._subtractor = cv2.createBackgroundSubtractorMOG2(detectShadows=False)
        self._keep = None if ignore is None else cv2.bitwise_not(ignore)
        self._kernel = np.ones((3, 3), np.uint8)
        self._min_area = config.contour_area * (camera.height / config.frame_height) ** 2

    def moving(self, frame: np.ndarray) -> bool:
        foreground = self._subtractor.apply(frame)
        _, foreground = cv2.threshold(foreground, 127, 255, cv2.THRESH_BINARY)
        foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, self._kernel)
        if self._keep is not None:
            foreground = cv2.bitwise_and(foreground, self._keep)
        contours, _ = cv2.findContours(foreground, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        return any(cv2.contourArea(contour) >= self._min_area for contour in contours)


def measure_window(camera: Camera, window: ActivityWindow, frames: list[np.ndarray], tally: Tally) -> None:
    config = MotionConfig()
    ignore = ignore_mask(camera)
    detector = MotionDetector(camera.width, camera.height, config, ignore)
    mog2 = Mog2Motion(camera, ignore, config)
    with tally.ours:
        ours = np.array([bool(detector.detect(frame)) for frame in frames])
    with tally.mog2:
        theirs = np.array([mog2.moving(frame) for frame in frames])
    tally.motion.setdefault(camera.id, []).append((window.start, ours, theirs))

    # capture_window blacks the frames out in place; the bare encode below then gets the same pixels.
    with tally.capture:
        captured = list(capture_window(camera, window.start, iter(frames)))
    with tally.bare_encode:
        for clip in captured:
            first, count = clip_span(clip, window)
            encode_mp4(frames[first : first + count], camera.width, camera.height, camera.fps)
    tally.clips += len(captured)
    tally.clip_frames += sum(clip_span(clip, window)[1] for clip in captured)


def clip_span(captured: CapturedClip, window: ActivityWindow) -> tuple[int, int]:
    clip = captured.clip
    first = round((clip.started_at - window.start).total_seconds() * clip.fps)
    return first, round(clip.duration_s * clip.fps)


def detection_rates(tally: Tally, truth: list[TruthEvent], fps: int, labels: set[str]) -> tuple[int, float, float]:
    """(events seen, share detected by ours, share detected by MOG2) for truth events with these labels."""
    seen = ours_hits = mog2_hits = 0
    for event in (e for e in truth if e.label in labels):
        ours = theirs = 0
        covered = False
        for start, flags_ours, flags_mog2 in tally.motion.get(event.camera_id, []):
            span = event_frames(start, len(flags_ours), fps, event)
            covered = covered or len(span) > 0
            ours += int(flags_ours[span.start : span.stop].sum())
            theirs += int(flags_mog2[span.start : span.stop].sum())
        if covered:  # else the event is in a window this run did not render
            seen += 1
            ours_hits += ours >= DETECTED_FRAMES
            mog2_hits += theirs >= DETECTED_FRAMES
    return seen, ours_hits / max(seen, 1), mog2_hits / max(seen, 1)


def event_frames(start: datetime, n: int, fps: int, event: TruthEvent) -> range:
    """The frames of a window of ``n`` frames from ``start`` that fall inside ``event``."""

    def index(at: datetime) -> int:
        return min(n, max(0, math.ceil((at - start) / timedelta(seconds=1) * fps)))

    return range(index(event.start), index(event.end))


def pick(windows: list[ActivityWindow], count: int) -> list[ActivityWindow]:
    """``count`` windows spread evenly over the day, so night and day scenes both appear."""
    if count >= len(windows):
        return windows
    return [windows[round(i * (len(windows) - 1) / max(count - 1, 1))] for i in range(count)]


def goal(met: bool) -> str:
    return "met" if met else "missed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--windows", type=int, default=12, help="activity windows to render, spread over the day")
    parser.add_argument("--households", type=int, default=4)
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()

    config = SimConfig(seed=args.seed, households=args.households, hours=args.hours)
    fleet = build_fleet(config)
    cameras = {camera.id: camera for camera in fleet.cameras}
    all_windows = fleet.windows()
    windows = pick(all_windows, args.windows)
    tally = Tally()
    print(
        f"fleet: seed {args.seed}, {args.households} households, {args.hours:g} h, "
        f"{config.width}x{config.height} at {config.fps} fps; {len(windows)} of {len(all_windows)} windows; "
        f"OpenCV threads {cv2.getNumThreads()}"
    )
    for window in windows:
        with tally.render:
            frames = list(fleet.render(window))
        tally.frames += len(frames)
        measure_window(cameras[window.camera_id], window, frames, tally)
    report(tally, fleet.truth(), config.fps)


def report(tally: Tally, truth: list[TruthEvent], fps: int) -> None:
    n = tally.frames
    speedup, cpu_speedup = tally.mog2.wall / tally.ours.wall, tally.mog2.cpu / tally.ours.cpu
    seen, ours_recall, mog2_recall = detection_rates(tally, truth, fps, RECALL_LABELS)
    env_seen, ours_env, mog2_env = detection_rates(tally, truth, fps, {"environment"})
    print(f"\n(a) motion detection on {n} frames")
    for name, timer in (("MotionDetector", tally.ours), ("MOG2 baseline", tally.mog2)):
        print(f"    {name:<15} {n / timer.wall:6.0f} frames/s   {n / timer.cpu:6.0f} frames per CPU-second")
    print(f"    throughput ratio {speedup:.1f}x ({cpu_speedup:.1f}x per CPU-second)")
    print(f"    goal: >= 5x MOG2's throughput: {goal(speedup >= 5)}")
    if seen:
        print(f"    recall on {seen} person/pet/vehicle events: ours {ours_recall:.1%}, MOG2 {mog2_recall:.1%}")
        recall_met = ours_recall >= 0.95 and ours_recall >= mog2_recall
        print(f"    goal: recall >= 95% and >= MOG2's: {goal(recall_met)}")
    else:
        print("    no person/pet/vehicle events in these windows: ask for more --windows")
    if env_seen:
        print(f"    motion on {env_seen} environment events (information): ", end="")
        print(f"ours {ours_env:.0%}, MOG2 {mog2_env:.0%}")

    ratio = (tally.render.wall + tally.capture.wall) / tally.bare_encode.wall
    print(f"\n(b) producing {tally.clips} clips ({tally.clip_frames} frames)")
    print(f"    render {tally.render.wall:.1f} s + capture_window {tally.capture.wall:.1f} s")
    print(f"    bare encode_mp4 of the clip frames {tally.bare_encode.wall:.1f} s")
    print(f"    cost ratio {ratio:.2f}x   goal: <= 1.5x: {goal(ratio <= 1.5)}")

    cpu = tally.render.cpu + tally.capture.cpu
    print(f"\n(c) {tally.clips / cpu:.2f} clips per CPU-second (render + capture, {cpu:.1f} CPU-s)")


if __name__ == "__main__":
    main()

"""Benchmark of the sensitive-content screen on clips the pipeline records from the simulated fleet.

    .venv/bin/python benchmarks/bench_screen.py [--seed S] [--clips N] [--private P] [--households H]

A fleet with many private scenes (PRIVATE_SCENE_RATE per household-day instead of the default 0.3) is
planned; the activity windows holding a private scene are rendered and captured into clips exactly as
clipwarden.pipeline.fleet_run does (capture_window over fleet.render), until at least P private-scene clips
are in hand, then other windows, taken in turn from each true label so that every label is represented,
until at least N harmless clips are. Every clip is screened from its MP4 bytes and its camera's placement.

A clip is private when at least one of its frames falls inside a ground-truth event with sensitive=True;
the rest are harmless, labelled by the event they overlap most ("no_event" if none). Printed: recall on
private clips (goal >= 99%), the share of harmless clips held (false holds) overall, by label and by
placement, and the time to screen a clip against the time to decode all of it (decode_frames).

This is evaluation code: it reads the simulator's ground truth, which clipwarden.media never does. It
prints figures and whether the goal was met; it asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from clipwarden.media.capture import capture_window
from clipwarden.media.codec import decode_frames
from clipwarden.media.screen import screen_clip
from clipwarden.sim import ActivityWindow, SimConfig, SimFleet, build_fleet
from clipwarden.sim.truth import TruthEvent

PRIVATE_SCENE_RATE = 1.0  # per household-day; higher rates make scenes overlap and lamps go off mid-scene
RECALL_GOAL = 0.99
DECODE_EVERY = 10  # time a full decode of the first clip of every tenth window (it costs more than screening)

_worker_fleet: SimFleet | None = None


@dataclass(frozen=True)
class Outcome:
    """One screened clip, as a worker reports it (no pixels travel back)."""

    camera_id: str
    placement: str
    started_at: datetime
    frames: int
    fps: int
    flagged: bool
    score: float
    reasons: tuple[str, ...]
    screen_s: float
    decode_s: float | None  # full decode of the same clip, for the time ratio; None if not timed


@dataclass(frozen=True)
class Labelled:
    outcome: Outcome
    private: bool
    label: str
    private_frames: int  # frames inside a sensitive event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clips", type=int, default=300, help="harmless clips to screen (at least)")
    parser.add_argument("--private", type=int, default=100, help="private-scene clips to screen (at least)")
    parser.add_argument("--households", type=int, default=48)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    config = SimConfig(seed=args.seed, households=args.households, private_scene_rate=PRIVATE_SCENE_RATE)
    fleet = build_fleet(config)
    by_camera: dict[str, list[TruthEvent]] = defaultdict(list)
    for event in fleet.truth():
        by_camera[event.camera_id].append(event)
    private_windows, harmless_windows = split_windows(fleet.windows(), by_camera, config.fps, args.seed)
    print(
        f"fleet: seed {args.seed}, {args.households} households, {config.hours:g} h, "
        f"private_scene_rate {PRIVATE_SCENE_RATE:g} per household-day, "
        f"{config.width}x{config.height} at {config.fps} fps; {len(private_windows)} windows hold a "
        f"private scene, {len(harmless_windows)} others"
    )
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=context, initializer=_init_worker, initargs=(config,)) as pool:
        clips = collect(pool, private_windows, by_camera, args.private, args.workers, private=True)
        clips += collect(pool, harmless_windows, by_camera, args.clips, args.workers, private=False)
    wall = time.perf_counter() - started
    print(f"screened {len(clips)} clips in {wall:.0f} s with {args.workers} workers (render, capture, screen)")
    report([c for c in clips if c.private], [c for c in clips if not c.private])
    command = " ".join(
        [
            ".venv/bin/python benchmarks/bench_screen.py",
            f"--seed {args.seed} --clips {args.clips} --private {args.private}",
            f"--households {args.households} --workers {args.workers}",
        ]
    )
    print(f"\nreproduce: {command}")


def split_windows(
    windows: list[ActivityWindow], by_camera: dict[str, list[TruthEvent]], fps: int, seed: int
) -> tuple[list[ActivityWindow], list[ActivityWindow]]:
    """Windows holding a private scene, in time order; the others, taken in turn from each true label."""
    private: list[ActivityWindow] = []
    by_label: dict[str, list[ActivityWindow]] = defaultdict(list)
    for window in windows:
        events = overlapping(by_camera[window.camera_id], window.start, window.n_frames, fps)
        if any(event.sensitive for event, _ in events):
            private.append(window)
        else:
            by_label[main_label(events)].append(window)
    rng = random.Random(seed)
    for group in by_label.values():
        rng.shuffle(group)
    return private, list(round_robin([by_label[label] for label in sorted(by_label)]))


def round_robin(groups: list[list[ActivityWindow]]) -> Iterator[ActivityWindow]:
    for turn in range(max((len(g) for g in groups), default=0)):
        yield from (group[turn] for group in groups if turn < len(group))


def overlapping(events: Iterable[TruthEvent], start: datetime, frames: int, fps: int) -> list[tuple[TruthEvent, int]]:
    """The events seen in a span of ``frames`` frames from ``start``, each with how many frames show it."""
    found = []
    for event in events:
        first = max(0, math.ceil((event.start - start) / timedelta(seconds=1) * fps))
        stop = min(frames, math.ceil((event.end - start) / timedelta(seconds=1) * fps))
        if stop > first:
            found.append((event, stop - first))
    return found


def main_label(events: list[tuple[TruthEvent, int]]) -> str:
    return max(events, key=lambda pair: pair[1])[0].label if events else "no_event"


def collect(
    pool: ProcessPoolExecutor,
    windows: list[ActivityWindow],
    by_camera: dict[str, list[TruthEvent]],
    target: int,
    workers: int,
    private: bool,
) -> list[Labelled]:
    """Screen the clips of ``windows`` until ``target`` of them are private (or harmless, if not ``private``).

    At most two windows per worker are in flight, so little is rendered in vain once the target is met.
    Every clip screened is kept: a window with a private scene may also record harmless clips.
    """
    kept: list[Labelled] = []
    pending: list[Future[list[Outcome]]] = []
    queue = iter(enumerate(windows))

    def wanted() -> int:
        return sum(clip.private == private for clip in kept)

    while True:
        while wanted() < target and len(pending) < 2 * workers and (item := next(queue, None)):
            index, window = item
            pending.append(pool.submit(_screen_window, window, index % DECODE_EVERY == 0))
        if not pending:
            break
        kept.extend(label(o, by_camera[o.camera_id]) for o in pending.pop(0).result())
        print(f"\r    {'private' if private else 'harmless'} clips: {wanted()}", end="", file=sys.stderr)
    print(file=sys.stderr)
    if wanted() < target:
        print(f"note: only {wanted()} {'private' if private else 'harmless'} clips in this fleet")
    return kept


def label(outcome: Outcome, events: list[TruthEvent]) -> Labelled:
    seen = overlapping(events, outcome.started_at, outcome.frames, outcome.fps)
    private_frames = sum(frames for event, frames in seen if event.sensitive)
    ordinary = [(event, frames) for event, frames in seen if not event.sensitive]
    return Labelled(outcome, private_frames > 0, main_label(ordinary), private_frames)


def _init_worker(config: SimConfig) -> None:
    global _worker_fleet
    _worker_fleet = build_fleet(config)


def _screen_window(window: ActivityWindow, time_decode: bool) -> list[Outcome]:
    """Render and capture one window as the pipeline does, and screen every clip it records."""
    assert _worker_fleet is not None, "worker not initialised"
    camera = next(c for c in _worker_fleet.cameras if c.id == window.camera_id)
    outcomes = []
    for n, captured in enumerate(capture_window(camera, window.start, _worker_fleet.render(window))):
        clip = captured.clip
        started = time.perf_counter()
        result = screen_clip(clip.data, camera.placement)
        screen_s = time.perf_counter() - started
        decode_s = None
        if time_decode and n == 0:
            started = time.perf_counter()
            for _ in decode_frames(clip.data):
                pass
            decode_s = time.perf_counter() - started
        outcomes.append(
            Outcome(
                camera_id=clip.camera_id,
                placement=camera.placement,
                started_at=clip.started_at,
                frames=round(clip.duration_s * clip.fps),
                fps=clip.fps,
                flagged=result.flagged,
                score=result.score,
                reasons=result.reasons,
                screen_s=screen_s,
                decode_s=decode_s,
            )
        )
    return outcomes


def report(private: list[Labelled], harmless: list[Labelled]) -> None:
    caught = sum(c.outcome.flagged for c in private)
    recall = caught / max(len(private), 1)
    print(f"\nprivate-scene clips: {len(private)}, flagged {caught}: recall {recall:.1%}")
    print(f"    goal: recall >= {RECALL_GOAL:.0%}: {'met' if recall >= RECALL_GOAL else 'missed'}")
    for missed in (c for c in private if not c.outcome.flagged):
        o = missed.outcome
        print(
            f"    missed: {o.camera_id} {o.started_at:%H:%M:%S}, {missed.private_frames} frames of the scene, "
            f"score {o.score:.2f} ({', '.join(o.reasons) or 'no signal'})"
        )

    held = [c for c in harmless if c.outcome.flagged]
    print(f"\nharmless clips: {len(harmless)}, held {len(held)}: false holds {share(len(held), len(harmless))}")
    for title, key in (("by true label", "label"), ("by placement", "placement")):
        print(f"    {title}:")
        groups: dict[str, list[Labelled]] = defaultdict(list)
        for clip in harmless:
            groups[clip.label if key == "label" else clip.outcome.placement].append(clip)
        for name in sorted(groups):
            count = sum(c.outcome.flagged for c in groups[name])
            print(f"        {name:<12} {count:>3} of {len(groups[name]):>3} held  {share(count, len(groups[name]))}")
    reasons = Counter(reason for clip in held for reason in clip.outcome.reasons)
    if reasons:
        print("    reasons given for the held ones: " + ", ".join(f"{r} {n}" for r, n in reasons.most_common()))

    everything = [c.outcome for c in private + harmless]
    timed = [o for o in everything if o.decode_s is not None]
    per_clip = sum(o.screen_s for o in everything) / len(everything)
    seconds = sum(o.frames / o.fps for o in everything) / len(everything)
    print(f"\ntime: screening {per_clip * 1000:.0f} ms per clip (mean clip {seconds:.1f} s), ", end="")
    print(f"{per_clip / seconds * 25 * 1000:.0f} ms per 25 s of clip")
    if timed:
        screen_s, decode_s = sum(o.screen_s for o in timed), sum(o.decode_s or 0.0 for o in timed)
        print(
            f"    on {len(timed)} clips also decoded whole: screen {screen_s / len(timed) * 1000:.0f} ms, "
            f"decode_frames {decode_s / len(timed) * 1000:.0f} ms per clip: ratio {screen_s / decode_s:.2f}x"
        )


def share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


if __name__ == "__main__":
    main()

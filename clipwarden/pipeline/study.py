"""``clipwarden study``: the privacy-utility study (issue 11, item 6). What each protection costs the camera AI.

Running the whole demo per cell would take hours, so each seed's material is made once and the cells vary the
policies over it:
- a training fleet (seed s) captured by the real pipeline into a scratch store, each clip's features read from
  the track its capture stored and, for the redacted axis, from the clip redacted as a reviewer's rendition
  is (``media.rendition.redacted_copy``: people pixelated, no label, no watermark), decoded;
- a held-out fleet (seed s + 1000: households and cameras no model learned from), captured and read the same way;
- the seed's simulated reviewers (``study_review``).

A cell is one policy: the share of clips owners share (a random, nested draw of the seed: a larger share
holds every clip of a smaller one), training on original or redacted pixels, k answers per clip, EU clips
reviewed only at EU sites or anywhere, and which shared clips reach reviewers: all of them, or only those the
current model is least sure about (uncertainty sampling, retrained in rounds) or, as its control, a random
subset in the same rounds. Each cell trains one model (one shard: the study compares policies, not unlearning
costs) on the consolidated labels and scores it on the held-out fleet with ``learn.evaluate``, the only place
the truth is read for scores (DESIGN invariant 7). The grid is one factor at a time around ``BASELINE``.

Figures over seeds are pooled: the counts of every seed's held-out fleet summed, with Wilson intervals over the
pooled clips (each seed's fleet is other clips); person-views are the mean over seeds. Each seed's own figures
are kept beside them, so the spread between seeds shows.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from sqlalchemy import select

from clipwarden import services
from clipwarden.domain import Label
from clipwarden.errors import ClipwardenError
from clipwarden.learn import models, training
from clipwarden.learn.evaluate import Scorecard, Verdict, score_held_out, wilson
from clipwarden.learn.features import FEATURE_NAMES, FeatureJob, many_features
from clipwarden.media.camera_ai import Rules
from clipwarden.media.capture import track_from_document
from clipwarden.media.redact import room_samples
from clipwarden.pipeline import heldout
from clipwarden.pipeline.fleet_run import run_fleet
from clipwarden.pipeline.loop import HELD_OUT_SEED_OFFSET
from clipwarden.pipeline.study_review import Panel, Recording, Reviewed, admitted, labels, review, site_shares
from clipwarden.services.reviewer import ROOM_CLIPS
from clipwarden.sim import SimConfig, build_fleet
from clipwarden.sim.reviewers import Eyes, build_reviewers
from clipwarden.sim.seeding import rng_for
from clipwarden.store import open_store
from clipwarden.store.schema import clips, households

Selection = Literal["all", "uncertainty", "random"]
SHARE_RATES = (0.05, 0.1, 0.25, 0.5, 1.0)
KS = (1, 2, 3)
MATCH_POINTS = 1.0  # "reaches the accuracy of reviewing every shared clip": within this many points
ROUND_SHARE = 0.1  # an active-learning round sends this share of the shared clips to review


@dataclass(frozen=True)
class Cell:
    share_rate: float = 0.25
    redacted_training: bool = False
    k: int = 2
    eu_only: bool = False
    selection: Selection = "all"

    @property
    def name(self) -> str:
        pixels = "redacted" if self.redacted_training else "original"
        where = "EU sites" if self.eu_only else "anywhere"
        return f"share {100 * self.share_rate:g}%, {pixels}, k={self.k}, {where}, {self.selection}"


BASELINE = Cell()


@dataclass(frozen=True)
class StudySettings:
    seeds: int = 3
    first_seed: int = 7
    # Sized so that the default study stays under 30 minutes on 2 cores (NOTE.md): capturing a clip and
    # decoding its redacted copy dominate, about 1.5 CPU-seconds each.
    households: int = 6
    hours: float = 24.0
    held_out_households: int = 6
    held_out_hours: float = 12.0
    cameras: int = 2
    reviewers_per_site: int = 4  # k = 3 and an adjudicator, at one site
    share_rates: tuple[float, ...] = SHARE_RATES
    ks: tuple[int, ...] = KS
    workers: int = 1

    def check(self) -> None:
        """ClipwardenError, one line, for a setting the study cannot run with."""
        if self.seeds < 1:
            raise ClipwardenError(f"--seeds must be at least 1, got {self.seeds}")
        if not self.share_rates or any(not 0 < rate <= 1 for rate in self.share_rates):
            raise ClipwardenError(f"--share-rates must each be in (0, 1], got {list(self.share_rates)}")
        if not self.ks or any(not 1 <= k < self.reviewers_per_site for k in self.ks):
            raise ClipwardenError(f"--ks must each be in 1..{self.reviewers_per_site - 1}, got {list(self.ks)}")
        if self.households < 1 or self.held_out_households < 1 or self.hours <= 0 or self.held_out_hours <= 0:
            raise ClipwardenError("--households and --held-out-households must be >= 1, the hours > 0")


def grid(settings: StudySettings) -> list[Cell]:
    """One factor at a time around the baseline: the share-rate sweep, k, redacted training, EU sites only,
    then the selection axis at the baseline's budget."""
    cells = [BASELINE]
    cells += [replace(BASELINE, share_rate=rate) for rate in settings.share_rates]
    cells += [replace(BASELINE, k=k) for k in settings.ks]
    cells += [replace(BASELINE, redacted_training=True), replace(BASELINE, eu_only=True)]
    cells += [replace(BASELINE, selection="uncertainty"), replace(BASELINE, selection="random")]
    return list(dict.fromkeys(cells))


# The material of one seed, made once


@dataclass(frozen=True)
class Material:
    seed: int
    recordings: list[Recording]
    features: np.ndarray  # the training clips, original pixels
    redacted: np.ndarray  # the same clips as reviewers see them
    held_out: heldout.HeldOut
    panel: Panel
    eu_share: float  # the EU sites' share of the review capacity
    seconds: dict[str, float]


def material(settings: StudySettings, seed: int) -> Material:
    config = SimConfig(
        seed=seed, households=settings.households, cameras_per_household=settings.cameras, hours=settings.hours
    )
    started = time.perf_counter()
    recordings, jobs = _capture_training(config, settings.workers)
    captured = time.perf_counter()
    features = _read(jobs, settings.workers)
    read = time.perf_counter()
    redacted = _read([replace(job, redacted=True) for job in jobs], settings.workers)
    redacted_at = time.perf_counter()
    held_config = heldout.held_out_config(
        seed + HELD_OUT_SEED_OFFSET, settings.held_out_households, settings.held_out_hours, settings.cameras
    )
    held_out = heldout.capture(held_config, settings.workers)
    fleet = build_fleet(config)
    profiles = build_reviewers(seed, settings.reviewers_per_site)
    seconds = {
        "capture_s": captured - started,
        "features_s": read - captured,
        "redacted_features_s": redacted_at - read,
        "held_out_s": held_out.capture_s + held_out.features_s,
    }
    panel = Panel(seed, profiles, Eyes(fleet))
    return Material(seed, recordings, features, redacted, held_out, panel, site_shares(profiles)["ro-buc"], seconds)


def _capture_training(config: SimConfig, workers: int) -> tuple[list[Recording], list[FeatureJob]]:
    """The training fleet through the real capture into a scratch store: each clip as the reviewers' side knows
    it, and the job that reads its features (with room samples of its camera's other clips, for redaction)."""
    with tempfile.TemporaryDirectory(prefix="clipwarden-study-") as scratch, open_store(Path(scratch)) as store:
        run = run_fleet(store, config, workers, None, Rules())
        with store.connect() as conn:
            rows = {r.id: r for r in conn.execute(select(clips).where(clips.c.id.in_(run.clip_ids)))}
            eu = {
                h.id: h.jurisdiction == "EU" for h in conn.execute(select(households.c.id, households.c.jurisdiction))
            }
            cameras = {c: training.camera_of(conn, c) for c in {r.camera_id for r in rows.values()}}
        ordered = [rows[clip_id] for clip_id in run.clip_ids]
        media = [store.blobs.get(r.blob_sha256) for r in ordered]
        rooms = _rooms([r.camera_id for r in ordered], media)
        recordings, jobs = [], []
        for index, (row, data) in enumerate(zip(ordered, media, strict=True)):
            recordings.append(
                Recording(
                    row.blob_sha256, row.camera_id, row.started_at, row.duration_s, row.ai_label, eu[row.household_id]
                )
            )
            away = services.mode_at(store, row.household_id, row.started_at) == "away"
            track = track_from_document(row.motion_track)
            jobs.append(FeatureJob(cameras[row.camera_id], away, track=track, data=data, room=rooms[index]))
    return recordings, jobs


def _rooms(camera_ids: Sequence[str], media: Sequence[bytes]) -> list[tuple[np.ndarray, ...]]:
    """Per clip, the first keyframes of up to ``ROOM_CLIPS`` other clips of its camera, as the review service
    gives redaction (there: the camera's clips of the day)."""
    by_camera: dict[str, list[int]] = {}
    for index, camera_id in enumerate(camera_ids):
        by_camera.setdefault(camera_id, []).append(index)
    samples: dict[int, np.ndarray] = {}
    for indices in by_camera.values():
        first = indices[: ROOM_CLIPS + 1]
        samples.update(zip(first, room_samples(media[i] for i in first), strict=True))
    rooms = []
    for index, camera_id in enumerate(camera_ids):
        others = [i for i in by_camera[camera_id][: ROOM_CLIPS + 1] if i != index][:ROOM_CLIPS]
        rooms.append(tuple(samples[i] for i in others))
    return rooms


def _read(jobs: Sequence[FeatureJob], workers: int) -> np.ndarray:
    vectors = many_features(jobs, workers)
    if any(vector is None for vector in vectors):
        raise ClipwardenError("a clip of the study's training fleet did not decode")  # just encoded: a bug
    return np.vstack([v for v in vectors if v is not None]) if vectors else np.empty((0, len(FEATURE_NAMES)))


# One cell on one seed


@dataclass
class Outcome:
    """What one cell did on one seed: its reviews, and the held-out verdicts of the model(s) it trained."""

    cell: Cell
    reviewed: Reviewed
    shared: int
    learned: int  # items sure enough to learn from
    verdicts: list[Verdict]
    curve: list[tuple[int, list[Verdict]]] = field(default_factory=list)  # selection: (person-views, verdicts)


def shared_clips(seed: int, count: int, rate: float) -> list[int]:
    """The clips owners share at ``rate``, in queue order: a prefix of one random order of the seed, so that a
    larger share holds every clip of a smaller one."""
    order = rng_for(seed, "study-share").permutation(count)
    return [int(i) for i in order[: round(rate * count)]]


def run_cell(cell: Cell, stuff: Material, budget_views: int | None) -> Outcome:
    queued = shared_clips(stuff.seed, len(stuff.recordings), cell.share_rate)
    if cell.selection != "all":
        return _rounds(cell, stuff, queued, budget_views or 0)
    done = Reviewed()
    batch = admitted(stuff.recordings, queued, cell.k, stuff.eu_share, cell.eu_only)
    review(stuff.panel, stuff.recordings, batch, cell.k, cell.eu_only, done)
    model, learned = _train(stuff, done, cell.redacted_training)
    return Outcome(cell, done, len(queued), learned, _verdicts(model, stuff))


def _rounds(cell: Cell, stuff: Material, pool: list[int], budget_views: int) -> Outcome:
    """Active learning at the budget ``budget_views``: a random first round, then rounds of the pool's clips the
    current model is least sure about (lowest top probability; ``random``: the next ones of a random order),
    retrained after each, until the budget is spent."""
    size = max(1, round(ROUND_SHARE * len(pool)))
    rest = list(pool)
    done, curve = Reviewed(), []
    model: models.ShardedModel | None = None
    learned = 0
    while rest and budget_views - done.person_views >= cell.k:
        batch_size = min(size, (budget_views - done.person_views) // cell.k)
        batch = (
            rest[:batch_size]
            if model is None or cell.selection == "random"
            else _least_sure(model, stuff, rest, batch_size)
        )
        taken = set(batch)
        rest = [i for i in rest if i not in taken]
        review(stuff.panel, stuff.recordings, batch, cell.k, cell.eu_only, done)
        model, learned = _train(stuff, done, cell.redacted_training)
        curve.append((done.person_views, _verdicts(model, stuff)))
    verdicts = curve[-1][1] if curve else _verdicts(None, stuff)
    return Outcome(cell, done, len(pool), learned, verdicts, curve)


def _least_sure(model: models.ShardedModel, stuff: Material, rest: list[int], count: int) -> list[int]:
    top = model.probabilities(stuff.features[rest]).max(axis=1)
    ranked = sorted(range(len(rest)), key=lambda i: (float(top[i]), stuff.recordings[rest[i]].key))
    return [rest[i] for i in ranked[:count]]


def _train(stuff: Material, done: Reviewed, redacted: bool) -> tuple[models.ShardedModel | None, int]:
    settled = labels(done)
    if not settled:
        return None, 0
    index = {r.key: i for i, r in enumerate(stuff.recordings)}
    keys = sorted(settled)
    rows = [index[key] for key in keys]
    source = stuff.redacted if redacted else stuff.features
    chosen = [cast(Label, settled[key]) for key in keys]  # consolidation answers in LABELS
    model = models.train(keys, keys, source[rows], chosen, FEATURE_NAMES, 1, stuff.seed)
    return model, len(keys)


def _verdicts(model: models.ShardedModel | None, stuff: Material) -> list[Verdict]:
    """The model's verdicts on the held-out clips; with nothing learned the camera keeps the rules."""
    if model is None:
        return [(clip.ai_label, clip.ai_alert) for clip in stuff.held_out.clips]
    return heldout.verdicts(model, stuff.held_out.features)


def run_seed(cells: Sequence[Cell], stuff: Material) -> tuple[list[Outcome], dict[str, Scorecard]]:
    """Every cell on one seed, then every model scored on the seed's held-out fleet in one pass."""
    outcomes: list[Outcome] = []
    baseline_views: int | None = None
    for cell in cells:
        outcome = run_cell(cell, stuff, baseline_views)
        if cell == BASELINE:
            baseline_views = outcome.reviewed.person_views
        outcomes.append(outcome)
    named: dict[str, list[Verdict]] = {}
    for outcome in outcomes:
        named[outcome.cell.name] = outcome.verdicts
        for step, (_, verdicts) in enumerate(outcome.curve):
            named[f"{outcome.cell.name} #{step}"] = verdicts
    cards = score_held_out(stuff.held_out.config, stuff.held_out.clips, named)
    return outcomes, {card.model: card for card in cards}


# Pooling over seeds (pure)


@dataclass(frozen=True)
class Pooled:
    clips: int = 0
    correct: int = 0
    false_alarms: int = 0
    intruder_clips: int = 0
    intruder_clips_alerted: int = 0

    def add(self, card: Scorecard) -> Pooled:
        return Pooled(
            self.clips + card.clips,
            self.correct + card.correct,
            self.false_alarms + card.false_alarms,
            self.intruder_clips + card.intruder_clips,
            self.intruder_clips_alerted + card.intruder_clips_alerted,
        )

    def as_dict(self) -> dict[str, Any]:
        accuracy, alarms = wilson(self.correct, self.clips), wilson(self.false_alarms, self.clips)
        recall = wilson(self.intruder_clips_alerted, self.intruder_clips)
        return {
            "accuracy": _ratio(self.correct, self.clips),
            "accuracy_ci95": _interval(accuracy),
            "false_alarms_per_100": None if not self.clips else round(100 * self.false_alarms / self.clips, 2),
            "false_alarms_per_100_ci95": None if alarms is None else [round(100 * v, 2) for v in alarms],
            "intruder_recall": _ratio(self.intruder_clips_alerted, self.intruder_clips),
            "intruder_recall_ci95": _interval(recall),
            "held_out_clips": self.clips,
            "intruder_clips": self.intruder_clips,
        }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _interval(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [round(v, 4) for v in interval]


def pool(cards: Sequence[Scorecard]) -> Pooled:
    total = Pooled()
    for card in cards:
        total = total.add(card)
    return total


def costs(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each protection costs against the baseline: accuracy points lost, person-views saved, and points
    per 1,000 person-views saved (None where it saves none)."""
    base = next(cell for cell in cells if _cell_of(cell) == BASELINE)
    rows = []
    for cell in cells:
        if _cell_of(cell) == BASELINE or cell["accuracy"] is None or base["accuracy"] is None:
            continue
        points = 100 * (base["accuracy"] - cell["accuracy"])
        saved = base["person_views"] - cell["person_views"]
        per_1000 = points / (saved / 1000) if saved > 0 else None
        rows.append(
            {
                "cell": cell["name"],
                "accuracy_points_lost": round(points, 2),
                "person_views_saved": round(saved, 1),
                "points_per_1000_views_saved": None if per_1000 is None else round(per_1000, 2),
            }
        )
    return rows


def _cell_of(row: dict[str, Any]) -> Cell:
    return Cell(row["share_rate"], row["redacted_training"], row["k"], row["eu_only"], row["selection"])


def views_to_match(curve: Sequence[tuple[float, float]], target: float) -> float | None:
    """The person-views at the first point of a (person-views, accuracy) curve within ``MATCH_POINTS`` of
    ``target``; None if it never gets there."""
    return next((views for views, accuracy in curve if 100 * (target - accuracy) <= MATCH_POINTS), None)


# The whole study


def run_study(settings: StudySettings, seed_done: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Every cell on every seed. ``seed_done`` is given the study over the seeds done so far after each seed, so
    that a long run shows (and keeps) its figures as it goes."""
    settings.check()
    started = time.perf_counter()
    cells = grid(settings)
    per_seed: list[tuple[Material, list[Outcome], dict[str, Scorecard]]] = []
    timings: list[dict[str, Any]] = []
    for offset in range(settings.seeds):
        stuff = material(settings, settings.first_seed + offset)
        cells_started = time.perf_counter()
        outcomes, cards = run_seed(cells, stuff)
        timings.append(
            {"seed": stuff.seed}
            | {k: round(v, 1) for k, v in stuff.seconds.items()}
            | {
                "cells_s": round(time.perf_counter() - cells_started, 1),
                "training_clips": len(stuff.recordings),
                "held_out_clips": len(stuff.held_out.clips),
            }
        )
        per_seed.append((stuff, outcomes, cards))
        if seed_done is not None and offset + 1 < settings.seeds:
            seed_done(_summary(settings, cells, per_seed, timings, time.perf_counter() - started))
    return _summary(settings, cells, per_seed, timings, time.perf_counter() - started)


def _summary(
    settings: StudySettings,
    cells: Sequence[Cell],
    per_seed: Sequence[tuple[Material, list[Outcome], dict[str, Scorecard]]],
    timings: list[dict[str, Any]],
    wall_s: float,
) -> dict[str, Any]:
    rows = [_cell_row(i, cell, per_seed) for i, cell in enumerate(cells)]
    return {
        "cells": rows,
        "rules": pool([cards["rules"] for _, _, cards in per_seed]).as_dict(),
        "baseline": asdict(BASELINE),
        "costs": costs(rows),
        "selection": _selection(cells, per_seed, rows),
        "settings": asdict(settings),
        "seeds": list(timings),
        "seeds_done": len(per_seed),
        "wall_s": round(wall_s, 1),
    }


def _cell_row(
    index: int, cell: Cell, per_seed: Sequence[tuple[Material, list[Outcome], dict[str, Scorecard]]]
) -> dict[str, Any]:
    outcomes = [outcomes[index] for _, outcomes, _ in per_seed]
    cards = [cards[cell.name] for _, _, cards in per_seed]
    seeds = [
        {
            "seed": stuff.seed,
            "accuracy": round(card.accuracy, 4),
            "false_alarms_per_100": round(card.false_alarms_per_100, 2),
            "intruder_recall": None if card.intruder_recall is None else round(card.intruder_recall, 4),
            "person_views": outcome.reviewed.person_views,
            "first_pass_views": outcome.reviewed.first_pass_views,
            "shared_clips": outcome.shared,
            "reviewed_clips": len(outcome.reviewed.clips),
            "learned_items": outcome.learned,
        }
        for (stuff, _, _), outcome, card in zip(per_seed, outcomes, cards, strict=True)
    ]
    return {
        "name": cell.name,
        **asdict(cell),
        "person_views": _mean(s["person_views"] for s in seeds),
        "first_pass_views": _mean(s["first_pass_views"] for s in seeds),
        "adjudication_views": _mean(o.reviewed.adjudication_views for o in outcomes),
        "shared_clips": _mean(s["shared_clips"] for s in seeds),
        "reviewed_clips": _mean(s["reviewed_clips"] for s in seeds),
        "learned_items": _mean(s["learned_items"] for s in seeds),
        **pool(cards).as_dict(),
        "per_seed": seeds,
    }


def _selection(
    cells: Sequence[Cell],
    per_seed: Sequence[tuple[Material, list[Outcome], dict[str, Scorecard]]],
    rows: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """The selection axis: each active-learning curve (rounds aligned over seeds: mean person-views, pooled
    accuracy), and the person-views at which it first comes within a point of reviewing every shared clip."""
    base = next(row for row in rows if _cell_of(row) == BASELINE)
    found: dict[str, Any] = {"baseline_accuracy": base["accuracy"], "baseline_person_views": base["person_views"]}
    for index, cell in enumerate(cells):
        if cell.selection == "all":
            continue
        runs = [(outcomes[index], cards) for _, outcomes, cards in per_seed]
        steps = min(len(outcome.curve) for outcome, _ in runs)
        curve = []
        for step in range(steps):
            pooled = pool([cards[f"{cell.name} #{step}"] for _, cards in runs])
            views = _mean(outcome.curve[step][0] for outcome, _ in runs)
            curve.append({"person_views": views} | pooled.as_dict())
        points = [(p["person_views"], p["accuracy"]) for p in curve if p["accuracy"] is not None]
        match = None if base["accuracy"] is None else views_to_match(points, base["accuracy"])
        found[cell.selection] = {
            "curve": curve,
            "person_views_to_match": match,
            "person_views_saved": None if match is None else round(base["person_views"] - match, 1),
            "goal_met": match is not None and match <= base["person_views"] / 2,
        }
    return found


def _mean(values: Any) -> float:
    listed = list(values)
    return round(float(np.mean(listed)), 1) if listed else 0.0

"""The study's review stage: which shared clips reach reviewers, who answers, and the labels that come of it.

The real review stage (``review_run.py``) serves every task over HTTP and renders a rendition per view; a grid of
cells times seeds cannot afford that. Here the same people (``sim.reviewers``: the reviewers' profiles, each
answer drawn from its own stream of the seed, the reviewer and the recording) answer the same clips, and the
project's Dawid-Skene consolidation (``review.quality``) settles the labels, with the pipeline's rules:
an item answered once, or whose answers disagree, or whose consolidated confidence is under the snapshot's
threshold gets one adjudication (a further reviewer) once; an item still under the threshold is not learned
from (``below_min_confidence``). Every answer, adjudications and private flags included, is a person-view.

Sites and their capacity (the ``eu_only`` axis): each site's share of the review budget is its share of the
reviewers' daily quota (reviewers x clips per shift, ``SITE_DEFAULTS``). Reviewed anywhere, the budget is
exactly what the shared clips need. Reviewed only at EU sites, an EU clip's answers all come from the EU
site's reviewers and its first pass fits in that site's share of the same budget; EU clips beyond it are
not reviewed (other clips may use any site, so they always fit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from clipwarden.consent.vocabulary import SITES
from clipwarden.domain import LABELS
from clipwarden.learn.snapshots import DEFAULT_MIN_CONFIDENCE
from clipwarden.review import quality
from clipwarden.sim.reviewers import SITE_DEFAULTS, Annotation, Eyes, ReviewerProfile, answer
from clipwarden.sim.seeding import rng_for
from clipwarden.times import iso_utc


@dataclass(frozen=True)
class Recording:
    """What the simulated reviewers need to know of a training clip: which recording plays, and its verdict."""

    key: str  # the clip's content hash: stable across runs, unlike its id
    camera_id: str
    started_at: datetime
    duration_s: float
    ai_label: str
    eu: bool  # the household is in the EU


class Panel:
    """The simulated reviewers of one seed, answering the training fleet's recordings. An answer is drawn from the
    stream of (seed, reviewer, recording), so the same person gives the same answer to the same clip in every cell:
    cells differ by their policies, not by the luck of the draw."""

    def __init__(self, seed: int, profiles: Sequence[ReviewerProfile], eyes: Eyes) -> None:
        self._seed, self._profiles, self._eyes = seed, tuple(profiles), eyes
        self._seen: dict[str, tuple[str, bool]] = {}
        self._answers: dict[tuple[str, str], str | None] = {}

    def order(self, recording: Recording, eu_only: bool) -> list[ReviewerProfile]:
        """The reviewers who may take this clip, in the order the queue hands it to them."""
        allowed = [p for p in self._profiles if not (eu_only and recording.eu) or SITES[p.site].in_eu]
        permutation = rng_for(self._seed, "study-assign", recording.key).permutation(len(allowed))
        return [allowed[int(i)] for i in permutation]

    def answer(self, profile: ReviewerProfile, recording: Recording) -> str | None:
        """The label ``profile`` gives, or None where they stopped the view as private."""
        memo = (profile.id, recording.key)
        if memo not in self._answers:
            if recording.key not in self._seen:
                self._seen[recording.key] = self._eyes.watch(
                    recording.camera_id, recording.started_at, recording.duration_s
                )
            truth, private = self._seen[recording.key]
            rng = rng_for(self._seed, "answers", profile.id, recording.camera_id, iso_utc(recording.started_at))
            given = answer(profile, truth, recording.ai_label, rng, private=private)
            self._answers[memo] = given.label if isinstance(given, Annotation) else None
        return self._answers[memo]


def site_shares(profiles: Sequence[ReviewerProfile]) -> dict[str, float]:
    """Each site's share of the daily review capacity: its reviewers times their quota, over everyone's."""
    quota = {site: sum(SITE_DEFAULTS[p.site].clips_per_shift for p in profiles if p.site == site) for site in SITES}
    total = sum(quota.values())
    return {site: value / total for site, value in quota.items()}


def admitted(
    recordings: Sequence[Recording], queued: Sequence[int], k: int, eu_share: float, eu_only: bool
) -> list[int]:
    """Which of the ``queued`` clips (in queue order) get their first pass within the budget they define (k views
    each). Anywhere, all of them; EU clips only at EU sites, the EU clips that fit in the EU sites' ``eu_share`` of
    that budget, in queue order."""
    if not eu_only:
        return list(queued)
    eu_slots = int(eu_share * len(queued) * k + 1e-9) // k
    kept: list[int] = []
    for index in queued:
        if recordings[index].eu:
            if eu_slots == 0:
                continue
            eu_slots -= 1
        kept.append(index)
    return kept


@dataclass
class Reviewed:
    """The answers one cell gathered so far, and what they cost in person-views."""

    answers: list[tuple[str, str, str]] = field(default_factory=list)  # (clip key, reviewer id, label)
    clips: set[str] = field(default_factory=set)
    adjudicated: set[str] = field(default_factory=set)
    first_pass_views: int = 0
    adjudication_views: int = 0

    @property
    def person_views(self) -> int:
        return self.first_pass_views + self.adjudication_views


def review(
    panel: Panel, recordings: Sequence[Recording], batch: Sequence[int], k: int, eu_only: bool, done: Reviewed
) -> None:
    """k first answers for each clip of ``batch``, then one adjudication for each item that needs one."""
    for index in batch:
        recording = recordings[index]
        for profile in panel.order(recording, eu_only)[:k]:
            _view(panel, profile, recording, done)
            done.first_pass_views += 1
        done.clips.add(recording.key)
    _adjudicate(panel, recordings, k, eu_only, done)


def _view(panel: Panel, profile: ReviewerProfile, recording: Recording, done: Reviewed) -> None:
    label = panel.answer(profile, recording)
    if label is not None:
        done.answers.append((recording.key, profile.id, label))


def _adjudicate(panel: Panel, recordings: Sequence[Recording], k: int, eu_only: bool, done: Reviewed) -> None:
    if not done.answers:
        return
    by_key = {r.key: r for r in recordings}
    result = quality.dawid_skene(done.answers, LABELS)
    needs = quality.needing_review(result, DEFAULT_MIN_CONFIDENCE, min_answers=2)
    for need in needs:
        if need.item_id in done.adjudicated:
            continue
        recording = by_key[need.item_id]
        others = panel.order(recording, eu_only)[k:]
        if not others:
            continue  # nobody left who has not seen it: it stays as it is
        done.adjudicated.add(need.item_id)
        _view(panel, others[0], recording, done)
        done.adjudication_views += 1


def labels(done: Reviewed) -> dict[str, str]:
    """The consolidated label of each item sure enough to learn from, as a snapshot would take it."""
    if not done.answers:
        return {}
    result = quality.dawid_skene(done.answers, LABELS)
    return {key: item.label for key, item in result.items.items() if item.confidence >= DEFAULT_MIN_CONFIDENCE}

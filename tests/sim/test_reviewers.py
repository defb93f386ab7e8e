"""Simulated reviewers: deterministic per seed, as accurate in the long run as their profile says, and
about 150 clips in an 8-hour shift at the contractor sites."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from clipwarden.domain import LABELS
from clipwarden.sim.reviewers import (
    SITE_DEFAULTS,
    Annotation,
    PrivateFlag,
    ReviewerProfile,
    SiteDefaults,
    answer,
    build_reviewers,
    confusion_from_accuracy,
)
from clipwarden.sim.seeding import rng_for

SHIFT_S = 8 * 3600
K = len(LABELS)


@pytest.fixture(scope="module")
def team() -> tuple[ReviewerProfile, ...]:
    return build_reviewers(seed=7, per_site=20)


def _annotations(profile: ReviewerProfile, true_label: str, count: int, seed: int = 0) -> list[Annotation]:
    rng = np.random.default_rng(seed)
    found = [answer(profile, true_label, "pet", rng) for _ in range(count)]
    assert all(isinstance(a, Annotation) for a in found)
    return found  # type: ignore[return-value]


def test_same_seed_gives_the_same_reviewers_and_answers(team: tuple[ReviewerProfile, ...]) -> None:
    assert build_reviewers(seed=7, per_site=20) == team
    assert build_reviewers(seed=8, per_site=20) != team
    first = [answer(team[0], "resident", "pet", rng_for(7, "answers", i)) for i in range(50)]
    again = [answer(team[0], "resident", "pet", rng_for(7, "answers", i)) for i in range(50)]
    assert first == again


def test_a_larger_team_keeps_the_reviewers_of_a_smaller_one(team: tuple[ReviewerProfile, ...]) -> None:
    smaller = build_reviewers(seed=7, per_site=5)
    assert set(smaller) <= set(team)
    assert [r.site for r in team] == [site for site in SITE_DEFAULTS for _ in range(20)]
    assert len({r.id for r in team}) == len(team)


def test_confusion_is_built_from_accuracy_with_plausible_mix_ups() -> None:
    matrix = np.array(confusion_from_accuracy(0.8))
    index: dict[str, int] = {label: i for i, label in enumerate(LABELS)}
    assert np.allclose(matrix.sum(axis=1), 1.0)
    assert np.allclose(np.diag(matrix), 0.8)
    for truth, likely, unlikely in [
        ("resident", "visitor", "vehicle"),
        ("intruder", "visitor", "pet"),
        ("pet", "environment", "resident"),
        ("environment", "no_event", "intruder"),
        ("visitor", "resident", "no_event"),  # and the other way round
        ("environment", "pet", "resident"),
    ]:
        assert matrix[index[truth], index[likely]] > 3 * matrix[index[truth], index[unlikely]], truth


def test_long_run_answers_match_the_profile(team: tuple[ReviewerProfile, ...]) -> None:
    profile = team[0]
    for true_label in LABELS:
        answers = _annotations(profile, true_label, 3000, seed=LABELS.index(true_label))
        counts = np.bincount([LABELS.index(a.label) for a in answers], minlength=K)
        expected = np.array(profile.confusion[LABELS.index(true_label)])
        assert np.abs(counts / len(answers) - expected).max() < 0.025, true_label
        assert counts[LABELS.index(true_label)] / len(answers) == pytest.approx(profile.accuracy(true_label), abs=0.025)


def test_reviewers_vary_and_some_are_careless(team: tuple[ReviewerProfile, ...]) -> None:
    accuracy = np.array([r.accuracy("pet") for r in team])
    careful = accuracy[accuracy > 0.7]
    assert 0.85 <= careful.mean() <= 0.91
    assert careful.std() > 0.02
    assert 1 <= (accuracy < 0.6).sum() <= 15  # about 10% of 60


def test_an_eight_hour_shift_holds_about_150_clips_at_the_contractor_sites(team: tuple[ReviewerProfile, ...]) -> None:
    per_site: dict[str, list[int]] = {}
    for reviewer in team:
        for day in range(2):
            rng = rng_for(7, "shift", reviewer.id, day)
            elapsed, clips = 0.0, 0
            while (elapsed := elapsed + answer(reviewer, "pet", "pet", rng).seconds) <= SHIFT_S:
                clips += 1
            per_site.setdefault(reviewer.site, []).append(clips)
    for site in ("in-hyd", "ro-buc"):
        assert np.mean(per_site[site]) == pytest.approx(150, rel=0.05), site
    assert np.mean(per_site["us-sea"]) == pytest.approx(120, rel=0.05)
    assert np.mean(per_site["in-hyd"]) / np.std(per_site["in-hyd"]) > 5  # a spread, not a fixed quota


def test_one_clip_takes_about_190_seconds_with_a_long_tail(team: tuple[ReviewerProfile, ...]) -> None:
    profile = dataclasses.replace(team[0], mean_seconds=192.0)
    seconds = np.array([a.seconds for a in _annotations(profile, "vehicle", 4000)])
    assert seconds.mean() == pytest.approx(192.0, rel=0.04)
    assert np.median(seconds) < seconds.mean()  # lognormal: most are quicker, a few take much longer
    assert seconds.min() > 0


def test_the_ai_question_is_answered_at_the_profile_rate_and_agrees_with_the_label(
    team: tuple[ReviewerProfile, ...],
) -> None:
    profile = team[0]
    rng = np.random.default_rng(5)
    ai_labels = ("pet", "environment") * 1500
    answers = [answer(profile, "pet", ai, rng) for ai in ai_labels]
    given = [
        (a, ai)
        for a, ai in zip(answers, ai_labels, strict=True)
        if isinstance(a, Annotation) and a.ai_correct is not None
    ]
    assert len(given) / len(answers) == pytest.approx(profile.ai_check_rate, abs=0.03)
    assert all(a.ai_correct == (a.label == ai) for a, ai in given)
    assert {a.ai_correct for a, _ in given} == {True, False}


def test_private_scenes_are_sometimes_flagged_and_others_never(team: tuple[ReviewerProfile, ...]) -> None:
    profile = dataclasses.replace(team[0], private_flag_rate=0.3)
    rng = np.random.default_rng(11)
    private = [answer(profile, "resident", "resident", rng, private=True) for _ in range(3000)]
    ordinary = [answer(profile, "resident", "resident", rng) for _ in range(1000)]
    flags = [a for a in private if isinstance(a, PrivateFlag)]
    assert len(flags) / len(private) == pytest.approx(0.3, abs=0.03)
    assert not any(isinstance(a, PrivateFlag) for a in ordinary)
    flagged_mean = np.mean([f.seconds for f in flags])
    labelled_mean = np.mean([a.seconds for a in private if isinstance(a, Annotation)])
    assert flagged_mean < labelled_mean / 2  # they stop part-way in


def test_site_defaults_cover_the_contract_sites() -> None:
    assert set(SITE_DEFAULTS) == {"in-hyd", "ro-buc", "us-sea"}
    assert SiteDefaults().mean_seconds == pytest.approx(192.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"site": "xx-nowhere"}, "unknown site"),
        ({"confusion": ((1.0,),)}, "confusion must be 7 x 7"),
        ({"confusion": ((0.5,) * K,) * K}, "sum to 1"),
        ({"mean_seconds": 0.0}, "mean_seconds"),
        ({"ai_check_rate": 1.5}, "ai_check_rate"),
        ({"private_flag_rate": -0.1}, "private_flag_rate"),
    ],
)
def test_bad_profiles_are_refused(team: tuple[ReviewerProfile, ...], change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(team[0], **change)


def test_bad_input_is_refused(team: tuple[ReviewerProfile, ...]) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown label 'cat'"):
        answer(team[0], "cat", "pet", rng)
    with pytest.raises(ValueError, match="unknown label 'dog'"):
        answer(team[0], "pet", "dog", rng)
    with pytest.raises(ValueError, match="per_site"):
        build_reviewers(seed=1, per_site=-1)
    with pytest.raises(ValueError, match="accuracy"):
        confusion_from_accuracy(1.2)
    with pytest.raises(ValueError, match="clips_per_shift"):
        SiteDefaults(clips_per_shift=0)
    with pytest.raises(ValueError, match="careless_share"):
        SiteDefaults(careless_share=2.0)
    with pytest.raises(ValueError, match="unknown site"):
        build_reviewers(seed=1, per_site=1, sites={"xx-nowhere": SiteDefaults()})


def test_a_sites_shifts_are_its_working_hours_in_utc_midnight_included() -> None:
    monday, tuesday = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC)
    seattle = SITE_DEFAULTS["us-sea"].shifts(monday, tuesday)  # 09:00-17:00 in Seattle: 17:00-01:00 UTC
    hour = timedelta(hours=1)
    assert seattle == [(monday - 7 * hour, monday + hour), (monday + 17 * hour, tuesday + hour)]
    assert SITE_DEFAULTS["in-hyd"].shifts(monday, tuesday) == [(monday + 3.5 * hour, monday + 11.5 * hour)]
    with pytest.raises(ValueError, match="shift_starts_utc"):
        SiteDefaults(shift_starts_utc=24.0)

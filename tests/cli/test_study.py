"""`clipwarden study` through the command line: a tiny study (one seed, one household for a few hours, a reduced
grid) whose JSON has CONTRACT's fields for every cell, whose person-views follow from the share rate and k, whose
selection cells stay within the baseline's budget, and which writes its table and plot; bad input is one line,
exit 1, nothing written. The study is run once per module, as a separate process (it takes most of a minute).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cli_support import refused

from clipwarden.pipeline.study import BASELINE, Cell, costs, shared_clips, views_to_match
from clipwarden.pipeline.study_review import Recording, admitted

if TYPE_CHECKING:
    from conftest import CliResult

CONTRACT = {
    "share_rate",
    "redacted_training",
    "k",
    "eu_only",
    "false_alarms_per_100",
    "intruder_recall",
    "accuracy",
    "person_views",
}
TINY = ["--seeds", "1", "--households", "1", "--hours", "2.5", "--held-out-households", "1", "--held-out-hours", "4"]
GRID = ["--share-rates", "0.5,1", "--ks", "2,3", "--workers", "1"]


@pytest.fixture(scope="module")
def studied(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    data = tmp_path_factory.mktemp("study")
    command = [sys.executable, "-m", "clipwarden", "--data", str(data), "--json", "study", *TINY, *GRID]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return json.loads(done.stdout), data


def _cell(study: dict[str, Any], **changed: Any) -> dict[str, Any]:
    wanted = replace(BASELINE, **changed)
    found = [c for c in study["cells"] if Cell(*(c[f] for f in asdict(BASELINE))) == wanted]
    assert len(found) == 1, wanted
    return found[0]


def test_every_cell_has_the_contract_fields(studied: tuple[dict[str, Any], Path]) -> None:
    study, _ = studied
    assert len(study["cells"]) == 8  # baseline, 2 share rates, k=3, redacted, EU sites, 2 selections
    for cell in study["cells"]:
        assert cell.keys() >= CONTRACT
        assert 0 <= cell["accuracy"] <= 1 and cell["false_alarms_per_100"] >= 0
        assert cell["intruder_recall"] is None or 0 <= cell["intruder_recall"] <= 1
        assert cell["person_views"] == cell["first_pass_views"] + cell["adjudication_views"]
        assert [s["seed"] for s in cell["per_seed"]] == [7]
    assert study["cells"][0]["name"] == BASELINE.name and study["seeds_done"] == 1


def test_person_views_follow_the_share_rate_and_k(studied: tuple[dict[str, Any], Path]) -> None:
    study, _ = studied
    sweep = [_cell(study, share_rate=rate) for rate in (0.25, 0.5, 1.0)]
    training_clips = study["seeds"][0]["training_clips"]
    for cell in sweep:
        assert cell["shared_clips"] == round(cell["share_rate"] * training_clips)
        assert cell["reviewed_clips"] == cell["shared_clips"]  # anywhere: every shared clip fits the budget
        assert cell["first_pass_views"] == cell["k"] * cell["reviewed_clips"]
    assert [c["person_views"] for c in sweep] == sorted(c["person_views"] for c in sweep)
    assert sweep[0]["person_views"] < sweep[-1]["person_views"]
    k3 = _cell(study, k=3)
    assert k3["reviewed_clips"] == sweep[0]["reviewed_clips"]
    assert k3["first_pass_views"] == pytest.approx(1.5 * sweep[0]["first_pass_views"])


def test_the_selection_axis_spends_at_most_the_baseline_budget(studied: tuple[dict[str, Any], Path]) -> None:
    study, _ = studied
    baseline = _cell(study)
    for name in ("uncertainty", "random"):
        cell = _cell(study, selection=name)
        assert cell["person_views"] <= baseline["person_views"]
        curve = study["selection"][name]["curve"]
        views = [point["person_views"] for point in curve]
        assert views == sorted(views) and views[-1] == cell["person_views"]


def test_the_table_and_plot_are_written(studied: tuple[dict[str, Any], Path]) -> None:
    study, data = studied
    assert Path(study["plot"]) == data / "study.png"
    assert (data / "study.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    page = (data / "study.html").read_text()
    assert all(cell["name"] in page for cell in study["cells"]) and "data:image/png;base64," in page
    assert json.loads((data / "study.json").read_text())["cells"][0]["name"] == BASELINE.name


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--share-rates", "0,0.5"], "--share-rates must each be in (0, 1]"),
        (["--share-rates", "half"], "--share-rates: not a comma-separated list"),
        (["--ks", "4"], "--ks must each be in 1..3"),
        (["--hours", "0"], "the hours > 0"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    cli_raw: Callable[..., CliResult], tmp_path: Path, args: list[str], words: str
) -> None:
    refused(cli_raw("--data", str(tmp_path), "--json", "study", *args), words)
    assert list(tmp_path.iterdir()) == []


def _recording(index: int, eu: bool) -> Recording:
    return Recording(f"{index:064x}", "cam", datetime(2026, 1, 5, tzinfo=UTC), 10.0, "no_event", eu)


def test_eu_clips_reviewed_only_at_eu_sites_fit_in_that_sites_share() -> None:
    recordings = [_recording(i, eu=i % 2 == 0) for i in range(10)]  # 5 EU clips of 10
    queued = list(range(10))
    assert admitted(recordings, queued, k=2, eu_share=0.3, eu_only=False) == queued
    kept = admitted(recordings, queued, k=2, eu_share=0.3, eu_only=True)
    assert [i for i in kept if recordings[i].eu] == [0, 2, 4]  # 30% of 20 views: 3 EU clips, in queue order
    assert [i for i in kept if not recordings[i].eu] == [1, 3, 5, 7, 9]


def test_views_to_match_is_the_first_point_within_a_point() -> None:
    curve = [(10.0, 0.60), (20.0, 0.695), (30.0, 0.71)]
    assert views_to_match(curve, 0.70) == 20.0
    assert views_to_match(curve, 0.73) is None


def test_a_larger_share_holds_every_clip_of_a_smaller_one() -> None:
    shares = [shared_clips(7, 200, rate) for rate in (0.05, 0.25, 1.0)]
    assert [len(s) for s in shares] == [10, 50, 200]
    assert set(shares[0]) < set(shares[1]) < set(shares[2]) == set(range(200))
    assert shared_clips(8, 200, 0.25) != shares[1]  # another seed, other owners' choices


def test_costs_are_points_lost_per_thousand_person_views_saved() -> None:
    def row(cell: Cell, accuracy: float, views: float) -> dict[str, Any]:
        return {"name": cell.name, **asdict(cell), "accuracy": accuracy, "person_views": views}

    fewer = replace(BASELINE, share_rate=0.1)
    redacted = replace(BASELINE, redacted_training=True)
    rows = [row(BASELINE, 0.60, 100.0), row(fewer, 0.55, 60.0), row(redacted, 0.58, 100.0)]
    found = {c["cell"]: c for c in costs(rows)}
    assert found[fewer.name] == {
        "cell": fewer.name,
        "accuracy_points_lost": 5.0,
        "person_views_saved": 40.0,
        "points_per_1000_views_saved": 125.0,
    }
    assert found[redacted.name]["points_per_1000_views_saved"] is None  # it saves no view
    assert BASELINE.name not in found

"""`models evaluate ID|rules` through the command line: the rules and a trained model scored on a small
held-out fleet of another seed, captured into a scratch store (nothing lands in the user's store); bad input
is one line on stderr and exit 1.

The labelled fleet is made as tests/cli/test_models.py makes it (its helpers), once for this module.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cli_support import ok, refused
from sqlalchemy import func, select
from test_models import FLEET, _process, _share_and_label

from clipwarden.domain import LABELS
from clipwarden.store import open_store
from clipwarden.store.schema import clips

if TYPE_CHECKING:
    from conftest import CliResult

# A held-out fleet small enough for a test: one household of seed 101, a few clips in 3 hours.
HELD_OUT = ["--seed", "101", "--households", "1", "--hours", "3", "--workers", "1"]
# CONTRACT: what `models evaluate` prints.
FIELDS = {"model", "clips", "accuracy", "false_alarms_per_100", "alerts", "intruder_recall", "confusion"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data = tmp_path_factory.mktemp("trained")
    _process(data, "simulate", *FLEET)
    with open_store(data) as store:
        _share_and_label(store)
    snapshot = _process(data, "datasets", "snapshot")
    return data, _process(data, "models", "train", snapshot["snapshot_id"], "--shards", "2")["model_id"]


@pytest.fixture
def data(trained: tuple[Path, str], tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(trained[0], copy)
    return copy


@pytest.fixture
def run(cli_raw: Callable[..., CliResult], data: Path) -> Callable[..., CliResult]:
    return lambda *args: cli_raw("--data", str(data), "--json", *args)


def _clips(data: Path) -> int:
    with open_store(data) as store, store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(clips)).scalar_one())


def _check_scorecard(scored: dict[str, Any], model: str) -> None:
    assert scored.keys() >= FIELDS and scored["model"] == model and scored["clips"] >= 1
    confusion = scored["confusion"]
    assert list(confusion) == list(LABELS) and all(list(row) == list(LABELS) for row in confusion.values())
    assert sum(sum(row.values()) for row in confusion.values()) == scored["clips"]
    right = sum(confusion[label][label] for label in LABELS)
    assert scored["accuracy"] == round(right / scored["clips"], 4)
    low, high = scored["accuracy_ci95"]
    assert 0.0 <= low <= scored["accuracy"] <= high <= 1.0
    low, high = scored["false_alarms_per_100_ci95"]
    assert 0.0 <= low <= scored["false_alarms_per_100"] <= high <= 100.0
    assert scored["false_alarms"] <= scored["alerts"]
    intruders = sum(confusion["intruder"].values())
    assert scored["intruder_clips"] == intruders
    assert (scored["intruder_recall"] is None) == (intruders == 0)
    assert scored["held_out"]["seed"] == 101


def test_the_rules_and_a_model_are_scored_on_the_same_held_out_clips_and_nothing_is_stored(
    run: Callable[..., CliResult], data: Path, trained: tuple[Path, str]
) -> None:
    before = _clips(data)
    rules = ok(run("models", "evaluate", "rules", *HELD_OUT))
    _check_scorecard(rules, "rules")
    model_id = trained[1]
    model = ok(run("models", "evaluate", model_id, *HELD_OUT))
    _check_scorecard(model, model_id)
    truth_per_label = [sum(row.values()) for row in rules["confusion"].values()]
    assert [sum(row.values()) for row in model["confusion"].values()] == truth_per_label
    assert _clips(data) == before  # the held-out fleet went to a scratch store


def test_bad_input_is_one_line_and_exit_1(run: Callable[..., CliResult], data: Path) -> None:
    refused(run("models", "evaluate", "mdl_unknown", *HELD_OUT), "unknown model id")
    refused(run("models", "evaluate", "rules", "--seed", "101", "--households", "0"), "households")
    refused(run("models", "evaluate", "rules", "--seed", "101", "--hours", "0"), "hours")
    refused(run("models", "evaluate", "rules", "--seed", "101", "--workers", "0"), "--workers")
    refused(run("models", "evaluate", "rules", "--households", "1"), "--seed")
    # The training fleet's own seed: its households are in the store, so it is not held out.
    refused(
        run("models", "evaluate", "rules", "--seed", "3", "--households", "1"), "a held-out fleet needs another seed"
    )


def test_a_model_altered_on_disk_is_refused(
    run: Callable[..., CliResult], data: Path, trained: tuple[Path, str]
) -> None:
    for artefact in (data / "models").iterdir():
        artefact.write_bytes(b"not the model")
    refused(run("models", "evaluate", trained[1], *HELD_OUT), "altered")

"""`clipwarden demo` twice with one seed and start, as two real processes with different hash seeds, into
two data dirs: the report is the same, the review phase included, but for what is measured on the wall
clock and what carries a random token. So the spread of a study cell over seeds is the seeds' alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Two households for six hours, every clip sent to review (the tester program), every wrong alert shared,
# some shares withdrawn and clips deleted: owners, the screen, the queue, leases, answers, consolidation,
# erasure and retention all have something to do.
# (Seed 5: a withdrawal and a deletion fall inside the six hours; later ones are not carried out.)
DEMO = ["demo", "--households", "2", "--hours", "6", "--seed", "5", "--start", "2026-01-05T00:00:00Z"]
DEMO += ["--workers", "1", "--reviewers-per-site", "2", "--tester-rate", "1", "--share-rate", "1"]
DEMO += ["--withdraw-rate", "1", "--delete-rate", "0.2"]
# Measured on the wall clock, not simulated.
MEASURED = {"wall_s", "cpu_s", "clips_per_cpu_s", "train_s", "capture_s"}
# The log's root hash covers entries that name clips, consents and tasks by their random ids; so do a
# snapshot's manifest (consent ids) and a model's artefact (the installation's item pseudonyms). The model's
# weights, and so its scores, do not: items are placed by their clips' content hashes.
RANDOM = {"root_hash", "snapshot_id", "sha256", "model_id"}
# Each rendition carries its viewing session's random watermark payload and the reviewer's random pseudonym
# in its pixels, so its size after encoding varies by a few bytes in ten thousand.
RENDITION_BYTES_TOLERANCE = 0.01


def _demos(*runs: tuple[Path, str]) -> list[dict[str, Any]]:
    """The demo into each data dir with its hash seed, all at once (two processes keep both cores busy: one's
    reviewers answer while the other captures); their reports."""
    started = []
    for data, hash_seed in runs:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CLIPWARDEN_")}
        env["PYTHONHASHSEED"] = hash_seed  # set and dict orders of strings differ between the runs
        command = [sys.executable, "-m", "clipwarden", "--data", str(data), "--json", *DEMO]
        started.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    reports = []
    for process in started:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        reports.append(json.loads(out))
    return reports


def _outcome(value: Any) -> Any:
    """The report without the figures measured on the wall clock and the values that embed random tokens."""
    if isinstance(value, dict):
        return {key: _outcome(item) for key, item in value.items() if key not in MEASURED | RANDOM}
    if isinstance(value, list):
        return [_outcome(item) for item in value]
    return value


@pytest.mark.slow
def test_one_seed_and_start_give_the_same_report_review_included(tmp_path: Path) -> None:
    first, second = _demos((tmp_path / "first", "1"), (tmp_path / "second", "2"))
    review = first["review"]
    # The run must exercise the review phase for the comparison to mean anything.
    assert review["views"] >= 10 and review["consolidation"]["clips_consolidated"] >= 5 and review["adjudications"]
    assert first["owners"]["actions"].get("withdraw", 0) >= 1 and first["erasure"]["requests"] >= 1
    assert "after" in first["learning"], first["learning"]  # the loop ran: a model was trained and scored
    for report in (first, second):
        report["learning"]["after"].pop("model")  # the scorecard's name is the model's id
    sizes = first["review"].pop("rendition_bytes"), second["review"].pop("rendition_bytes")
    assert _outcome(first) == _outcome(second)
    assert abs(sizes[0] - sizes[1]) <= RENDITION_BYTES_TOLERANCE * max(sizes)

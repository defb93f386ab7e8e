"""`models train|list|deploy|unlearn` through the command line: a model trained on a snapshot of real simulated
clips, bit-identical for the same snapshot and seed, trained only on items the gate still allows; once
deployed, the fleet labels new clips with it; a withdrawal or a deletion replaces it with one that never saw
the clip, bit-identical to training without it; bad input is one line, exit 1, nothing changed.

One small fleet is simulated, shared, reviewed and snapshotted once per module (SQLite); each test works on
its own copy of that data dir.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cli_support import ok, refused
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from clipwarden.learn.features import summarise
from clipwarden.learn.training import camera_of, deployed_model
from clipwarden.media.capture import track_from_document
from clipwarden.policy.decision import Actor
from clipwarden.services import mode_at, owner, reviewer
from clipwarden.services.consolidation import consolidate
from clipwarden.services.users import actor_for_token, add_user
from clipwarden.store import Store, open_store
from clipwarden.store.schema import clips, consolidations, dataset_items, model_deployments, models
from clipwarden.times import utc_now
from clipwarden.web.app import create_app

if TYPE_CHECKING:
    from conftest import CliResult

REVIEW, TRAINING = "human_review_for_model_improvement", "automated_training"
FLEET = ["--households", "1", "--cameras", "2", "--hours", "12", "--seed", "3", "--workers", "1"]
# Another household's Monday: three activity windows (as in tests/cli/test_simulate.py).
LATER = ["--households", "1", "--cameras", "2", "--hours", "12", "--seed", "8", "--workers", "1"]
LATER += ["--start", "2026-01-05T00:00:00Z"]
# CONTRACT: what `models train`, `models list` and `models deploy` print.
TRAIN_FIELDS = {"model_id", "snapshot_id", "shards", "seed", "train_s", "sha256"}
LIST_FIELDS = {"model_id", "snapshot_id", "status", "deployed"}
PASSWORD = "a long enough passphrase"


@dataclass(frozen=True)
class Labelled:
    data: Path  # a data dir with a labelled fleet and one snapshot of it
    snapshot_id: str
    items: int
    consents: dict[str, str]  # clip id -> the consent its owner gave


def _actor(store: Store, role: str, household_id: str | None, site: str | None) -> Actor:
    token = add_user(store, role, household_id, site, utc_now())["token"]
    with store.connect() as conn:
        actor = actor_for_token(conn, token)
    assert actor is not None
    return actor


def _share_and_label(store: Store) -> dict[str, str]:
    """The owner shares every clip for review and training; two reviewers answer; the consolidated labels
    are then set to the camera AI's own (a varied set of labels, as reviewers' would be)."""
    at = utc_now() - timedelta(minutes=5)
    with store.connect() as conn:
        stored = conn.execute(select(clips.c.id, clips.c.household_id, clips.c.ai_label)).all()
    who = _actor(store, "owner", stored[0].household_id, None)
    consents = {
        row.id: owner.share_clip(store, who, row.id, [REVIEW, TRAINING], None, False, None, at)["consent_id"]
        for row in stored
    }
    for name in ("ana", "bo"):
        person = _actor(store, "reviewer", None, "us-sea")
        while (work := reviewer.request_work(store, person, name, at)) is not None:
            reviewer.annotate(store, person, work["task_token"], reviewer.Answer("pet"), at)
    consolidate(store, at)
    with store.begin() as conn:
        for row in stored:
            conn.execute(update(consolidations).where(consolidations.c.clip_id == row.id).values(label=row.ai_label))
    return consents


def _a_clip_in_the_snapshot(data: Path, labelled: Labelled) -> str:
    """One of the snapshot's clips (which clips the fleet records, and so which reach the snapshot, depends
    on the hour the module's fleet was simulated)."""
    with open_store(data) as store, store.connect() as conn:
        held = select(dataset_items.c.clip_id).where(dataset_items.c.snapshot_id == labelled.snapshot_id)
        return str(conn.execute(held.order_by(dataset_items.c.clip_id)).scalars().first())


def _process(data: Path, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "clipwarden", "--data", str(data), "--json", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def labelled_fleet(tmp_path_factory: pytest.TempPathFactory) -> Labelled:
    data = tmp_path_factory.mktemp("labelled")
    _process(data, "simulate", *FLEET)
    with open_store(data) as store:
        consents = _share_and_label(store)
    made = _process(data, "datasets", "snapshot")
    assert made["items"] >= 8, made
    return Labelled(data, made["snapshot_id"], made["items"], consents)


@pytest.fixture
def data(labelled_fleet: Labelled, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(labelled_fleet.data, copy)
    return copy


@pytest.fixture
def run(cli_raw: Callable[..., CliResult], data: Path) -> Callable[..., CliResult]:
    return lambda *args: cli_raw("--data", str(data), "--json", *args)


def _count(data: Path, table: Any) -> int:
    with open_store(data) as store, store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_training_twice_gives_the_same_weights_and_a_card(
    run: Callable[..., CliResult], data: Path, labelled_fleet: Labelled
) -> None:
    trained = ok(run("models", "train", labelled_fleet.snapshot_id, "--shards", "2", "--seed", "7"))
    assert trained.keys() >= TRAIN_FIELDS
    assert (trained["snapshot_id"], trained["shards"], trained["seed"]) == (labelled_fleet.snapshot_id, 2, 7)
    card = trained["card"]
    assert card["items"] == labelled_fleet.items and sum(card["shard_items"]) == labelled_fleet.items
    assert card["skipped"] == {} and card["sha256"] == trained["sha256"]
    assert 0.0 <= card["training_metrics"]["training_accuracy"] <= 1.0
    assert set(card["dependencies"]) >= {"lightgbm", "numpy", "python"}
    artefact = data / "models" / trained["sha256"]
    assert hashlib.sha256(artefact.read_bytes()).hexdigest() == trained["sha256"]
    again = ok(run("models", "train", labelled_fleet.snapshot_id, "--shards", "2", "--seed", "7"))
    assert (again["model_id"], again["sha256"], again["existing"]) == (trained["model_id"], trained["sha256"], True)
    other = ok(run("models", "train", labelled_fleet.snapshot_id, "--shards", "2", "--seed", "8"))
    assert other["sha256"] != trained["sha256"]
    listed = ok(run("models", "list"))
    assert [m["model_id"] for m in listed] == [trained["model_id"], other["model_id"]]
    assert all(m.keys() >= LIST_FIELDS and m["status"] == "active" and not m["deployed"] for m in listed)


def test_training_asks_the_gate_again_and_skips_what_it_refuses_now(
    run: Callable[..., CliResult], data: Path, labelled_fleet: Labelled
) -> None:
    """A clip whose retention ended after the snapshot was taken (the sweep has not run yet) is skipped."""
    ended = _a_clip_in_the_snapshot(data, labelled_fleet)
    with open_store(data) as store, store.begin() as conn:
        conn.execute(update(clips).where(clips.c.id == ended).values(expires_at=utc_now() - timedelta(minutes=1)))
    trained = ok(run("models", "train", labelled_fleet.snapshot_id))
    assert trained["card"]["items"] == labelled_fleet.items - 1
    assert sum(trained["card"]["skipped"].values()) == 1
    assert trained["shards"] == 4 and len(trained["card"]["shard_items"]) == 4


def _household(data: Path) -> str:
    with open_store(data) as store, store.connect() as conn:
        return str(conn.execute(select(clips.c.household_id)).scalar())


def test_a_withdrawal_makes_the_deployed_model_forget_the_clip_exactly(
    run: Callable[..., CliResult], data: Path, labelled_fleet: Labelled
) -> None:
    trained = ok(run("models", "train", labelled_fleet.snapshot_id, "--shards", "2"))
    ok(run("models", "deploy", trained["model_id"]))
    withdrawn = _a_clip_in_the_snapshot(data, labelled_fleet)
    consent = labelled_fleet.consents[withdrawn]
    ok(run("consents", "withdraw", consent, "--household", _household(data)))
    old, new = ok(run("models", "list"))
    assert (old["model_id"], old["status"], old["deployed"]) == (trained["model_id"], "unlearned", False)
    assert (new["status"], new["deployed"], old["replaced_by"]) == ("active", True, new["model_id"])
    assert not (data / "models" / trained["sha256"]).exists()  # the weights that learned the clip are gone
    [before, replacement] = ok(run("datasets", "list"))
    assert before["superseded_by"] == replacement["snapshot_id"] == new["snapshot_id"]
    assert replacement["items"] == labelled_fleet.items - 1
    # exactness: training from scratch on the snapshot without the clip gives the very same weights
    scratch = ok(run("models", "train", replacement["snapshot_id"], "--shards", "2"))
    assert (scratch["model_id"], scratch["existing"]) == (new["model_id"], True)
    with open_store(data) as store:
        [(model_id, _)] = [deployed_model(store) or (None, None)]
        assert model_id == new["model_id"]
        account = add_user(store, "owner", _household(data), None, utc_now(), password=PASSWORD)
        with TestClient(create_app(store), client=("127.0.0.1", 50000)) as client:
            # the owner's view, through the API and on the clip's page
            bearer = {"Authorization": f"Bearer {account['token']}"}
            seen = client.get(f"/api/clips/{withdrawn}/models", headers=bearer).json()
            form = {"user_id": account["user_id"], "password": PASSWORD}
            signed_in = client.post("/sign-in", data=form, headers={"Origin": "http://testserver"})
            page = client.get(f"/clips/{withdrawn}").text
    assert [(m["model_id"], m["status"], m["replaced_by"]) for m in seen] == [
        (trained["model_id"], "unlearned", new["model_id"])
    ]
    assert signed_in.status_code == 200 and "A version of the camera AI learned from this clip" in page
    assert "forgot it" in page and f"<code>{trained['model_id']}</code>, replaced by" in page


def test_a_deletion_certificate_names_the_snapshots_and_models_that_forgot_the_clip(
    run: Callable[..., CliResult], data: Path, labelled_fleet: Labelled
) -> None:
    trained = ok(run("models", "train", labelled_fleet.snapshot_id, "--shards", "2"))
    certificate = ok(run("clips", "delete", _a_clip_in_the_snapshot(data, labelled_fleet)))
    [new] = [m for m in ok(run("models", "list")) if m["status"] == "active"]
    assert certificate["models"] == [{"model_id": trained["model_id"], "replaced_by": new["model_id"]}]
    assert certificate["snapshots"] == [
        {"snapshot_id": labelled_fleet.snapshot_id, "superseded_by": new["snapshot_id"]}
    ]
    assert ok(run("models", "unlearn")) == {"replaced": {}}  # nothing was left to do


def test_after_deployment_the_fleet_labels_new_clips_with_the_model(
    run: Callable[..., CliResult], data: Path, labelled_fleet: Labelled
) -> None:
    trained = ok(run("models", "train", labelled_fleet.snapshot_id))
    deployed = ok(run("models", "deploy", trained["model_id"]))
    assert deployed["model_id"] == trained["model_id"] and deployed["deployed_at"]
    assert [m["deployed"] for m in ok(run("models", "list"))] == [True]
    with open_store(data) as store, store.connect() as conn:
        before = set(conn.execute(select(clips.c.id)).scalars())
    simulated = run("simulate", *LATER)  # its progress goes to stderr
    assert simulated.code == 0 and simulated.json()["clips"] >= 1
    with open_store(data) as store:
        with store.connect() as conn:
            new = conn.execute(select(clips).where(clips.c.id.not_in(before))).all()
            cameras = {row.camera_id: camera_of(conn, row.camera_id) for row in new}
        model_id, model = deployed_model(store) or (None, None)
        assert model_id == trained["model_id"] and model is not None
        for row in new:
            # The fleet labelled it from the track its capture recorded, and stored that track with it.
            away = mode_at(store, row.household_id, row.started_at) == "away"
            features = summarise(track_from_document(row.motion_track), cameras[row.camera_id], away)
            [(label, confidence)] = model.predict(features)
            assert (row.ai_model_id, row.ai_label, row.ai_alert) == (model_id, label, label == "intruder")
            assert row.ai_confidence == round(confidence, 3)
        with store.connect() as conn:
            assert conn.execute(select(clips.c.ai_model_id).where(clips.c.id.in_(before))).scalars().all() == [
                None
            ] * len(before)


def test_bad_input_is_refused_and_changes_nothing(
    run: Callable[..., CliResult], data: Path, labelled_fleet: Labelled
) -> None:
    refused(run("models", "train", "ds_unknown"), "unknown snapshot id")
    refused(run("models", "deploy", "mdl_unknown"), "unknown model id")
    refused(run("models", "train", labelled_fleet.snapshot_id, "--shards", "0"), "--shards")
    trained = ok(run("models", "train", labelled_fleet.snapshot_id))
    artefact = data / "models" / trained["sha256"]
    artefact.write_bytes(artefact.read_bytes() + b"\0")
    refused(run("models", "deploy", trained["model_id"]), "altered")
    assert _count(data, model_deployments) == 0
    ok(run("clips", "delete", _a_clip_in_the_snapshot(data, labelled_fleet)))
    refused(run("models", "train", labelled_fleet.snapshot_id, "--seed", "9"), "superseded")
    assert _count(data, models) == 1


def test_a_deployed_model_altered_on_disk_stops_the_fleet_before_it_stores_a_clip(
    run: Callable[..., CliResult], data: Path, labelled_fleet: Labelled
) -> None:
    trained = ok(run("models", "train", labelled_fleet.snapshot_id))
    ok(run("models", "deploy", trained["model_id"]))
    clips_before = _count(data, clips)
    (data / "models" / trained["sha256"]).write_bytes(b"not the model")
    refused(run("simulate", *LATER), "altered")
    assert _count(data, clips) == clips_before

"""`datasets snapshot|list|show` through the command line, on both backends: a snapshot holds exactly the
clips the enforcement point allows for training, each with its lineage; its id is its manifest's hash, which
is an audit leaf, and each clip considered is a logged decision; an erasure supersedes the snapshots that
held the clip; bad input is one line, exit 1, nothing written."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cli_support import ok, refused
from sqlalchemy import update

from clipwarden.consent.notices import NOTICES, in_force
from clipwarden.domain import AiVerdict, Camera, Household
from clipwarden.policy.decision import Actor
from clipwarden.services import ingest_clip, owner, register_camera, register_household, reviewer
from clipwarden.services.consolidation import consolidate
from clipwarden.services.screening import quarantine
from clipwarden.services.users import actor_for_token, add_user
from clipwarden.store import Store
from clipwarden.store.schema import clip_controls, clips
from clipwarden.times import utc_now

if TYPE_CHECKING:
    from conftest import CliResult, Fleet

Cli = Callable[..., "CliResult"]
REVIEW, TRAINING, TROUBLESHOOTING = "human_review_for_model_improvement", "automated_training", "troubleshooting"
# CONTRACT: what `datasets snapshot`, `datasets list` and `datasets show` print.
SNAPSHOT_FIELDS = {"snapshot_id", "sha256", "items", "excluded"}
LIST_FIELDS = {"snapshot_id", "sha256", "created_at", "items", "superseded_by"}
ITEM_FIELDS = {"item_id", "clip_sha256", "consent_id", "notice_version", "label", "confidence", "redacted"}
# What happens to each clip after it is labelled, and the reason `excluded` counts it under.
FATES = ["withdrawn", "deleted", "quarantined", "expired", "held_by_screen"]


@dataclass
class Labelled:
    """One household whose clips were shared and labelled through the real services, then each met a fate."""

    owner: Actor
    sha256: dict[str, str] = field(default_factory=dict)  # clip id -> SHA-256 of its media
    consent: dict[str, str] = field(default_factory=dict)  # clip id -> consent id
    by_fate: dict[str, str] = field(default_factory=dict)  # "included", "unredacted", a fate -> clip id


def _actor(store: Store, role: str, household_id: str | None, site: str | None, at: datetime) -> Actor:
    token = add_user(store, role, household_id, site, at)["token"]
    with store.connect() as conn:
        actor = actor_for_token(conn, token)
    assert actor is not None
    return actor


def _review_everything(store: Store, at: datetime) -> None:
    """Two reviewers answer every task; they agree, so each clip's label is settled."""
    for name in ("ana", "bo"):
        who = _actor(store, "reviewer", None, "us-sea", at)
        while (work := reviewer.request_work(store, who, name, at)) is not None:
            reviewer.annotate(store, who, work["task_token"], reviewer.Answer("pet"), at)
    consolidate(store, at)


@pytest.fixture
def labelled(store: Store, fleet_class: type[Fleet]) -> Labelled:
    at = utc_now() - timedelta(hours=1)  # the command line acts at the real time, after all of this
    register_household(store, Household("hh-ds", "US", "plus", "Di Example", "4 Sample Lane"))
    camera = Camera("cam-ds", "hh-ds", "porch", "entrance")
    register_camera(store, camera)
    made = Labelled(_actor(store, "owner", "hh-ds", None, at))
    roles = ["included", "unredacted", "troubleshooting", *FATES]
    for n, role in enumerate(roles):
        recorded = fleet_class.recording(camera.id, at - timedelta(days=1, minutes=n), 100 + n)
        clip_id = ingest_clip(store, recorded, AiVerdict("pet", False, 0.7))
        purposes = [TROUBLESHOOTING] if role == "troubleshooting" else [REVIEW, TRAINING]
        shared = owner.share_clip(store, made.owner, clip_id, purposes, None, role == "unredacted", None, at)
        assert not shared.get("held"), shared
        made.sha256[clip_id] = hashlib.sha256(recorded.data).hexdigest()
        made.consent[clip_id] = shared["consent_id"]
        made.by_fate[role] = clip_id
    _review_everything(store, at + timedelta(minutes=1))
    return made


def _befall(store: Store, cli: Cli, made: Labelled) -> None:
    """Each fate, through the service or command a person's request would reach."""
    at = utc_now() - timedelta(minutes=30)
    owner.withdraw_consent(store, made.owner, made.consent[made.by_fate["withdrawn"]], at)
    assert cli("clips", "delete", made.by_fate["deleted"]).code == 0
    with store.begin() as conn:
        quarantine(conn, made.by_fate["quarantined"], at, "a reviewer stopped the view: private content")
        expired, held = made.by_fate["expired"], made.by_fate["held_by_screen"]
        conn.execute(update(clips).where(clips.c.id == expired).values(expires_at=at))
        # The screen's verdict as the gate reads it, for a clip the owner has not confirmed.
        conn.execute(update(clip_controls).where(clip_controls.c.clip_id == held).values(screen_flagged=True))


def test_a_snapshot_holds_only_what_the_gate_allows_for_training(cli: Cli, store: Store, labelled: Labelled) -> None:
    _befall(store, cli, labelled)
    made = ok(cli("datasets", "snapshot"))
    assert made.keys() >= SNAPSHOT_FIELDS
    assert made["items"] == 2
    assert made["excluded"] == {"no_training_consent": 1} | {fate: 1 for fate in FATES}
    shown = ok(cli("datasets", "show", made["snapshot_id"]))
    assert (shown["snapshot_id"], shown["sha256"], shown["intact"]) == (made["snapshot_id"], made["sha256"], True)
    included, unredacted = labelled.by_fate["included"], labelled.by_fate["unredacted"]
    by_clip = {item["clip_sha256"]: item for item in shown["items"]}
    assert set(by_clip) == {labelled.sha256[included], labelled.sha256[unredacted]}
    for clip_id in (included, unredacted):
        item = by_clip[labelled.sha256[clip_id]]
        assert item.keys() >= ITEM_FIELDS | {"receipt_sha256", "provenance", "residency"}
        assert clip_id not in json.dumps(item) and "hh-ds" not in json.dumps(item)  # pseudonymous
        shown_to_owner = in_force(NOTICES, item["purpose"], utc_now() - timedelta(hours=1))  # when it was given
        assert shown_to_owner is not None
        expected = (labelled.consent[clip_id], shown_to_owner.version, "pet")
        assert (item["consent_id"], item["notice_version"], item["label"]) == expected
        receipt = owner.receipt(store, labelled.owner, item["consent_id"])
        assert item["receipt_sha256"] == hashlib.sha256(receipt.encode()).hexdigest()
        assert item["confidence"] >= 0.9 and len(item["provenance"]["annotation_ids"]) == 2
        assert (item["residency"], item["redacted"]) == ("US", clip_id == included)
    listed = ok(cli("datasets", "list"))
    assert [snapshot["snapshot_id"] for snapshot in listed] == [made["snapshot_id"]]
    assert listed[0].keys() >= LIST_FIELDS and listed[0]["superseded_by"] is None and listed[0]["items"] == 2


def test_the_snapshot_id_is_the_hash_of_its_canonical_manifest(cli: Cli, labelled: Labelled) -> None:
    first = ok(cli("datasets", "snapshot"))
    again = ok(cli("datasets", "snapshot"))
    assert (again["snapshot_id"], again["sha256"], again["existing"]) == (first["snapshot_id"], first["sha256"], True)
    assert len(ok(cli("datasets", "list"))) == 1
    shown = ok(cli("datasets", "show", first["snapshot_id"]))
    manifest = {"format": "clipwarden-dataset/1", "min_confidence": 0.9, "items": shown["items"]}
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert hashlib.sha256(canonical).hexdigest() == first["sha256"]
    stricter = ok(cli("datasets", "snapshot", "--min-confidence", "0.95"))
    assert stricter["sha256"] != first["sha256"]


def test_the_manifest_hash_is_an_audit_leaf_and_each_clip_considered_a_logged_decision(
    cli: Cli, store: Store, labelled: Labelled
) -> None:
    _befall(store, cli, labelled)
    made = ok(cli("datasets", "snapshot"))
    entries = ok(cli("audit", "entries"))
    leaves = {entry["index"]: json.loads(base64.b64decode(entry["leaf_b64"])) for entry in entries}
    leaf = leaves[made["audit_index"]]
    assert (leaf["kind"], leaf["sha256"], leaf["snapshot_id"]) == (
        "dataset_snapshot",
        made["sha256"],
        made["snapshot_id"],
    )
    proof = ok(cli("audit", "prove", str(made["audit_index"])))
    assert proof["leaf_hash"] == entries[made["audit_index"]]["leaf_hash"]
    training = [
        leaf
        for index, leaf in leaves.items()
        if index < made["audit_index"] and leaf["kind"] == "decision" and leaf["action"] == "train"
    ]
    assert {leaf["actor"]["role"] for leaf in training} == {"system"}
    assert sorted(leaf["resource"]["id"] for leaf in training if leaf["allow"]) == sorted(
        labelled.by_fate[role] for role in ("included", "unredacted")
    )
    assert len([leaf for leaf in training if not leaf["allow"]]) == sum(made["excluded"].values())
    assert ok(cli("audit", "verify"))["ok"] is True


@pytest.mark.parametrize("erasure", ["clips delete", "households erase"])
def test_an_erasure_supersedes_the_snapshots_that_held_its_clips(cli: Cli, labelled: Labelled, erasure: str) -> None:
    made = ok(cli("datasets", "snapshot"))
    held_shas = {item["clip_sha256"] for item in ok(cli("datasets", "show", made["snapshot_id"]))["items"]}
    included = sorted(clip_id for clip_id, sha256 in labelled.sha256.items() if sha256 in held_shas)
    assert len(included) == made["items"] == 7  # every clip but the troubleshooting one
    subject = "hh-ds" if erasure == "households erase" else included[0]
    certificate = ok(cli(*erasure.split(), subject))
    held = [artefact for artefact in certificate["artefacts"] if artefact["kind"] == "dataset_snapshot"]
    erased = included if erasure == "households erase" else included[:1]
    assert held == [
        {"kind": "dataset_snapshot", "snapshot_id": made["snapshot_id"], "clip_ids": erased, "superseded": True}
    ]
    assert certificate["verified"] is True
    [listed] = ok(cli("datasets", "list"))
    assert listed["superseded_by"] is None and listed["superseded_at"] is not None
    why = "a household was erased" if erasure == "households erase" else "a clip was deleted"
    assert listed["superseded_reason"] == f"erasure: {why}; {len(erased)} of its items removed"
    shown = ok(cli("datasets", "show", made["snapshot_id"]))
    assert shown["intact"] is False
    assert not {labelled.sha256[clip_id] for clip_id in erased} & {item["clip_sha256"] for item in shown["items"]}
    again = cli("datasets", "snapshot")
    if erasure == "households erase":
        refused(again, "no clip is eligible")
    else:
        assert ok(again)["snapshot_id"] != made["snapshot_id"]


def test_the_text_forms_name_the_snapshot_and_what_was_left_out(cli: Cli, store: Store, labelled: Labelled) -> None:
    _befall(store, cli, labelled)
    made = cli("datasets", "snapshot", as_json=False)
    assert made.code == 0 and "2 items" in made.out and "excluded, withdrawn: 1" in made.out
    snapshot_id = made.out.split()[1].rstrip(":")
    shown = cli("datasets", "show", snapshot_id, as_json=False)
    assert shown.code == 0 and shown.out.count("pet (") == 2 and "unredacted" in shown.out
    assert "1 snapshots" in cli("datasets", "list", as_json=False).out


@pytest.mark.parametrize("value", ["2", "0", "-0.5", "nan"])
def test_a_confidence_outside_0_to_1_is_refused_and_nothing_is_written(
    cli: Cli, labelled: Labelled, value: str
) -> None:
    size = ok(cli("audit", "root"))["size"]
    refused(cli("datasets", "snapshot", "--min-confidence", value), "--min-confidence must be in (0, 1]")
    assert ok(cli("datasets", "list")) == []
    assert ok(cli("audit", "root"))["size"] == size


def test_no_eligible_clip_is_one_line_nothing_stored_and_the_attempt_logged(
    cli: Cli, store: Store, kept_fleet: Fleet
) -> None:
    refused(cli("datasets", "snapshot"), "no clip is eligible for training now")
    assert ok(cli("datasets", "list")) == []
    entries = ok(cli("audit", "entries"))
    last = json.loads(base64.b64decode(entries[-1]["leaf_b64"]))
    assert (last["kind"], last["refused"]) == ("dataset_snapshot", "no eligible clip")


def test_an_unknown_snapshot_is_one_line(cli: Cli, kept_fleet: Fleet) -> None:
    refused(cli("datasets", "show", "ds_0000000000000000"), "unknown snapshot id")


@pytest.mark.slow
def test_the_demo_closes_the_loop_and_its_report_shows_before_and_after(cli_raw: Cli, tmp_path: Path) -> None:
    data = str(tmp_path / "demo")
    # A fixed day: its first four hours (the held-out fleet's) are a morning, whatever the hour the test runs.
    options = ["--households", "1", "--hours", "8", "--tester-rate", "1", "--start", "2026-01-05T06:00:00Z"]
    demo = cli_raw("--data", data, "--json", "demo", *options)
    assert demo.code == 0, demo.err
    report = demo.json()
    learning = report["learning"]
    snapshot, model, held_out = learning["snapshot"], learning["model"], learning["held_out"]
    assert snapshot["items"] == model["items"] > 0
    # The snapshot and the deployed model are the user's, as the commands show them.
    assert [s["snapshot_id"] for s in ok(cli_raw("--data", data, "--json", "datasets", "list"))] == [
        snapshot["snapshot_id"]
    ]
    listed = ok(cli_raw("--data", data, "--json", "models", "list"))
    assert [(m["model_id"], m["deployed"]) for m in listed] == [(model["model_id"], True)]
    # Before and after are scored on the same held-out clips, of another seed.
    assert held_out["seed"] != report["run"]["seed"] and held_out["clips"] > 0
    for card, name in ((learning["before"], "rules"), (learning["after"], model["model_id"])):
        assert card["model"] == name and card["clips"] == held_out["clips"]
        low, high = card["accuracy_ci95"]
        assert low <= card["accuracy"] <= high
    png = (tmp_path / "demo" / "report-learning.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    html = (tmp_path / "demo" / "report.html").read_text()
    assert "The learning loop" in html and base64.b64encode(png).decode() in html
    assert model["model_id"] in html


def test_a_demo_with_nothing_to_learn_from_says_so(cli_raw: Cli, tmp_path: Path) -> None:
    data = str(tmp_path / "demo")
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "report-learning.png").write_bytes(b"an earlier run's plot")  # must not stay
    options = ["--households", "1", "--hours", "2", "--share-rate", "0", "--tester-rate", "0"]
    demo = cli_raw("--data", data, "--json", "demo", *options, "--reviewers-per-site", "0")
    assert demo.code == 0, demo.err
    report = demo.json()
    assert "no clip is eligible for training now" in report["learning"]["skipped"]
    assert ok(cli_raw("--data", data, "--json", "models", "list")) == []
    assert not (tmp_path / "demo" / "report-learning.png").exists()
    assert "No model was trained" in (tmp_path / "demo" / "report.html").read_text()

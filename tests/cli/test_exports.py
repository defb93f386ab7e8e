"""`datasets export ID DIR --format cvat-video|label-studio|coco` through the command line: each format loads
in the tools it is for (datumaro for CVAT and COCO, pycocotools, label-studio-sdk's label interface against the
exported config); the media are redacted unless the owner allowed otherwise and carry the export's watermark,
which `trace` reads back from a clip or a keyframe; every item is a logged decision of the gate, items it
refuses are left out and counted; a deletion certificate names the exports that carried the clip; bad input is
one line, exit 1, nothing written, nothing stored, the attempt logged."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pytest
from cli_support import ok, refused
from media.scenes import crossing, frames
from sqlalchemy import func, select, update

from clipwarden.domain import LABELS, AiVerdict, Camera, Household, RecordedClip
from clipwarden.media.codec import EncodeSettings, decode_frames, encode_mp4, probe
from clipwarden.policy.decision import Actor
from clipwarden.services import ingest_clip, owner, register_camera, register_household, reviewer
from clipwarden.services.consolidation import consolidate
from clipwarden.services.users import actor_for_token, add_user
from clipwarden.store import Store
from clipwarden.store.schema import clips, dataset_export_items, dataset_exports
from clipwarden.times import utc_now

if TYPE_CHECKING:
    from conftest import CliResult

Cli = Callable[..., "CliResult"]
REVIEW, TRAINING = "human_review_for_model_improvement", "automated_training"
WIDTH, HEIGHT, FPS, SECONDS = 320, 180, 10, 3
# CONTRACT: what `datasets export` prints, and what `trace` prints for an export.
EXPORT_FIELDS = {"snapshot_id", "format", "path", "items"}
TRACE_FIELDS = {"export", "snapshot_id", "confidence"}
# The box one reviewer drew on the "boxed" clip (fractions of the frame), and the segment they marked.
DRAWN = {"t_s": 1.0, "x": 0.25, "y": 0.4, "w": 0.2, "h": 0.5}
SEGMENT = {"start_s": 0.5, "end_s": 2.0, "label": "pet"}


@dataclass
class Exportable:
    """A household whose clips were shared for review and training, answered by two reviewers (one drew a box
    and a segment on one clip) and consolidated; one clip may be seen unredacted."""

    owner: Actor
    clip_ids: dict[str, str] = field(default_factory=dict)  # role -> clip id
    consent_ids: dict[str, str] = field(default_factory=dict)  # role -> the consent of the clip's share


def _actor(store: Store, role: str, household_id: str | None, site: str | None, at: Any) -> Actor:
    token = add_user(store, role, household_id, site, at)["token"]
    with store.connect() as conn:
        actor = actor_for_token(conn, token)
    assert actor is not None
    return actor


@pytest.fixture
def exportable(store: Store) -> Exportable:
    at = utc_now() - timedelta(hours=1)  # the command line acts at the real time, after all of this
    register_household(store, Household("hh-ex", "US", "plus", "Ex Ample", "5 Sample Way"))
    register_camera(store, Camera("cam-ex", "hh-ex", "hall", "entrance", WIDTH, HEIGHT, FPS))
    made = Exportable(_actor(store, "owner", "hh-ex", None, at))
    for n, role in enumerate(("boxed", "motion", "unredacted")):
        scene = list(frames(WIDTH, HEIGHT, FPS * SECONDS, [crossing(FPS * SECONDS)], seed=n))
        data = encode_mp4(scene, WIDTH, HEIGHT, FPS)
        recorded = RecordedClip(
            "cam-ex", at - timedelta(days=1, minutes=10 * n), SECONDS, WIDTH, HEIGHT, FPS, "h264", data
        )
        clip_id = ingest_clip(store, recorded, AiVerdict("pet", False, 0.7))
        shared = owner.share_clip(store, made.owner, clip_id, [REVIEW, TRAINING], None, role == "unredacted", None, at)
        assert not shared.get("held"), shared
        made.clip_ids[role] = clip_id
        made.consent_ids[role] = shared["consent_id"]
    answered = at + timedelta(minutes=1)
    for name in ("ana", "bo"):
        who = _actor(store, "reviewer", None, "us-sea", answered)
        while (work := reviewer.request_work(store, who, name, answered)) is not None:
            boxed = _clip_of(store, work["task_token"]) == made.clip_ids["boxed"] and name == "ana"
            answer = reviewer.Answer("pet", None, (SEGMENT,), (DRAWN,)) if boxed else reviewer.Answer("pet")
            reviewer.annotate(store, who, work["task_token"], answer, answered)
    consolidate(store, answered)
    return made


def _clip_of(store: Store, token: str) -> str:
    from clipwarden.store.schema import review_leases

    with store.connect() as conn:
        return str(conn.execute(select(review_leases.c.clip_id).where(review_leases.c.id == token)).scalar_one())


def _export(cli: Cli, target: Path, fmt: str) -> dict[str, Any]:
    snapshot = ok(cli("datasets", "snapshot"))
    assert snapshot["items"] == 3
    made = ok(cli("datasets", "export", snapshot["snapshot_id"], str(target), "--format", fmt))
    assert made.keys() >= EXPORT_FIELDS | {"export_id", "excluded", "audit_index"}
    assert (made["snapshot_id"], made["format"], made["path"]) == (snapshot["snapshot_id"], fmt, str(target))
    return made


def _manifest(target: Path) -> dict[str, Any]:
    return dict(json.loads((target / "clipwarden-export.json").read_text()))


def test_cvat_video_loads_in_datumaro_with_tracks_labels_and_segments(
    cli: Cli, exportable: Exportable, tmp_path: Path
) -> None:
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset

    target = tmp_path / "cvat"
    made = _export(cli, target, "cvat-video")
    assert (made["items"], made["excluded"]) == (3, {})
    by_item = {item["item_id"]: item for item in _manifest(target)["items"]}
    loaded = Dataset.import_from(str(target / "annotations"), "cvat")
    labels = loaded.categories()[AnnotationType.label]
    assert [label.name for label in labels] == list(LABELS)
    assert set(loaded.subsets()) == set(by_item)  # one task (XML file) per item
    for item_id, item in by_item.items():
        boxes = [
            (int(frame.id.rsplit("_", 1)[-1]), annotation)
            for frame in loaded.get_subset(item_id)
            for annotation in frame.annotations
            if annotation.type == AnnotationType.bbox and not annotation.attributes["outside"]
        ]
        assert boxes, item_id
        assert {labels[box.label].name for _, box in boxes} == {box.attributes["clip_label"] for _, box in boxes}
        assert {box.attributes["machine_made"] for _, box in boxes} == {item["boxes"] != "reviewers"}
        assert max(frame for frame, _ in boxes) < probe(target / "videos" / f"{item_id}.mp4").frames
    boxed = next(item_id for item_id, item in by_item.items() if item["boxes"] == "reviewers")
    [(frame, drawn)] = [
        (int(frame.id.rsplit("_", 1)[-1]), a)
        for frame in loaded.get_subset(boxed)
        for a in frame.annotations
        if a.type == AnnotationType.bbox and not a.attributes["outside"]  # a track ends with an outside box
    ]
    assert frame == round(DRAWN["t_s"] * FPS) and drawn.attributes["segment"] == "pet"  # inside 0.5 s to 2.0 s
    assert drawn.get_bbox() == pytest.approx([0.25 * WIDTH, 0.4 * HEIGHT, 0.2 * WIDTH, 0.5 * HEIGHT], abs=0.01)


def test_coco_loads_in_pycocotools_and_datumaro_with_traceable_keyframes(
    cli: Cli, exportable: Exportable, tmp_path: Path
) -> None:
    from datumaro.components.dataset import Dataset
    from pycocotools.coco import COCO

    target = tmp_path / "coco"
    made = _export(cli, target, "coco")
    coco = COCO(str(target / "annotations" / "instances_default.json"))
    assert [category["name"] for category in coco.loadCats(coco.getCatIds())] == [
        "intruder",
        "resident",
        "visitor",
        "pet",
        "vehicle",
        "environment",
        "no_event",
    ]
    images = coco.loadImgs(coco.getImgIds())
    assert {image["item_id"] for image in images} == {item["item_id"] for item in _manifest(target)["items"]}
    for image in images:
        assert (target / "images" / "default" / image["file_name"]).is_file()
        boxes = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        assert boxes and all(coco.loadCats(box["category_id"])[0]["name"] == "pet" for box in boxes)
    sources = {box["attributes"]["machine_made"] for box in coco.loadAnns(coco.getAnnIds())}
    assert sources == {True, False}  # the reviewer's box and the motion detector's
    loaded = Dataset.import_from(str(target), "coco_instances")
    assert len(loaded) == len(images) and sum(len(item.annotations) for item in loaded) == len(coco.getAnnIds())
    assert not (target / "videos").exists()  # COCO is images only
    keyframe = target / "images" / "default" / images[0]["file_name"]
    traced = ok(cli("trace", str(keyframe)))
    assert traced.keys() >= TRACE_FIELDS and traced["confidence"] > 2.5
    assert (traced["export"], traced["snapshot_id"]) == (made["export_id"], made["snapshot_id"])
    # Re-saved as a JPEG of quality 75 and scaled to half size, as a leaked screenshot might be, it still names it.
    picture = cv2.imread(str(keyframe))
    half = cv2.resize(picture, (WIDTH // 2, HEIGHT // 2), interpolation=cv2.INTER_AREA)
    leaked = tmp_path / "leaked-frame.jpg"
    cv2.imwrite(str(leaked), half, [cv2.IMWRITE_JPEG_QUALITY, 75])
    assert ok(cli("trace", str(leaked)))["export"] == made["export_id"]


def test_label_studio_tasks_validate_against_the_exported_config(
    cli: Cli, exportable: Exportable, tmp_path: Path
) -> None:
    from label_studio_sdk.label_interface import LabelInterface

    target = tmp_path / "ls"
    _export(cli, target, "label-studio")
    interface = LabelInterface((target / "config.xml").read_text())
    interface.validate()
    tasks = json.loads((target / "tasks.json").read_text())
    assert len(tasks) == 3
    kinds: set[str] = set()
    for task in tasks:
        assert (target / task["data"]["video"]).is_file()
        for annotation in task["annotations"]:
            assert interface.validate_annotation(annotation), annotation
            kinds |= {region["type"] for region in annotation["result"]}
        for prediction in task["predictions"]:
            assert interface.validate_prediction(prediction, return_errors=True) == []
            assert prediction["model_version"] == "clipwarden-motion-detector"
            kinds |= {region["type"] for region in prediction["result"]}
    assert kinds == {"choices", "timelinelabels", "videorectangle"}


def test_media_are_redacted_unless_allowed_and_trace_names_the_export(
    cli: Cli, store: Store, exportable: Exportable, tmp_path: Path
) -> None:
    target = tmp_path / "cvat"
    made = _export(cli, target, "cvat-video")
    redacted = {item["item_id"]: item["redacted"] for item in _manifest(target)["items"]}
    assert sorted(redacted.values()) == [False, True, True]
    with store.connect() as conn:
        rows = conn.execute(
            select(dataset_export_items.c.clip_id, dataset_export_items.c.item_id, clips.c.blob_sha256).join(
                clips, clips.c.id == dataset_export_items.c.clip_id
            )
        )
        carried = {row.clip_id: (row.item_id, row.blob_sha256) for row in rows}
    unredacted = carried[exportable.clip_ids["unredacted"]][0]
    assert redacted[unredacted] is False
    for item_id, blob in carried.values():
        # What changed from the stored clip: the hidden mark and re-encoding, and where redacted the figure.
        exported = np.stack(list(decode_frames(target / "videos" / f"{item_id}.mp4"))).astype(np.int16)
        original = np.stack(list(decode_frames(store.blobs.get(blob)))).astype(np.int16)
        changed = float(np.percentile(np.abs(exported - original), 99.9))
        # 99.9th percentile: about 14 levels for the mark and the codec alone, about 50 where the figure went.
        assert (changed > 30) == redacted[item_id], (item_id, changed)
    clip = target / "videos" / f"{unredacted}.mp4"
    traced = ok(cli("trace", str(clip)))
    assert traced.keys() >= TRACE_FIELDS and traced["confidence"] > 2.5  # unmarked video reads about 1.5
    assert (traced["export"], traced["snapshot_id"], traced["format"]) == (
        made["export_id"],
        made["snapshot_id"],
        "cvat-video",
    )
    # A copy re-encoded at a lower quality still names it (a 32-bit check guards the payload it reads).
    leaked = tmp_path / "leak.mp4"
    leaked.write_bytes(encode_mp4(list(decode_frames(clip)), WIDTH, HEIGHT, FPS, EncodeSettings(crf=30)))
    assert ok(cli("trace", str(leaked)))["export"] == made["export_id"]


def test_each_item_is_a_logged_decision_and_refused_items_are_left_out(
    cli: Cli, store: Store, exportable: Exportable, tmp_path: Path
) -> None:
    snapshot = ok(cli("datasets", "snapshot"))
    # Past its retention although the sweep has not run: the snapshot still lists it; the gate refuses it now.
    with store.begin() as conn:
        expired = exportable.clip_ids["motion"]
        conn.execute(update(clips).where(clips.c.id == expired).values(expires_at=utc_now() - timedelta(minutes=1)))
    made = ok(cli("datasets", "export", snapshot["snapshot_id"], str(tmp_path / "out"), "--format", "coco"))
    assert (made["items"], made["excluded"]) == (2, {"expired": 1})
    entries = ok(cli("audit", "entries"))
    leaves = {entry["index"]: json.loads(base64.b64decode(entry["leaf_b64"])) for entry in entries}
    decisions = [leaf for index, leaf in leaves.items() if leaf["kind"] == "decision" and leaf["action"] == "export"]
    assert {leaf["actor"]["role"] for leaf in decisions} == {"system"}
    assert sorted((leaf["resource"]["id"], leaf["allow"]) for leaf in decisions) == sorted(
        (clip_id, clip_id != expired) for clip_id in exportable.clip_ids.values()
    )
    leaf = leaves[made["audit_index"]]
    assert (leaf["kind"], leaf["export_id"], leaf["items"]) == ("dataset_export", made["export_id"], 2)
    with store.connect() as conn:
        carried = set(conn.execute(select(dataset_export_items.c.clip_id)).scalars())
    assert carried == set(exportable.clip_ids.values()) - {expired}
    log = owner.access_log_for(store, exportable.owner, exportable.clip_ids["boxed"], utc_now())
    assert any(entry["action"] == "export" and entry["allowed"] for entry in log)


@pytest.mark.parametrize("erasure", ["clips delete", "households erase"])
def test_the_deletion_certificate_names_the_exports_that_carried_the_clip(
    cli: Cli, exportable: Exportable, tmp_path: Path, erasure: str
) -> None:
    made = _export(cli, tmp_path / "ls", "label-studio")
    subject = "hh-ex" if erasure == "households erase" else exportable.clip_ids["boxed"]
    certificate = ok(cli(*erasure.split(), subject))
    assert certificate["exports"] == [
        {
            "export_id": made["export_id"],
            "snapshot_id": made["snapshot_id"],
            "format": "label-studio",
            "created_at": made["created_at"],
        }
    ]
    [artefact] = [found for found in certificate["artefacts"] if found["kind"] == "dataset_export"]
    erased = sorted(exportable.clip_ids.values()) if erasure == "households erase" else [subject]
    assert (artefact["clip_ids"], artefact["outside_reach"]) == (erased, True)
    # The export's files are outside the system's reach: they are named, not claimed removed.
    assert (tmp_path / "ls" / "tasks.json").is_file()


def test_a_withdrawal_names_the_exports_that_already_carried_the_clip(
    cli: Cli, exportable: Exportable, tmp_path: Path
) -> None:
    made = _export(cli, tmp_path / "coco", "coco")
    withdrawn = ok(cli("consents", "withdraw", exportable.consent_ids["motion"], "--household", "hh-ex"))
    named = {key: made[key] for key in ("export_id", "snapshot_id", "format", "created_at")}
    assert withdrawn["exports"] == [named]
    # The snapshot that held the clip is superseded: it cannot be exported again.
    again = cli("datasets", "export", made["snapshot_id"], str(tmp_path / "again"), "--format", "coco")
    refused(again, "was superseded (the owner withdrew the clip's share; 1 of its items removed)")


def test_a_snapshot_none_of_whose_items_the_gate_allows_now_is_refused_its_decisions_logged(
    cli: Cli, store: Store, exportable: Exportable, tmp_path: Path
) -> None:
    snapshot_id = ok(cli("datasets", "snapshot"))["snapshot_id"]
    with store.begin() as conn:  # every clip past its retention, the sweep not run yet
        conn.execute(update(clips).values(expires_at=utc_now() - timedelta(minutes=1)))
    target = tmp_path / "out"
    refused(
        cli("datasets", "export", snapshot_id, str(target), "--format", "cvat-video"),
        f"no item of snapshot {snapshot_id} may be exported now; refused: expired 3",
    )
    assert not target.exists() and _stored_exports(store) == 0
    leaves = [json.loads(base64.b64decode(entry["leaf_b64"])) for entry in ok(cli("audit", "entries"))]
    refusals = [leaf for leaf in leaves if leaf["kind"] == "decision" and leaf["action"] == "export"]
    assert len(refusals) == 3 and not any(leaf["allow"] for leaf in refusals)
    assert leaves[-1]["kind"] == "dataset_export" and leaves[-1]["refused"].startswith("no item of snapshot")


def test_a_clip_that_will_not_render_leaves_no_files_and_no_rows(
    cli: Cli, store: Store, exportable: Exportable, tmp_path: Path
) -> None:
    snapshot_id = ok(cli("datasets", "snapshot"))["snapshot_id"]
    with store.connect() as conn:
        damaged = conn.execute(
            select(clips.c.blob_sha256).where(clips.c.id == max(exportable.clip_ids.values()))
        ).scalar()
    store.blobs.path(str(damaged)).write_bytes(b"not a video")  # damaged on disk after the snapshot
    refused(cli("datasets", "export", snapshot_id, str(tmp_path / "out"), "--format", "cvat-video"), "not a playable")
    assert not (tmp_path / "out").exists()
    assert not any(path.name.startswith(".out.") for path in tmp_path.iterdir())  # the staging directory went
    assert _stored_exports(store) == 0
    last = json.loads(base64.b64decode(ok(cli("audit", "entries"))[-1]["leaf_b64"]))
    assert last["kind"] == "dataset_export" and "not a playable video" in last["refused"]


def _stored_exports(store: Store) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(dataset_exports)).scalar_one())


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("unknown snapshot", "unknown snapshot id: ds_0000000000000000"),
        ("unknown format", "unknown export format 'yolo'; one of cvat-video, label-studio, coco"),
        ("not empty", "is not empty"),
        ("a file", "it is not a directory"),
        ("no parent", "cannot write in"),
        ("superseded", "was superseded (erasure: a clip was deleted; 1 of its items removed)"),
    ],
)
def test_bad_input_is_one_line_nothing_written_nothing_stored_and_the_attempt_logged(
    cli: Cli, store: Store, exportable: Exportable, tmp_path: Path, case: str, words: str
) -> None:
    snapshot_id = ok(cli("datasets", "snapshot"))["snapshot_id"]
    target, fmt = tmp_path / "out", "cvat-video"
    if case == "unknown snapshot":
        snapshot_id = "ds_0000000000000000"
    elif case == "unknown format":
        fmt = "yolo"
    elif case == "not empty":
        target.mkdir()
        (target / "keep.txt").write_text("mine")
    elif case == "a file":
        target.write_text("mine")
    elif case == "no parent":
        target = tmp_path / "missing" / "out"
    else:
        assert ok(cli("clips", "delete", exportable.clip_ids["motion"]))["verified"] is True
    before = sorted(path.name for path in tmp_path.iterdir())
    refused(cli("datasets", "export", snapshot_id, str(target), "--format", fmt), words)
    assert sorted(path.name for path in tmp_path.iterdir()) == before
    if case == "not empty":
        assert [path.name for path in target.iterdir()] == ["keep.txt"]
    assert _stored_exports(store) == 0
    last = json.loads(base64.b64decode(ok(cli("audit", "entries"))[-1]["leaf_b64"]))
    assert last["kind"] == "dataset_export" and words.split(":")[0] in last["refused"]
    assert ok(cli("audit", "verify"))["ok"] is True


def test_the_text_form_names_the_export(cli: Cli, exportable: Exportable, tmp_path: Path) -> None:
    snapshot_id = ok(cli("datasets", "snapshot"))["snapshot_id"]
    shown = cli("datasets", "export", snapshot_id, str(tmp_path / "out"), "--format", "label-studio", as_json=False)
    assert shown.code == 0 and f"of snapshot {snapshot_id} (label-studio): 3 items" in shown.out

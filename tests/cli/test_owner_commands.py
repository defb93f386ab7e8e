"""`clips list|export|delete`, `households erase` and `retention sweep` as CONTRACT.md describes them,
on both backends, including what they do with bad input: one line on stderr, exit 1, nothing changed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cli_support import ok
from sqlalchemy import select

from clipwarden.store import Store
from clipwarden.store.schema import households

if TYPE_CHECKING:
    from conftest import CliResult, Fleet

Cli = Callable[..., "CliResult"]

# CONTRACT: `clips list --json` prints these fields for every clip.
CONTRACT_FIELDS = {"id", "household_id", "camera_id", "started_at", "duration_s", "width", "height", "fps"}
CONTRACT_FIELDS |= {"codec", "status", "expires_at", "ai_label"}


def test_list_shows_the_stored_clips_with_the_contract_fields(cli: Cli, fleet: Fleet) -> None:
    listed = ok(cli("clips", "list"))
    assert sorted(clip["id"] for clip in listed) == sorted(fleet.all_clip_ids)
    assert [clip["started_at"] for clip in listed] == sorted(clip["started_at"] for clip in listed)
    for clip in listed:
        assert clip.keys() >= CONTRACT_FIELDS
        assert (clip["codec"], clip["status"], clip["width"], clip["fps"]) == ("h264", "stored", 64, 10)
        assert clip["started_at"].endswith("Z") and clip["expires_at"].endswith("Z")
    assert [c["id"] for c in ok(cli("clips", "list", "--household", "hh-plus"))] == fleet.clip_ids["hh-plus"]


def test_list_as_text_is_a_table_that_keeps_ids_whole(cli: Cli, fleet: Fleet) -> None:
    shown = cli("clips", "list", "--household", "hh-plus", as_json=False)  # captured: 80 columns
    assert shown.code == 0
    rows = [line.split() for line in shown.out.splitlines() if line.strip().startswith("clip_")]
    assert [row[0] for row in rows] == fleet.clip_ids["hh-plus"]
    expected = ["hh-plus", "cam-hh-plus", "2025-01-01", "08:00", "intruder", "stored", "2025-01-31", "08:00"]
    assert rows[0][1:] == expected
    assert "3 clips" in shown.out


def test_export_writes_the_exact_bytes(cli: Cli, kept_fleet: Fleet, tmp_path: Path) -> None:
    clip_id = kept_fleet.clip_ids["hh-free"][2]
    exported = ok(cli("clips", "export", clip_id, str(tmp_path / "mine.mp4")))
    written = (tmp_path / "mine.mp4").read_bytes()
    assert written == kept_fleet.media[clip_id]
    assert exported == {"id": clip_id, "path": str(tmp_path / "mine.mp4"), "sha256": kept_fleet.sha256(clip_id)}
    assert hashlib.sha256(written).hexdigest() == exported["sha256"]


def test_delete_certifies_and_the_bytes_leave_the_data_dir(cli: Cli, fleet: Fleet, data_dir: Path) -> None:
    clip_id = fleet.clip_ids["hh-free"][0]
    sha = fleet.sha256(clip_id)
    assert sha in fleet.files_in_blob_dir(data_dir)
    certificate = ok(cli("clips", "delete", clip_id))
    assert certificate["subject"] == {"type": "clip", "id": clip_id}
    assert certificate["certificate_id"].startswith("cert_")
    assert certificate["verified"] is True
    media = [a for a in certificate["artefacts"] if a["kind"] == "clip_media"]
    assert [(a["clip_id"], a["sha256"], a["removed"]) for a in media] == [(clip_id, sha, True)]
    assert sha not in fleet.files_in_blob_dir(data_dir)
    assert clip_id not in [clip["id"] for clip in ok(cli("clips", "list"))]


def test_delete_as_text_names_the_certificate(cli: Cli, fleet: Fleet) -> None:
    shown = cli("clips", "delete", fleet.clip_ids["hh-free"][0], as_json=False)
    assert shown.code == 0
    assert "certificate cert_" in shown.out and "verified" in shown.out


def test_erase_removes_the_households_media_and_personal_data(
    cli: Cli, fleet: Fleet, store: Store, data_dir: Path
) -> None:
    certificate = ok(cli("households", "erase", "hh-plus"))
    assert certificate["subject"] == {"type": "household", "id": "hh-plus"}
    assert certificate["verified"] is True
    erased = {a["clip_id"] for a in certificate["artefacts"] if a["kind"] == "clip_media"}
    assert erased == set(fleet.clip_ids["hh-plus"])
    assert fleet.files_in_blob_dir(data_dir) == {fleet.sha256(c) for c in fleet.clip_ids["hh-free"]}
    with store.connect() as conn:
        row = conn.execute(select(households).where(households.c.id == "hh-plus")).one()
    assert (row.owner_name, row.address, row.status) == ("", "", "erased")
    assert ok(cli("clips", "list", "--household", "hh-plus")) == []
    assert len(ok(cli("clips", "list"))) == 3


def test_sweep_expires_exactly_the_clips_past_their_plans_retention(cli: Cli, fleet: Fleet, data_dir: Path) -> None:
    assert ok(cli("retention", "sweep", "--at", "2025-01-02T07:59:59Z"))["expired"] == []
    assert len(fleet.files_in_blob_dir(data_dir)) == 6
    # Free keeps 24 hours: every free clip, none of the plus ones (30 days).
    swept = ok(cli("retention", "sweep", "--at", "2025-01-03T00:00:00+02:00"))
    assert swept["expired"] == fleet.clip_ids["hh-free"]
    assert fleet.files_in_blob_dir(data_dir) == {fleet.sha256(c) for c in fleet.clip_ids["hh-plus"]}
    assert [c["id"] for c in ok(cli("clips", "list"))] == fleet.clip_ids["hh-plus"]
    assert ok(cli("retention", "sweep", "--at", "2025-01-31T07:00:00Z"))["expired"] == []
    shown = cli("retention", "sweep", "--at", "2025-01-31T10:00:00Z", as_json=False)
    assert shown.code == 0 and "expired 3 clips" in shown.out
    assert fleet.files_in_blob_dir(data_dir) == set()


def _snapshot(cli: Cli, fleet: Fleet, data_dir: Path) -> tuple[Any, set[str]]:
    return ok(cli("clips", "list", "--all")), fleet.files_in_blob_dir(data_dir)


def _assert_refused(result: CliResult, message: str) -> None:
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith(f"error: {message}")
    assert result.err.count("\n") == 1
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["clips", "export", "clip_nope", "{tmp}/x.mp4"], "unknown clip id: clip_nope"),
        (["clips", "export", "{clip}", "{tmp}/no-such-dir/x.mp4"], "cannot write"),
        (["clips", "export", "{clip}", "{tmp}/a-file/x.mp4"], "cannot write"),
        (["clips", "delete", "clip_nope"], "unknown clip id: clip_nope"),
        (["clips", "delete", "{deleted}"], "denied for clip {deleted}: clip is deleted"),
        (["clips", "export", "{deleted}", "{tmp}/x.mp4"], "denied for clip {deleted}: clip is deleted"),
        (["clips", "list", "--household", "nobody"], "unknown household id: nobody"),
        (["households", "erase", "nobody"], "unknown household id: nobody"),
        (["retention", "sweep", "--at", "yesterday"], "not an ISO 8601 time"),
        (
            ["retention", "sweep", "--at", "2030-01-01T00:00:00"],
            "time '2030-01-01T00:00:00' has no UTC offset",
        ),
    ],
    ids=lambda value: value[1] if isinstance(value, list) else None,
)
def test_bad_input_is_one_line_and_changes_nothing(
    cli: Cli, kept_fleet: Fleet, data_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "a-file").write_text("a file, not a directory")
    deleted = kept_fleet.clip_ids["hh-plus"][0]
    ok(cli("clips", "delete", deleted))
    names = {"tmp": str(tmp_path), "clip": kept_fleet.clip_ids["hh-free"][0], "deleted": deleted}
    before = _snapshot(cli, kept_fleet, data_dir)
    _assert_refused(cli(*(arg.format(**names) for arg in args)), message.format(**names))
    assert _snapshot(cli, kept_fleet, data_dir) == before
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("nonsense://x", "malformed --db URL: unsupported database 'nonsense'"),
        ("postgresql+psycopg://", "malformed --db URL: postgresql+psycopg:// names no database"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/x", "cannot open database"),
    ],
)
def test_a_bad_db_url_is_refused_and_the_store_is_untouched(
    cli: Cli, cli_raw: Cli, fleet: Fleet, data_dir: Path, db: str, message: str
) -> None:
    before = _snapshot(cli, fleet, data_dir)
    victim = fleet.clip_ids["hh-free"][0]
    _assert_refused(cli_raw("--data", str(data_dir), "--db", db, "--json", "clips", "delete", victim), message)
    assert _snapshot(cli, fleet, data_dir) == before


@pytest.mark.parametrize("where", ["a-file", "a-file/data"])
def test_an_unwritable_data_dir_is_refused(cli_raw: Cli, tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("a file, not a directory")
    before = sorted(tmp_path.rglob("*"))
    _assert_refused(cli_raw("--data", str(tmp_path / where), "clips", "list"), "data dir")
    assert sorted(tmp_path.rglob("*")) == before


def test_a_real_process_lists_as_json_and_refuses_in_one_line(
    cli_process: Cli, fleet: Fleet, data_dir: Path, db_url: str | None
) -> None:
    options = ["--data", str(data_dir), *(["--db", db_url] if db_url else [])]
    listed = cli_process(*options, "--json", "clips", "list")
    assert listed.code == 0, listed.err
    assert sorted(clip["id"] for clip in listed.json()) == sorted(fleet.all_clip_ids)
    refused = cli_process(*options, "clips", "delete", "clip_nope")
    assert (refused.code, refused.out, refused.err) == (1, "", "error: unknown clip id: clip_nope\n")


def test_a_usage_error_is_one_line(cli_process: Cli, tmp_path: Path) -> None:
    refused = cli_process("--data", str(tmp_path / "data"), "clips", "export")
    _assert_refused(refused, "")

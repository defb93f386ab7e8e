"""`clipwarden simulate` and `clipwarden demo` through the command line: real clips from the simulated
fleet, simulated hours that end now unless a start is given, the same bytes for the same seed and start,
the promised length and size, privacy zones black in every frame, bad input refused, and two runs on one
data dir at once."""

from __future__ import annotations

import base64
import json
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clipwarden.media.codec import decode_frames, probe
from clipwarden.media.zones import zone_mask
from clipwarden.services.users import authenticate
from clipwarden.sim import SimConfig, build_fleet
from clipwarden.sim.reviewers import SITE_DEFAULTS
from clipwarden.store import open_store

# One household, two cameras that both have privacy zones: a few clips, quickly. Its hours end now, so
# what they hold depends on the time of day; runs that count on what happens give a start.
SMALL = ["--households", "1", "--cameras", "2", "--hours", "12", "--seed", "8", "--workers", "1"]
SMALL_CONFIG = SimConfig(seed=8, households=1, cameras_per_household=2, hours=12)
# A Monday, as SimConfig's own default: three activity windows in the first 12 hours with seed 8.
MONDAY = ["--start", "2026-01-05T00:00:00Z"]
DARK = 8  # brightest value a blacked-out pixel may decode to (H.264 is lossy)


def _run(cli_raw: Callable[..., Any], data: Path, *args: str) -> Any:
    result = cli_raw("--data", str(data), "--json", *args)
    assert result.code == 0, result.err
    return result.json()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]], dict[str, Any]]:
    """One small run ending now, shared by the read-only tests below (as a real process, like a user's)."""
    data = tmp_path_factory.mktemp("simulated")
    began = datetime.now(UTC)
    done = subprocess.run(
        [sys.executable, "-m", "clipwarden", "--data", str(data), "--json", "simulate", *SMALL],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "clipwarden", "--data", str(data), "--json", "clips", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    clips, summary = json.loads(listed.stdout), json.loads(done.stdout)
    assert summary["clips"] == len(clips) >= 1
    ends = datetime.fromisoformat(summary["start"]) + timedelta(hours=12)
    assert began - timedelta(seconds=1) <= ends <= datetime.now(UTC)
    return data, clips, summary


def test_every_clip_decodes_lasts_20_to_30_s_at_the_configured_size_and_rate(
    simulated: tuple[Path, list[dict[str, Any]], dict[str, Any]], cli_raw: Callable[..., Any], tmp_path: Path
) -> None:
    data, clips, _ = simulated
    for clip in clips:
        exported = _run(cli_raw, data, "clips", "export", clip["id"], str(tmp_path / f"{clip['id']}.mp4"))
        info = probe(Path(exported["path"]))
        assert info.codec == "h264"
        assert (info.width, info.height, round(info.fps)) == (640, 360, 10)
        assert (clip["width"], clip["height"], clip["fps"]) == (640, 360, 10)
        assert 20.0 <= info.duration_s <= 30.0
        assert 20.0 <= clip["duration_s"] <= 30.0


def test_privacy_zone_pixels_are_black_in_every_frame(
    simulated: tuple[Path, list[dict[str, Any]], dict[str, Any]], cli_raw: Callable[..., Any], tmp_path: Path
) -> None:
    data, clips, _ = simulated
    cameras = {camera.id: camera for camera in build_fleet(SMALL_CONFIG).cameras}
    checked = 0
    for clip in clips:
        camera = cameras[clip["camera_id"]]
        inside = zone_mask(camera.privacy_zones, camera.width, camera.height, snap=1)
        assert inside is not None
        path = _run(cli_raw, data, "clips", "export", clip["id"], str(tmp_path / "zone.mp4"))["path"]
        for frame in decode_frames(Path(path)):
            assert int(frame[inside > 0].max()) <= DARK
            checked += 1
    assert checked >= 200 * len(clips)


def test_the_same_seed_and_start_give_the_same_clips_byte_for_byte(
    simulated: tuple[Path, list[dict[str, Any]], dict[str, Any]], cli_raw: Callable[..., Any], tmp_path: Path
) -> None:
    _, first, summary = simulated
    _run(cli_raw, tmp_path / "again", "simulate", *SMALL, "--start", summary["start"])
    second = _run(cli_raw, tmp_path / "again", "clips", "list")

    def recordings(clips: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return sorted((clip["camera_id"], clip["started_at"], clip["sha256"]) for clip in clips)

    assert recordings(second) == recordings(first)
    other_seed = [*SMALL[:-4], "--seed", "10", *SMALL[-2:], "--start", summary["start"]]
    _run(cli_raw, tmp_path / "other", "simulate", *other_seed)
    assert {c["sha256"] for c in _run(cli_raw, tmp_path / "other", "clips", "list")}.isdisjoint(
        {c["sha256"] for c in first}
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--households", "1000000000"], "households"),
        (["--cameras", "0"], "cameras"),
        (["--hours", "-1"], "hours"),
        (["--size", "640by360"], "--size must look like 640x360"),
        (["--size", "99999x99999"], "width"),
        (["--fps", "1000"], "fps"),
        (["--workers", "0"], "--workers must be between 1 and 32"),
        (["--start", "2026-01-05T00:00:00"], "has no UTC offset"),
        (["--start", "monday"], "not an ISO 8601 time"),
    ],
)
def test_absurd_sizes_are_refused_in_one_line_and_nothing_is_written(
    cli_raw: Callable[..., Any], tmp_path: Path, args: list[str], message: str
) -> None:
    data = tmp_path / "data"
    result = cli_raw("--data", str(data), "simulate", *args)
    assert result.code == 1
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert message in result.err
    assert "Traceback" not in result.err
    assert not data.exists()


def test_a_malformed_db_url_is_refused(cli_raw: Callable[..., Any], tmp_path: Path) -> None:
    result = cli_raw("--data", str(tmp_path / "d"), "--db", "nonsense://x", "simulate", *SMALL)
    assert result.code == 1 and result.err.startswith("error: malformed --db URL")


def test_two_simulate_runs_on_one_data_dir_at_once_store_each_clip_once(tmp_path: Path) -> None:
    data = tmp_path / "shared"
    command = [sys.executable, "-m", "clipwarden", "--data", str(data), "--json"]
    both = [*command, "simulate", *SMALL, *MONDAY]
    runs = [subprocess.Popen(both, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    listed = json.loads(subprocess.run([*command, "clips", "list"], capture_output=True, text=True).stdout)
    per_run = {json.loads(output)["clips"] for output in outputs}
    assert per_run == {len(listed)}
    assert len({(c["camera_id"], c["started_at"]) for c in listed}) == len(listed)
    verified = subprocess.run([*command, "audit", "verify"], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    for clip in listed:
        blob = data / "blobs" / clip["sha256"][:2] / clip["sha256"][2:]
        assert blob.is_file()


def test_the_demo_writes_its_report_and_counts_what_it_stored(cli_raw: Callable[..., Any], tmp_path: Path) -> None:
    data = tmp_path / "demo"
    # As a person runs it, without --json: a bar per stage on stderr, each left full, then the summary.
    demo = ["demo", "--households", "1", "--hours", "12", "--seed", "8", "--workers", "1", "--accounts"]
    shown = cli_raw("--data", str(data), *demo)
    assert shown.code == 0, shown.err
    bars = [line for line in shown.err.splitlines() if line.strip()]
    stages = ("capture", "owners act", "reviewers", "learning loop", "audit log")
    assert [next(i for i, line in enumerate(bars) if line.startswith(stage)) for stage in stages] == [0, 1, 2, 3, 4]
    for line in bars:
        done, total = re.search(r"(\d+)/(\d+)", line).groups()  # type: ignore[union-attr]
        assert done == total, line
    report = json.loads((data / "report.json").read_text())
    assert f"the demo took {report['wall_s']:.1f} s wall" in shown.out
    # --accounts: an owner, a reviewer per site and an auditor can sign in to the pages, from a file only its
    # user may read; the passwords are in no report.
    accounts = data / "demo-accounts.txt"
    assert str(accounts) in shown.out and stat.S_IMODE(accounts.stat().st_mode) == 0o600
    rows = [line.split("\t") for line in accounts.read_text().splitlines() if not line.startswith("#")]
    assert [(name, role) for name, _, role, _ in rows] == [
        ("owner-1", "owner"),
        ("reviewer-in-hyd", "reviewer"),
        ("reviewer-ro-buc", "reviewer"),
        ("reviewer-us-sea", "reviewer"),
        ("auditor", "auditor"),
    ]
    with open_store(data) as store:
        for name, password, role, _ in rows:
            actor = authenticate(store, name, password, datetime.now(UTC))
            assert actor is not None and actor.role == role
    for written in (data / "report.json", data / "report.html"):
        assert not any(password in written.read_text() for _, password, _, _ in rows)
    # The day ended two hours ago, and the reviewers' simulated work is over before now.
    day_ends = datetime.fromisoformat(report["run"]["start"]) + timedelta(hours=12)
    assert datetime.now(UTC) - timedelta(hours=2, minutes=5) <= day_ends <= datetime.now(UTC) - timedelta(hours=2)
    assert datetime.fromisoformat(report["review"]["finished_at"]) <= datetime.now(UTC)
    html = (data / "report.html").read_text()
    assert "clipwarden demo report" in html and f"<td>{report['run']['clips']}</td>" in html
    stored = _run(cli_raw, data, "clips", "list")
    deleted = report["owners"]["actions"].get("delete", 0)
    assert report["run"]["clips"] == report["evaluation"]["clips"] == len(stored) + deleted >= 1
    assert sum(report["evaluation"]["truth_by_label"].values()) == report["run"]["clips"]
    assert report["audit"]["verified"] and report["audit"]["views_without_consent"] == 0
    assert report["wall_s"] > report["run"]["wall_s"] > 0 and report["cpu_s"] > report["run"]["cpu_s"]
    # The simulated day ended now: its newest clip is still the owner's to take away after the demo.
    newest = stored[-1]["id"]
    assert _run(cli_raw, data, "clips", "export", newest, str(tmp_path / "newest.mp4"))["id"] == newest


def test_the_demo_owners_share_withdraw_and_delete_through_the_gate(
    cli_raw: Callable[..., Any], tmp_path: Path
) -> None:
    data = tmp_path / "demo"
    rates = ["--share-rate", "1", "--withdraw-rate", "1", "--delete-rate", "0.3", "--tester-rate", "1"]
    rates += ["--reviewers-per-site", "0"]  # reviewing is the next test's
    report = _run(cli_raw, data, "demo", "--households", "2", "--hours", "12", "--seed", "7", *MONDAY, *rates)
    assert json.loads((data / "report.json").read_text()) == json.loads(json.dumps(report))  # what --json printed
    owners, queue = report["owners"], report["review_queue"]
    assert owners["tester_households"] == 2
    assert owners["actions"]["share"] >= 3 and owners["actions"]["withdraw"] >= 1 and owners["actions"]["delete"] >= 1
    assert owners["tester_clips_queued"] + owners["tester_clips_held"] >= 3
    assert queue["tasks"]["removed"] == owners["tasks_removed_by_withdrawal"] + owners["tasks_removed_by_deletion"] >= 1
    assert report["screen"]["private_reached_queue"] == 0
    erasure = report["erasure"]
    assert erasure["requests"] == erasure["closed_within_deadline"] == owners["actions"]["delete"]
    assert report["audit"]["verified"] and report["audit"]["replay_ok"]
    requests = _run(cli_raw, data, "erasure", "requests")
    assert [r["status"] for r in requests] == ["closed"] * erasure["requests"]
    replay = _run(cli_raw, data, "audit", "replay")
    assert replay["views_without_consent"] == 0
    html = (data / "report.html").read_text()
    assert "Owners, consent and the review queue" in html and "without consent" in html


def test_the_demo_reviewers_annotate_through_the_api(cli_raw: Callable[..., Any], tmp_path: Path) -> None:
    data = tmp_path / "demo"
    options = ["--households", "1", "--hours", "12", "--seed", "8", *MONDAY, "--tester-rate", "1"]
    options += ["--reviewers-per-site", "2"]
    report = _run(cli_raw, data, "demo", *options)
    review = report["review"]
    queued = report["owners"]["tester_clips_queued"]
    assert queued >= 2 and review["reviewers"] == 6
    assert review["views"] >= 2 * queued and review["outcomes"].get("answered", 0) >= 2 * queued - 1
    assert review["consolidation"]["clips_consolidated"] >= queued - 1
    assert report["review_queue"]["tasks"].get("done", 0) >= queued - 1
    audit = report["audit"]
    assert audit["views"] >= review["views"] and audit["views_without_consent"] == 0 and audit["replay_ok"]
    # Every lease ended, so every rendition is gone.
    assert [path for path in (data / "renditions").rglob("*") if path.is_file()] == []
    # The reviewers worked their sites' shifts as the clips came in, not after the day: the log is in time order,
    # and every reviewer's request fell in a shift of the reviewer's site or in the closing shift after the day.
    leaves = [json.loads(base64.b64decode(entry["leaf_b64"])) for entry in _run(cli_raw, data, "audit", "entries")]
    times = [datetime.fromisoformat(leaf["at"]) for leaf in leaves]
    assert times == sorted(times)
    day_starts = datetime.fromisoformat(report["run"]["start"])
    day_ends = day_starts + timedelta(hours=12)
    by_reviewers = [(at, leaf) for at, leaf in zip(times, leaves, strict=True) if _by_reviewer(leaf)]
    assert by_reviewers and review["shifts"] >= 2
    during_the_day = [(at, leaf["actor"]["site"]) for at, leaf in by_reviewers if at < day_ends]
    assert during_the_day
    for at, site in during_the_day:
        assert any(begins <= at < ends for begins, ends in SITE_DEFAULTS[site].shifts(day_starts, day_ends)), (at, site)


def _by_reviewer(leaf: dict[str, Any]) -> bool:
    return leaf["kind"] == "decision" and leaf["actor"].get("role") == "reviewer"


def test_the_demo_refuses_a_rate_outside_zero_to_one(cli_raw: Callable[..., Any], tmp_path: Path) -> None:
    code = cli_raw("--data", str(tmp_path / "d"), "demo", "--withdraw-rate", "1.5")
    assert code.code == 1 and code.err == "error: --withdraw-rate must be between 0 and 1, not 1.5\n"
    assert not (tmp_path / "d" / "report.json").exists()

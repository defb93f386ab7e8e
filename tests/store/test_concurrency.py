"""Two processes ingesting overlapping clip sets into one fresh store at once must leave it whole."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from clipwarden import services
from clipwarden.store import open_store

if TYPE_CHECKING:
    from conftest import Fleet

WORKER = Path(__file__).with_name("ingest_worker.py")
CAMERAS = ("cam-a", "cam-b")
PER_WORKER = 24
OVERLAP = 12


def _write_clips(fleet_class: type[Fleet], tmp_path: Path) -> list[dict[str, str]]:
    clips = []
    for number in range(2 * PER_WORKER - OVERLAP):
        recording = fleet_class.recording(
            CAMERAS[number % 2], fleet_class.start + timedelta(minutes=number), 1000 + number
        )
        file = tmp_path / f"clip-{number}.mp4"
        file.write_bytes(recording.data)
        clips.append(
            {
                "key": str(number),
                "camera_id": recording.camera_id,
                "started_at": recording.started_at.isoformat(),
                "file": str(file),
            }
        )
    return clips


def _start_worker(tmp_path: Path, name: str, manifest: dict[str, object]) -> subprocess.Popen[str]:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({**manifest, "ready": str(tmp_path / f"{name}.ready")}))
    return subprocess.Popen([sys.executable, str(WORKER), str(path)], stdout=subprocess.PIPE, text=True)


def test_two_processes_ingesting_at_once(
    tmp_path: Path, data_dir: Path, empty_db_url: str | None, fleet_class: type[Fleet]
) -> None:
    clips = _write_clips(fleet_class, tmp_path)
    common = {
        "data_dir": str(data_dir),
        "db_url": empty_db_url,
        "cameras": CAMERAS,
        "go": str(tmp_path / "go"),
    }
    workers = [
        _start_worker(tmp_path, "first", {**common, "clips": clips[:PER_WORKER]}),
        _start_worker(tmp_path, "second", {**common, "clips": clips[-PER_WORKER:]}),
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"{name}.ready").exists() for name in ("first", "second")):
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.01)
    (tmp_path / "go").touch()
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    first, second = (json.loads(output) for output in outputs)
    shared = set(first) & set(second)
    assert len(shared) == OVERLAP
    assert all(first[key] == second[key] for key in shared)  # both were told the same id

    with open_store(data_dir, empty_db_url) as store:
        stored = services.list_clips(store)
        assert sorted(clip["id"] for clip in stored) == sorted({**first, **second}.values())
        expected = {clip["key"]: hashlib.sha256(Path(clip["file"]).read_bytes()).hexdigest() for clip in clips}
        by_id = {clip_id: key for key, clip_id in {**first, **second}.items()}
        for clip in stored:
            assert clip["sha256"] == expected[by_id[clip["id"]]]
            assert hashlib.sha256(store.blobs.get(clip["sha256"])).hexdigest() == clip["sha256"]
        assert fleet_class.files_in_blob_dir(data_dir) == {clip["sha256"] for clip in stored}

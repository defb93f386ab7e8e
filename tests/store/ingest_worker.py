"""One of the processes in test_concurrency: waits for the go signal, then opens the store (migrating it
if it is new), registers the fleet and ingests the clips its manifest lists. Prints {key: clip id}."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

from clipwarden import services
from clipwarden.domain import AiVerdict, Camera, Household, RecordedClip
from clipwarden.store import open_store


def main(manifest_path: str) -> None:
    manifest = json.loads(Path(manifest_path).read_text())
    Path(manifest["ready"]).touch()
    while not Path(manifest["go"]).exists():
        time.sleep(0.005)
    verdict = AiVerdict(label="pet", alert=False, confidence=0.5)
    ids = {}
    with open_store(Path(manifest["data_dir"]), manifest["db_url"]) as store:
        services.register_household(store, Household("hh", "EU", "plus"))
        for camera_id in manifest["cameras"]:
            services.register_camera(store, Camera(camera_id, "hh", camera_id, "entrance"))
        for clip in manifest["clips"]:
            recording = RecordedClip(
                camera_id=clip["camera_id"],
                started_at=datetime.fromisoformat(clip["started_at"]),
                duration_s=0.4,
                width=64,
                height=48,
                fps=10,
                codec="h264",
                data=Path(clip["file"]).read_bytes(),
            )
            ids[clip["key"]] = services.ingest_clip(store, recording, verdict)
    json.dump(ids, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])

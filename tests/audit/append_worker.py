"""One of the processes in test_log's concurrency test: opens the store, says it is ready, waits for the go
signal, then appends its entries, one transaction each, and prints the indexes it was given as JSON."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from clipwarden.audit import append
from clipwarden.store import open_store


def main(data_dir: str, db_url: str, name: str, count: int, go: str) -> None:
    indexes = []
    with open_store(Path(data_dir), db_url or None) as store:
        Path(f"{go}.{name}.ready").touch()
        while not Path(go).exists():
            time.sleep(0.005)
        for number in range(count):
            with store.begin() as conn:
                indexes.append(append(conn, "label", datetime.now(UTC), {"worker": name, "n": number}))
    print(json.dumps(indexes))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])

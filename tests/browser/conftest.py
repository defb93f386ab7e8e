"""Browser tests: Playwright driving Debian's Chromium against the real app, served by uvicorn on a free
loopback port in a background thread.

One server per test module, over a store seeded once for it: two households with a camera each and real
320x180 H.264 clips. Each test gets a fresh browser context (no cookies). Without /usr/bin/chromium the
tests skip, except under CI, where they must run and therefore fail. Nothing here downloads a browser.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from argon2 import PasswordHasher

from clipwarden.domain import AiVerdict, Camera, Household, RecordedClip
from clipwarden.media.codec import encode_mp4
from clipwarden.services import ingest_clip, register_camera, register_household, users
from clipwarden.store import Store, open_store
from clipwarden.web.app import create_app
from clipwarden.web.auth import WebSettings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"
# After the notices of 7 Dec 2026 that say how to withdraw in the app, not as an API request.
START = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
CLIPS_PER_HOUSEHOLD = 4


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        message = f"{CHROMIUM} is missing: run `bash scripts/setup test` as root (it installs Debian's chromium)"
        if _under_ci():
            pytest.fail(f"{message} (CI must run the browser tests)")
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's script (npm, pinned in tests/browser/package-lock.json; `bash scripts/setup test` installs it)."""
    if not AXE.is_file():
        message = f"{AXE} is missing: run `bash scripts/setup test` (it installs axe-core with npm)"
        if _under_ci():
            pytest.fail(f"{message} (CI must run the accessibility tests)")
        pytest.skip(message)
    return AXE.read_text()


@pytest.fixture
def page(browser: Any, server: Served) -> Iterator[Any]:
    # Bypassing the pages' CSP lets the accessibility checks inject axe-core; nothing else here injects scripts.
    context = browser.new_context(base_url=server.url, accept_downloads=True, bypass_csp=True)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


def _clip_frames(seed: int, frames: int = 20, width: int = 320, height: int = 180) -> list[np.ndarray]:
    """A bright square crossing a noisy background: a real picture for the decoder, cheap to make."""
    rng = np.random.default_rng(seed)
    background = rng.integers(40, 90, (height, width, 3), dtype=np.uint8)
    made = []
    for number in range(frames):
        frame = background.copy()
        left = 10 + number * 12
        frame[60:120, left : left + 40] = (40, 200, 230)
        made.append(frame)
    return made


@dataclass
class Fleet:
    """What the module's store was seeded with: clip ids by household, and account ids by name."""

    clip_ids: dict[str, list[str]] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)


def _seed(store: Store) -> Fleet:
    seeded = Fleet()
    verdicts = [AiVerdict("intruder", True, 0.9), AiVerdict("pet", False, 0.7)]
    households = [
        Household("hh-free", "EU", "free", "Ada Example", "1 Sample Street"),
        Household("hh-plus", "US", "plus", "Bo Example", "2 Sample Rd"),
    ]
    for number, household in enumerate(households):
        register_household(store, household)
        camera = Camera(f"cam-{household.id}", household.id, f"{household.owner_name}'s door", "entrance")
        register_camera(store, camera)
        seeded.clip_ids[household.id] = []
        for hour in range(CLIPS_PER_HOUSEHOLD):
            data = encode_mp4(_clip_frames(10 * number + hour), 320, 180, 10)
            recording = RecordedClip(camera.id, START + timedelta(hours=hour), 2.0, 320, 180, 10, "h264", data)
            seeded.clip_ids[household.id].append(ingest_clip(store, recording, verdicts[min(hour, 1)]))
    for name, role, household_id in [
        ("free", "owner", "hh-free"),
        ("plus", "owner", "hh-plus"),
        ("auditor", "auditor", None),
    ]:
        seeded.accounts[name] = users.add_user(store, role, household_id, None, START, password=PASSWORD, name=name)[
            "user_id"
        ]
    return seeded


@dataclass
class Served:
    url: str
    store: Store
    fleet: Fleet
    now: datetime
    password: str = PASSWORD  # every seeded account's


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app on a free loopback port, over a store seeded for this module; its clock stands still half
    an hour after the clips were recorded."""
    now = START + timedelta(hours=CLIPS_PER_HOUSEHOLD, minutes=30)
    with pytest.MonkeyPatch.context() as patch, open_store(tmp_path_factory.mktemp("browser") / "data") as store:
        # Cheap Argon2 costs: sign-ins are not what these tests measure (tests/web checks the real ones).
        patch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        fleet = _seed(store)
        app = create_app(store, clock=lambda: now, settings=WebSettings())
        sock = _free_socket()
        uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            _wait_until(lambda: uv.started, "the server did not start")
            yield Served(f"http://127.0.0.1:{sock.getsockname()[1]}", store, fleet, now)
        finally:
            uv.should_exit = True
            thread.join(timeout=10)
            sock.close()


def _wait_until(done: Any, failure: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(failure)
        time.sleep(0.02)


@pytest.fixture
def serve_app() -> Iterator[Any]:
    """Serves apps for one test, each on its own free loopback port: ``serve_app(app)`` -> base URL.
    For tests that need a store of their own rather than the module's shared one."""
    running: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def serve(app: Any) -> str:
        sock = _free_socket()
        uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((uv, thread, sock))
        _wait_until(lambda: uv.started, "the server did not start")
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield serve
    for uv, thread, sock in running:
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()

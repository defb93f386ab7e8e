"""Refusals without a valid credential cost no audit entry each: they are counted per source and interval,
each interval one entry, and a source past its allowance is answered 429 before its request costs a write.
Refusals of a known actor are still logged one by one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pages_support import ORIGIN, Clock, audit_size, cheap_hasher, entries_since
from sqlalchemy import func, select

from clipwarden.services.users import add_user
from clipwarden.store import Store
from clipwarden.store.schema import sign_in_failures
from clipwarden.web.app import create_app
from clipwarden.web.auth import WebSettings
from clipwarden.web.throttle import OTHERS, Allowance, RefusalCounter

ALLOWED = 20  # Allowance's default per source and minute
AWAY = ("192.0.2.7", 40000)  # another source


@pytest.fixture
def clock(fleet_class: Any) -> Clock:
    return Clock(fleet_class.start + timedelta(minutes=30))


@pytest.fixture
def client(store: Store, fleet: Any, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(store, clock=clock, settings=WebSettings())) as made:
        yield made


def _counts(store: Store, since: int) -> list[dict[str, Any]]:
    return [entry["sources"] for entry in entries_since(store, since, "refusals")]


def test_anonymous_refusals_are_counted_in_one_entry_and_throttled(
    client: TestClient, store: Store, clock: Clock
) -> None:
    before = audit_size(store)
    answers = [client.get("/api/clips", headers={"Authorization": "Bearer stolen-or-guessed"}) for _ in range(25)]
    assert [answer.status_code for answer in answers] == [401] * ALLOWED + [429] * 5
    throttled = answers[-1]
    assert "try again in" in throttled.json()["detail"]
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert audit_size(store) == before, "an anonymous refusal cost an audit entry"
    elsewhere = TestClient(client.app, client=AWAY)  # another source has its own allowance
    assert elsewhere.get("/api/clips").status_code == 401
    clock.advance(minutes=1)
    assert client.get("/api/clips").status_code == 401  # a new interval: allowed again, and the last one logged
    [counted] = _counts(store, before)
    assert counted == {"testclient": {"refused": ALLOWED, "throttled": 5}, AWAY[0]: {"refused": 1, "throttled": 0}}
    assert entries_since(store, before, "refusal") == []


def test_the_counts_held_are_written_at_shutdown(store: Store, fleet: Any, clock: Clock) -> None:
    before = audit_size(store)
    with TestClient(create_app(store, clock=clock)) as client:
        assert client.post("/api/review/next", content=b"{", headers={"content-type": "application/json"}).status_code
        assert audit_size(store) == before
    assert _counts(store, before) == [{"testclient": {"refused": 1, "throttled": 0}}]


def test_every_refusal_of_a_known_actor_is_logged_and_never_throttled(
    client: TestClient, store: Store, clock: Clock
) -> None:
    token = add_user(store, "owner", "hh-free", None, clock.now)["token"]
    before = audit_size(store)
    for _ in range(ALLOWED + 5):
        assert client.get("/api/clips/clip_unknown", headers={"Authorization": f"Bearer {token}"}).status_code == 404
    refusals = entries_since(store, before, "refusal")
    assert len(refusals) == ALLOWED + 5 and {entry["status"] for entry in refusals} == {404}


def test_a_throttled_source_is_refused_sign_in_before_the_attempt_is_written(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap_hasher(monkeypatch)

    def attempt(n: int) -> int:
        form = {"user_id": f"user_guess{n}", "password": "a guessed password"}
        return client.post("/sign-in", data=form, headers={"Origin": ORIGIN}).status_code

    assert [attempt(n) for n in range(ALLOWED)] == [401] * ALLOWED
    with store.connect() as conn:
        written = conn.execute(select(func.count()).select_from(sign_in_failures)).scalar_one()
    throttled = client.post("/sign-in", data={"user_id": "user_x", "password": "p" * 12}, headers={"Origin": ORIGIN})
    assert throttled.status_code == 429 and "retry-after" in throttled.headers
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sign_in_failures)).scalar_one() == written


def test_memory_stays_bounded_however_many_sources(clock: Clock) -> None:
    counter = RefusalCounter(Allowance(refusals=2, max_sources=3))
    throttled = [counter.count(f"198.51.100.{n}", clock.now).retry_after_s is not None for n in range(100)]
    assert throttled == [False] * 5 + [True] * 95
    ended = counter.take_all()
    assert ended is not None and len(ended.sources) == 4
    assert ended.sources[OTHERS] == (2, 95)  # the other 97 shared one allowance
    assert counter.take_all() is None

"""Helpers for the page tests: a client that signs in with a password and posts forms the way a browser on
the app's own origin does, accounts with passwords for the seeded fleet, and a cheap password hasher.

Test modules import this file (pytest puts the test's folder on the path); fixtures stay in the modules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clipwarden.audit.entries import parse_leaf
from clipwarden.services import users
from clipwarden.store import Store
from clipwarden.store.schema import audit_entries
from clipwarden.web.app import create_app
from clipwarden.web.auth import WebSettings

ORIGIN = "http://testserver"  # TestClient's base URL: the app's own origin
LOCAL = ("127.0.0.1", 50000)  # a loopback peer, which the default site networks allow
PASSWORD = "correct horse battery staple"


def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with tiny costs: the tests sign in dozens of times; the real cost is tested once."""
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Site:
    """The app over the test's store, its clock, and accounts by name (name -> user id)."""

    store: Store
    clock: Clock
    settings: WebSettings
    accounts: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, role: str, household_id: str | None = None, site: str | None = None) -> str:
        made = users.add_user(self.store, role, household_id, site, self.clock.now, password=PASSWORD)
        self.accounts[name], self.tokens[name] = made["user_id"], made["token"]
        return str(made["user_id"])

    @contextmanager
    def browser(self, client: tuple[str, int] = LOCAL) -> Iterator[PageClient]:
        app = create_app(self.store, clock=self.clock, settings=self.settings)
        with TestClient(app, client=client, follow_redirects=False) as test_client:
            yield PageClient(test_client, self)


@dataclass
class PageClient:
    """One browser: a cookie jar, and forms posted from the app's own pages."""

    http: TestClient
    site: Site

    def sign_in(self, name: str, password: str = PASSWORD) -> httpx.Response:
        return self.http.post(
            "/sign-in",
            data={"user_id": self.site.accounts.get(name, name), "password": password},
            headers={"Origin": ORIGIN},
        )

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def token(self, page: str = "/clips") -> str:
        """The session's form token, read off a page as a browser would have it."""
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.http.get(page).text)
        assert found is not None, f"no form token on {page}"
        return found.group(1)

    def post(self, path: str, data: dict[str, Any] | None = None, token_from: str = "/clips") -> httpx.Response:
        """A form post from the app's own page, carrying the session's token."""
        fields = {"csrf_token": self.token(token_from), **(data or {})}
        return self.http.post(path, data=fields, headers={"Origin": ORIGIN})


def audit_size(store: Store) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_entries)).scalar_one())


def entries_since(store: Store, size: int, kind: str) -> list[dict[str, Any]]:
    """The audit entries of ``kind`` appended after the log had ``size`` entries."""
    with store.connect() as conn:
        leaves = conn.execute(
            select(audit_entries.c.leaf).where(audit_entries.c.idx >= size).order_by(audit_entries.c.idx)
        ).scalars()
        return [entry for entry in map(parse_leaf, leaves) if entry["kind"] == kind]

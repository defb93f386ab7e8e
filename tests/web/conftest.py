"""An HTTP client against the app over the test's store, with owner accounts for the seeded fleet."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pages_support import Clock

from clipwarden.services.users import add_user
from clipwarden.store import Store
from clipwarden.web.app import create_app


@dataclass
class Api:
    client: TestClient
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)  # name -> bearer token

    def as_(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def call(self, who: str, method: str, path: str, **kwargs: object) -> object:
        return self.client.request(method, path, headers=self.as_(who), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def api(store: Store, fleet: object, fleet_class: type) -> Iterator[Api]:
    clock = Clock(fleet_class.start + timedelta(minutes=30))
    with TestClient(create_app(store, clock=clock)) as client:
        made = Api(client, clock)
        add: Callable[..., dict[str, str]] = lambda **kw: add_user(store, at=clock.now, **kw)  # noqa: E731
        made.tokens["free"] = add(role="owner", household_id="hh-free", site=None)["token"]
        made.tokens["plus"] = add(role="owner", household_id="hh-plus", site=None)["token"]
        made.tokens["auditor"] = add(role="auditor", household_id=None, site=None)["token"]
        yield made

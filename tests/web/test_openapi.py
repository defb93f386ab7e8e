"""The OpenAPI document describes the API as it answers: schemathesis, with every check it has, finds no
server error and no other failure for an anonymous client, an owner, a reviewer and an auditor.

The run is bounded (a few examples per operation) and reproducible (a fixed seed, derandomized, no example
database).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import events, from_schema
from schemathesis.engine.run import PhaseName
from schemathesis.python import asgi

from clipwarden.domain import Household
from clipwarden.services import register_household
from clipwarden.services.users import add_user
from clipwarden.store import open_store
from clipwarden.web.app import create_app
from clipwarden.web.auth import WebSettings
from clipwarden.web.throttle import Allowance

ACCOUNTS = {
    "owner": ("owner", "hh-open", None),
    "reviewer": ("reviewer", None, "us-sea"),
    "auditor": ("auditor", None, None),
}
MAX_EXAMPLES = 6
NOW = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


def _from_loopback(app: Any) -> Any:
    """The app as a client on this machine sees it: schemathesis's client names no address, and reviewers may
    only work from their site's networks (loopback by default)."""

    async def loopback(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await app({**scope, "client": ("127.0.0.1", 50000)} if scope["type"] == "http" else scope, receive, send)

    return loopback


# Rules JSON Schema cannot say (one field against another), which the document says in words: requests
# that keep the schema but break one of these are refused, as they must be.
CROSS_FIELD_RULES = [
    ("/api/review/tasks/{task_token}/annotations", 422),  # a segment ends after it starts; a box is in the frame
    ("/api/audit/proof/consistency", 400),  # first <= second
]
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]  # positive_data_acceptance's default, less 5xx


def _run(app: Any, headers: dict[str, str]) -> tuple[set[str], int, dict[tuple[str, str], str]]:
    """The operations tested, the requests sent, and each failure (operation and check) with its message."""
    config = schemathesis.Config.from_dict(
        {
            "seed": 20251207,
            "headers": headers,
            "checks": {"enabled": True},
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "operations": [
                {
                    "include-path": path,
                    "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, str(status)]}},
                }
                for path, status in CROSS_FIELD_RULES
            ],
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", _from_loopback(app), config=config)
    operations: set[str] = set()
    requests = 0
    failures: dict[tuple[str, str], str] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.NonFatalError | events.FatalError):
            failures[("error", str(getattr(event, "label", "")))] = str(getattr(event, "info", event))
        if isinstance(event, events.ScenarioFinished):
            if event.phase is not PhaseName.STATEFUL_TESTING:
                operations.add(event.recorder.label)
            requests += len(event.recorder.cases)
            for node in (node for nodes in event.recorder.checks.values() for node in nodes):
                if node.failure_info is not None:
                    failure = node.failure_info.failure
                    failures[(event.recorder.label, node.name)] = f"{failure.title}: {node.failure_info.code_sample}"
    return operations, requests, failures


@pytest.mark.slow
@pytest.mark.parametrize("role", ["anonymous", *ACCOUNTS])
def test_schemathesis_finds_nothing_the_document_does_not_say(tmp_path: Path, role: str) -> None:
    with open_store(tmp_path / "data", None) as store:
        register_household(store, Household("hh-open", "EU", "free", "Di Example", "4 Sample Way"))
        headers = {}
        if role in ACCOUNTS:
            kind, household, site = ACCOUNTS[role]
            headers["Authorization"] = f"Bearer {add_user(store, kind, household, site, NOW)['token']}"
        # Anonymous refusals are throttled after a few: let every example reach the route it is meant for.
        settings = WebSettings(refusals=Allowance(refusals=1_000_000))
        app = create_app(store, clock=lambda: NOW, settings=settings)
        started = time.monotonic()
        try:
            operations, requests, failures = _run(app, headers)
        finally:
            asgi.shutdown_lifespans()  # schemathesis keeps the app's lifespan running until told, or exit
    took = time.monotonic() - started
    print(f"{role}: {len(operations)} operations, {requests} requests, {len(failures)} failures in {took:.1f} s")
    assert len(operations) == sum(len(methods) for methods in app.openapi()["paths"].values())
    assert not failures, "\n".join(f"{where}: {why}" for where, why in failures.items())

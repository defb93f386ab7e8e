"""Reviewers work only from their site's networks: their bearer-token API requests, their sign-in and their
page requests from anywhere else get 403 and leave a refusal in the audit log. The networks come from
CLIPWARDEN_SITE_NETWORKS, and a malformed value is refused with a clear message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pages_support import Clock, Site, audit_size, cheap_hasher, entries_since
from sqlalchemy import func, select

from clipwarden.errors import ClipwardenError
from clipwarden.store import Store
from clipwarden.store.schema import web_sessions
from clipwarden.web.app import create_app
from clipwarden.web.auth import SITE_NETWORKS_ENV, SiteNetworks, WebSettings

OUTSIDE = ("10.9.9.9", 5000)
HYDERABAD_OFFICE = ("10.20.3.4", 5000)
NETWORKS = SiteNetworks.parse('{"in-hyd": ["10.20.0.0/16"]}')


@pytest.fixture
def site(store: Store, fleet: Any, fleet_class: Any, monkeypatch: pytest.MonkeyPatch) -> Site:
    cheap_hasher(monkeypatch)
    made = Site(store, Clock(fleet_class.start + timedelta(minutes=30)), WebSettings(networks=NETWORKS))
    made.add("hyd", "reviewer", site="in-hyd")
    made.add("buc", "reviewer", site="ro-buc")
    made.add("free", "owner", household_id="hh-free")
    return made


def _api(site: Site, client: tuple[str, int], who: str) -> Any:
    app = create_app(site.store, clock=site.clock, settings=site.settings)
    with TestClient(app, client=client) as http:
        return http.get("/api/clips", headers={"Authorization": f"Bearer {site.tokens[who]}"})


def _session_count(store: Store) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(web_sessions)).scalar_one())


@pytest.mark.parametrize(
    ("who", "client"), [("hyd", OUTSIDE), ("hyd", ("127.0.0.1", 5000)), ("buc", OUTSIDE), ("buc", HYDERABAD_OFFICE)]
)
def test_a_reviewer_token_from_outside_the_site_networks_is_refused_and_logged(
    site: Site, who: str, client: tuple[str, int]
) -> None:
    before = audit_size(site.store)
    answer = _api(site, client, who)
    assert answer.status_code == 403
    assert answer.json()["detail"].startswith(
        f"reviewers of site {'in-hyd' if who == 'hyd' else 'ro-buc'} may not work"
    )
    assert client[0] in answer.json()["detail"]
    [refusal] = entries_since(site.store, before, "refusal")
    assert refusal["status"] == 403 and refusal["actor"] == {"id": site.accounts[who], "role": "reviewer"}


@pytest.mark.parametrize(("who", "client"), [("hyd", HYDERABAD_OFFICE), ("buc", ("127.0.0.1", 5000))])
def test_a_reviewer_token_from_the_site_networks_gets_past_the_check(
    site: Site, who: str, client: tuple[str, int]
) -> None:
    answer = _api(site, client, who)
    assert (answer.status_code, answer.json()["detail"]) == (403, "this needs the role owner")  # the next check


def test_owners_are_not_bound_to_a_network(site: Site) -> None:
    assert _api(site, OUTSIDE, "free").status_code == 200


def test_a_reviewer_cannot_sign_in_from_outside(site: Site) -> None:
    before = audit_size(site.store)
    with site.browser(client=OUTSIDE) as outside:
        answer = outside.sign_in("hyd")
    assert answer.status_code == 403
    assert "reviewers of site in-hyd may not work from 10.9.9.9" in answer.text
    assert _session_count(site.store) == 0
    [refusal] = entries_since(site.store, before, "refusal")
    assert (refusal["path"], refusal["actor"]["id"]) == ("/sign-in", site.accounts["hyd"])


def test_a_reviewer_session_taken_outside_stops_working(site: Site) -> None:
    with site.browser(client=HYDERABAD_OFFICE) as office:
        signed_in = office.sign_in("hyd")
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/review")
        cookie = office.http.cookies["clipwarden_session"]
    with site.browser(client=OUTSIDE) as outside:
        outside.http.cookies.set("clipwarden_session", cookie)
        assert outside.get("/").status_code == 303  # the landing redirect reads no data
        assert outside.get("/clips").status_code == 403


def test_the_default_allows_every_site_on_loopback_only() -> None:
    default = SiteNetworks()
    for site in ("in-hyd", "ro-buc", "us-sea"):
        assert default.allows(site, "127.0.0.1") and default.allows(site, "::1")
        assert not default.allows(site, "10.0.0.1") and not default.allows(site, "192.168.1.10")
    assert not default.allows(None, "127.0.0.1")
    assert not default.allows("in-hyd", "testclient")  # not an address at all


def test_the_variable_replaces_the_sites_it_names_and_keeps_the_rest() -> None:
    networks = SiteNetworks.from_env({SITE_NETWORKS_ENV: '{"in-hyd": ["10.20.0.0/16", "2001:db8::/32"], "us-sea": []}'})
    assert networks.allows("in-hyd", "10.20.255.1") and networks.allows("in-hyd", "2001:db8::7")
    assert not networks.allows("in-hyd", "127.0.0.1")
    assert not networks.allows("us-sea", "127.0.0.1")  # an empty list shuts the site out
    assert networks.allows("ro-buc", "127.0.0.1")
    assert SiteNetworks.from_env({}) == SiteNetworks() == SiteNetworks.from_env({SITE_NETWORKS_ENV: "  "})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("in-hyd=10.0.0.0/8", "is not JSON"),
        ('["10.0.0.0/8"]', "must be a JSON object"),
        ('{"xx-nowhere": ["10.0.0.0/8"]}', "unknown site 'xx-nowhere'"),
        ('{"in-hyd": "10.0.0.0/8"}', "site in-hyd needs a list of CIDR strings"),
        ('{"in-hyd": [10]}', "site in-hyd needs a list of CIDR strings"),
        ('{"in-hyd": ["10.0.0.300/8"]}', "site in-hyd: '10.0.0.300/8' does not appear to be an IPv4 or IPv6 network"),
        ('{"in-hyd": ["10.0.0.1/8"]}', "site in-hyd: 10.0.0.1/8 has host bits set"),
    ],
)
def test_a_malformed_value_is_refused_with_a_clear_message(value: str, message: str) -> None:
    with pytest.raises(ClipwardenError) as refused:
        SiteNetworks.from_env({SITE_NETWORKS_ENV: value})
    assert message in str(refused.value) and SITE_NETWORKS_ENV in str(refused.value)


def test_serve_refuses_a_malformed_value_in_one_line(
    cli: Callable[..., Any], store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SITE_NETWORKS_ENV, '{"in-hyd": ["not a network"]}')
    done = cli("serve", "--port", "8765")
    assert done.code == 1
    assert done.err.strip().splitlines() == [
        f"error: {SITE_NETWORKS_ENV}: site in-hyd: 'not a network' does not appear to be an IPv4 or IPv6 network"
    ]


def test_the_app_reads_the_variable_by_default(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SITE_NETWORKS_ENV, '{"ro-buc": ["10.30.0.0/16"]}')
    assert create_app(store).state.web_settings.networks.allows("ro-buc", "10.30.0.9")

"""Who is asking, and from where: bearer tokens for the API, the networks reviewers may work from, the web
settings, and the refusal entry every refused request leaves in the audit log.

Reviewers watch other people's clips, so their site's contract (and the owner's consent, which names the
site) only holds when they work from that site: a reviewer's sign-in, page and API requests are refused
from any address outside the networks configured for the reviewer's site. The socket's peer address is
the one checked; behind a reverse proxy, run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips``
naming only that proxy.
"""

from __future__ import annotations

import ipaddress
import json
import os
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from clipwarden.consent.vocabulary import SITES
from clipwarden.errors import ClipwardenError
from clipwarden.policy.decision import Actor
from clipwarden.services.audit_trail import log_change
from clipwarden.services.users import actor_for_token
from clipwarden.store import Store
from clipwarden.web.sessions import SessionSettings
from clipwarden.web.throttle import Allowance, IntervalCount, RefusalCounter

SITE_NETWORKS_ENV = "CLIPWARDEN_SITE_NETWORKS"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# The default for every site: this machine only, so that the local demo works and nothing else does.
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def _loopback_for_every_site() -> Mapping[str, tuple[Network, ...]]:
    return MappingProxyType(dict.fromkeys(SITES, LOOPBACK))


@dataclass(frozen=True)
class SiteNetworks:
    """The networks each reviewer site may work from (CIDR blocks). Default: loopback for every site.

    ``CLIPWARDEN_SITE_NETWORKS`` overrides it per site with a JSON object of site code to CIDR list, e.g.
    ``{"in-hyd": ["10.20.0.0/16"], "ro-buc": ["10.30.0.0/16", "2001:db8:30::/48"]}``; sites it does not
    name keep the default, and an empty list shuts a site out.
    """

    by_site: Mapping[str, tuple[Network, ...]] = field(default_factory=_loopback_for_every_site)

    @classmethod
    def parse(cls, text: str) -> SiteNetworks:
        """The default with the sites named in ``text`` (the variable's JSON) replaced; ClipwardenError,
        naming the fault, for anything malformed."""
        try:
            given = json.loads(text)
        except json.JSONDecodeError as error:
            raise ClipwardenError(f"{SITE_NETWORKS_ENV} is not JSON: {error}") from None
        if not isinstance(given, dict):
            raise ClipwardenError(f'{SITE_NETWORKS_ENV} must be a JSON object like {{"in-hyd": ["10.20.0.0/16"]}}')
        chosen = {site: _networks(site, cidrs) for site, cidrs in given.items()}
        return cls(MappingProxyType({**_loopback_for_every_site(), **chosen}))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SiteNetworks:
        text = environ.get(SITE_NETWORKS_ENV, "").strip()
        return cls.parse(text) if text else cls()

    def allows(self, site: str | None, address: str | None) -> bool:
        """Whether a reviewer of ``site`` may work from ``address``; an address that is no IP never may."""
        try:
            client = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(client in network for network in self.by_site.get(site or "", ()))


def _networks(site: str, cidrs: Any) -> tuple[Network, ...]:
    if site not in SITES:
        raise ClipwardenError(f"{SITE_NETWORKS_ENV} names unknown site {site!r}; sites are {', '.join(SITES)}")
    if not isinstance(cidrs, list) or not all(isinstance(cidr, str) for cidr in cidrs):
        raise ClipwardenError(f"{SITE_NETWORKS_ENV}: site {site} needs a list of CIDR strings")
    try:
        return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)
    except ValueError as error:
        raise ClipwardenError(f"{SITE_NETWORKS_ENV}: site {site}: {error}") from None


@dataclass(frozen=True)
class WebSettings:
    """Everything the web app can be tuned by, with the defaults documented on each part."""

    sessions: SessionSettings = field(default_factory=SessionSettings)
    networks: SiteNetworks = field(default_factory=SiteNetworks)
    refusals: Allowance = field(default_factory=Allowance)  # refusals without a credential, per source

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> WebSettings:
        return cls(networks=SiteNetworks.from_env(environ))


def web_settings(request: Request) -> WebSettings:
    settings: WebSettings = request.app.state.web_settings
    return settings


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else ""


def check_network(request: Request, actor: Actor) -> None:
    """Refuse a reviewer working from outside their site's networks (403, logged by the caller's handler)."""
    if actor.role != "reviewer":
        return
    address = client_address(request)
    if not web_settings(request).networks.allows(actor.site, address):
        raise HTTPException(403, f"reviewers of site {actor.site} may not work from {address or 'an unknown address'}")


bearer_scheme = HTTPBearer(auto_error=False, description="A token from `clipwarden users add`")


def bearer_actor(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> Actor:
    """The API's actor: the bearer token's account, from a network its role may work from."""
    if credentials is None:
        raise HTTPException(401, "bearer token required", headers={"WWW-Authenticate": "Bearer"})
    store: Store = request.app.state.store
    with store.connect() as conn:
        found = actor_for_token(conn, credentials.credentials)
    if found is None:
        raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
    request.state.actor = found  # refusals from here on are logged in its name
    check_network(request, found)
    return found


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def require_credential(request: Request) -> None:
    """401 unless the request names a known bearer token, or carries a page session for the route's own
    check to resume."""
    token = bearer_token(request)
    if token is not None:
        bearer_actor(request, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token))
    elif web_settings(request).sessions.cookie_name not in request.cookies:
        raise HTTPException(401, "bearer token required", headers={"WWW-Authenticate": "Bearer"})


class CredentialFirst(APIRoute):
    """An API route that reads its body only once the caller is known. FastAPI reads the body before it
    runs the dependencies, so without this a bad body sent without a credential would be answered 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        if self.body_field is None:
            return handle

        async def credential_first(request: Request) -> Response:
            await run_in_threadpool(require_credential, request)
            return await handle(request)

        return credential_first


@dataclass(frozen=True)
class Refusal:
    """How a refused request is answered: as the route refused it, or 429 once its source is throttled."""

    status: int
    detail: Any
    headers: Mapping[str, str] = field(default_factory=dict)


class RefusalLog:
    """Where refused requests are written down. A refusal of a known actor is one audit entry (kind
    "refusal") at once. Any other is counted per source (web/throttle.py); each interval that saw some is
    one entry (kind "refusals"), written at the first refusal after it, by ``flush`` (every interval while
    the app runs) and at shutdown, so no count is lost."""

    def __init__(self, store: Store, allowance: Allowance) -> None:
        self.store, self.allowance = store, allowance
        self._counter = RefusalCounter(allowance)
        self._lock = threading.Lock()  # handlers run on a thread pool

    def record(self, request: Request, refusal: Refusal, actor: Actor | None, at: datetime) -> Refusal:
        """Log or count ``refusal``; returns the answer to give."""
        detail = refusal.detail if isinstance(refusal.detail, str) else "invalid request body or parameters"
        if actor is not None:
            self._append("refusal", at, _refusal_entry(request, refusal.status, detail, actor))
            return refusal
        with self._lock:
            counted = self._counter.count(client_address(request), at)
        self._append_count(counted.ended, at)
        if counted.retry_after_s is None:
            return refusal
        wait = counted.retry_after_s
        return Refusal(429, THROTTLED.format(wait=wait), {"Retry-After": str(wait)})

    def over_allowance(self, request: Request, at: datetime) -> bool:
        """Whether a refusal of this request's source would be answered 429 now."""
        with self._lock:
            return self._counter.over_allowance(client_address(request), at)

    def flush(self, at: datetime, *, final: bool = False) -> None:
        """Write the interval that has ended by ``at`` (``final``: every count held, at shutdown)."""
        with self._lock:
            ended = self._counter.take_all() if final else self._counter.take_ended(at)
        self._append_count(ended, at)

    def _append_count(self, ended: IntervalCount | None, at: datetime) -> None:
        if ended is not None:
            self._append("refusals", at, ended.entry())

    def _append(self, kind: str, at: datetime, fields: dict[str, Any]) -> None:
        with self.store.begin() as conn:
            log_change(conn, kind, at, fields)


THROTTLED = "too many refused requests from this address without a valid credential; try again in {wait} s"


def _refusal_entry(request: Request, status: int, detail: str, actor: Actor) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.url.path,
        "status": status,
        "detail": detail,
        "actor": {"id": actor.id, "role": actor.role},
    }


def known_actor(request: Request) -> Actor | None:
    """The actor a route has already named, else the bearer token's account, else None."""
    named: Actor | None = getattr(request.state, "actor", None)
    token = bearer_token(request)
    if named is not None or token is None:
        return named
    store: Store = request.app.state.store
    with store.connect() as conn:
        return actor_for_token(conn, token)


def refusal_log(request: Request) -> RefusalLog:
    log: RefusalLog = request.app.state.refusal_log
    return log


def log_refusal(request: Request, refusal: Refusal, actor: Actor | None, at: datetime) -> Refusal:
    """Log a refused request (counted if no actor is known); returns the answer to give."""
    return refusal_log(request).record(request, refusal, actor, at)

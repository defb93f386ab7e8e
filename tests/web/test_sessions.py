"""Signing in to the pages: Argon2 passwords, failures that look alike, the session cookie, idle and absolute
timeouts, signing out, and the `users` commands that set passwords."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher, Type
from pages_support import LOCAL, ORIGIN, PASSWORD, Clock, PageClient, Site, audit_size, cheap_hasher, entries_since
from sqlalchemy import func, select

from clipwarden.services import owner, users
from clipwarden.store import Store
from clipwarden.store.schema import sign_in_failures, web_sessions
from clipwarden.store.schema import users as user_accounts
from clipwarden.times import iso_utc
from clipwarden.web.auth import WebSettings
from clipwarden.web.sessions import SessionSettings

IDLE = SessionSettings().idle_timeout
ABSOLUTE = SessionSettings().absolute_timeout


@pytest.fixture
def site(store: Store, fleet: Any, fleet_class: Any, monkeypatch: pytest.MonkeyPatch) -> Site:
    cheap_hasher(monkeypatch)
    made = Site(store, Clock(fleet_class.start + timedelta(minutes=30)), WebSettings())
    made.add("free", "owner", household_id="hh-free")
    made.add("auditor", "auditor")
    return made


@pytest.fixture
def browser(site: Site) -> Iterator[PageClient]:
    with site.browser() as opened:
        yield opened


def _sessions(store: Store) -> list[Any]:
    with store.connect() as conn:
        return list(conn.execute(select(web_sessions).order_by(web_sessions.c.created_at)).all())


def test_the_password_hasher_is_argon2id_at_rfc_9106_costs_or_more() -> None:
    hasher: PasswordHasher = users._hasher
    assert hasher.type is Type.ID
    assert (hasher.time_cost, hasher.memory_cost) >= (3, 64 * 1024)
    assert users._hasher.hash(PASSWORD).startswith("$argon2id$")


def test_an_owner_signs_in_with_a_strict_http_only_cookie_whose_value_is_not_kept(
    browser: PageClient, store: Store
) -> None:
    answer = browser.sign_in("free")
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/clips"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie and "Max-Age" not in cookie  # plain http here; the server times sessions
    value = browser.http.cookies["clipwarden_session"]
    [row] = _sessions(store)
    assert row.id == hashlib.sha256(value.encode()).hexdigest() and value not in repr(tuple(row))
    assert browser.get("/clips").status_code == 200


def test_the_cookie_is_secure_over_https(site: Site) -> None:
    with site.browser() as browser:
        browser.http.base_url = "https://testserver"  # type: ignore[assignment]
        answer = browser.http.post(
            "/sign-in",
            data={"user_id": site.accounts["free"], "password": PASSWORD},
            headers={"Origin": "https://testserver"},
        )
    assert answer.status_code == 303, answer.text
    assert "Secure" in answer.headers["set-cookie"]


@pytest.mark.parametrize(
    ("who", "password"),
    [("free", "not the password at all"), ("user_doesnotexist", PASSWORD), ("no_password", PASSWORD)],
)
def test_failed_sign_ins_look_alike_start_no_session_and_are_logged(
    site: Site, browser: PageClient, store: Store, who: str, password: str
) -> None:
    site.accounts["no_password"] = users.add_user(store, "owner", "hh-plus", None, site.clock.now)["user_id"]
    before = audit_size(store)
    answer = browser.sign_in(who, password)
    assert answer.status_code == 401
    assert "unknown account or wrong password" in answer.text
    assert "set-cookie" not in answer.headers
    assert _sessions(store) == []
    assert entries_since(store, before, "refusal") == []  # nobody is known: counted, not logged one by one
    site.clock.advance(minutes=1)
    browser.sign_in(who, password)  # the first refusal of the next minute writes the last one's count
    [counted] = entries_since(store, before, "refusals")
    assert counted["sources"] == {LOCAL[0]: {"refused": 1, "throttled": 0}}


def test_an_unknown_account_costs_the_same_verification_as_a_wrong_password(
    site: Site, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            verified.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(users, "_hasher", Counting(time_cost=1, memory_cost=8, parallelism=1))
    assert users.authenticate(store, "user_doesnotexist", PASSWORD, site.clock.now) is None
    assert users.authenticate(store, site.accounts["free"], "wrong password here", site.clock.now) is None
    assert len(verified) == 2 and all(hashed.startswith("$argon2id$") for hashed in verified)


@pytest.mark.parametrize("who", ["free", "user_doesnotexist"])
def test_repeated_wrong_passwords_pause_the_account_id_even_for_the_right_one(
    site: Site, browser: PageClient, store: Store, who: str
) -> None:
    for _ in range(users.FREE_FAILURES - 1):
        assert browser.sign_in(who, "not the password at all").status_code == 401
    before = audit_size(store)
    assert browser.sign_in(who, "not the password at all").status_code == 401  # the fifth: pauses a minute
    paused = browser.sign_in(who)
    assert paused.status_code == 429
    assert paused.headers["retry-after"] == "60"
    assert "too many failed sign-ins for this account; try again in 60 s" in paused.text
    assert "set-cookie" not in paused.headers and _sessions(store) == []
    assert entries_since(store, before, "refusal") == []  # counted (test_refusals.py)
    site.clock.advance(seconds=61)
    if who == "free":  # the right password after the pause signs in and clears the run
        assert browser.sign_in(who).status_code == 303
        with store.connect() as conn:
            assert conn.execute(select(sign_in_failures)).all() == []
    else:  # an unknown id pauses exactly like a real one: the pause tells nobody the id exists
        assert browser.sign_in(who).status_code == 401
        assert browser.sign_in(who).status_code == 429


def test_the_pause_doubles_with_each_failure_up_to_an_hour_and_a_day_forgets_the_run(
    site: Site, browser: PageClient, store: Store
) -> None:
    assert [users.sign_in_pause(failures).total_seconds() for failures in (1, 4, 5, 6, 7, 11, 12, 100)] == [
        0, 0, 60, 120, 240, 3600, 3600, 3600,
    ]  # fmt: skip
    assert browser.sign_in("auditor", "not the password at all").status_code == 401
    for waited in (0, 60, 120, 240):
        site.clock.advance(seconds=waited + 1)
        for _ in range(users.FREE_FAILURES if waited == 0 else 1):
            assert browser.sign_in("free", "not the password at all").status_code == 401
    assert browser.sign_in("free").headers["retry-after"] == "480"
    site.clock.advance(days=1, seconds=1)
    assert browser.sign_in("free", "not the password at all").status_code == 401  # the first of a new run
    with store.connect() as conn:  # the day-old runs are gone, the auditor's too; only the new one is kept
        assert conn.execute(select(sign_in_failures.c.failures)).scalars().all() == [1]
    assert browser.sign_in("free").status_code == 303


def test_erasing_the_household_forgets_its_accounts_failed_sign_ins(
    site: Site, browser: PageClient, store: Store
) -> None:
    assert browser.sign_in("free", "not the password at all").status_code == 401
    assert browser.sign_in("auditor", "not the password at all").status_code == 401
    who = users.authenticate(store, site.add("second", "owner", household_id="hh-free"), PASSWORD, site.clock.now)
    assert who is not None
    certificate = owner.erase_household(store, who, "hh-free", site.clock.now)
    assert {"kind": "sign_in_failures", "count": 1} in certificate["artefacts"]
    with store.connect() as conn:
        kept = conn.execute(select(sign_in_failures.c.account_sha256)).scalars().all()
    assert kept == [hashlib.sha256(site.accounts["auditor"].encode()).hexdigest()]


def test_a_sign_in_form_posted_from_another_site_is_refused(browser: PageClient, site: Site, store: Store) -> None:
    before = audit_size(store)
    answer = browser.http.post(
        "/sign-in",
        data={"user_id": site.accounts["free"], "password": PASSWORD},
        headers={"Origin": "http://evil.example"},
    )
    assert answer.status_code == 403
    assert "cross-site form post refused" in answer.text
    assert _sessions(store) == []
    assert entries_since(store, before, "refusal") == []  # counted (test_refusals.py)


def test_sign_in_goes_on_to_the_page_asked_for_but_never_off_site(browser: PageClient, site: Site) -> None:
    first = browser.get("/consents")
    assert (first.status_code, first.headers["location"]) == (303, "/sign-in?next=/consents")
    fields = {"user_id": site.accounts["free"], "password": PASSWORD}
    for asked, landed in [
        ("/consents", "/consents"),
        ("//evil.example/x", "/clips"),
        ("https://evil.example", "/clips"),
    ]:
        answer = browser.http.post("/sign-in", data={**fields, "next": asked}, headers={"Origin": ORIGIN})
        assert answer.headers["location"] == landed


def test_a_session_ends_after_the_idle_timeout_and_activity_keeps_it_alive(
    browser: PageClient, site: Site, store: Store
) -> None:
    browser.sign_in("free")
    for _ in range(3):
        site.clock.now += IDLE - timedelta(seconds=1)
        assert browser.get("/clips").status_code == 200
    site.clock.now += IDLE
    assert browser.get("/clips").headers["location"] == "/sign-in?next=/clips"
    [row] = _sessions(store)
    assert (row.ended_reason, row.ended_at) == ("idle", site.clock.now)
    site.clock.advance(seconds=1)
    assert browser.get("/clips").status_code == 303  # ended stays ended


def test_a_session_ends_at_the_absolute_timeout_however_busy(browser: PageClient, site: Site, store: Store) -> None:
    browser.sign_in("free")
    signed_in = site.clock.now
    while site.clock.now + IDLE / 2 < signed_in + ABSOLUTE:
        site.clock.now += IDLE / 2
        assert browser.get("/clips").status_code == 200
    site.clock.now = signed_in + ABSOLUTE
    before = audit_size(store)
    assert browser.get("/clips").status_code == 303
    [ended] = entries_since(store, before, "session")
    assert (ended["event"], ended["reason"], ended["user_id"]) == ("ended", "expired", site.accounts["free"])


def test_signing_out_ends_the_session_for_good(browser: PageClient, store: Store) -> None:
    browser.sign_in("free")
    cookie = browser.http.cookies["clipwarden_session"]
    answer = browser.post("/sign-out")
    assert (answer.status_code, answer.headers["location"]) == (303, "/sign-in")
    assert 'clipwarden_session=""' in answer.headers["set-cookie"]
    assert _sessions(store)[0].ended_reason == "signed_out"
    browser.http.cookies.set("clipwarden_session", cookie)  # a copy of the old cookie, replayed
    assert browser.get("/clips").status_code == 303


def test_changing_the_password_signs_the_account_out_everywhere(browser: PageClient, site: Site, store: Store) -> None:
    browser.sign_in("free")
    users.set_password(store, site.accounts["free"], "a brand new passphrase", site.clock.now)
    assert browser.get("/clips").status_code == 303
    assert _sessions(store)[0].ended_reason == "password"
    assert browser.sign_in("free").status_code == 401
    assert browser.sign_in("free", "a brand new passphrase").status_code == 303


def test_pages_for_another_role_are_refused_in_the_accounts_name(browser: PageClient, site: Site, store: Store) -> None:
    browser.sign_in("auditor")
    before = audit_size(store)
    answer = browser.get("/clips")
    assert answer.status_code == 403
    assert "this page is for the role owner" in answer.text
    [refusal] = entries_since(store, before, "refusal")
    assert refusal["actor"] == {"id": site.accounts["auditor"], "role": "auditor"}


def test_users_add_takes_a_password_on_stdin_and_keeps_its_json(
    cli: Callable[..., Any], fleet: Any, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap_hasher(monkeypatch)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    added = cli("users", "add", "--role", "owner", "--household", "hh-free", "--password-stdin")
    assert added.code == 0, added.err
    assert set(added.json()) == {"user_id", "name", "token"}
    assert added.json()["name"] == added.json()["user_id"]  # no --name: named by its id
    assert users.authenticate(store, added.json()["user_id"], PASSWORD, datetime.now(UTC)) is not None


def test_an_account_signs_in_with_its_name_and_users_list_shows_it(
    cli: Callable[..., Any], fleet: Any, store: Store, monkeypatch: pytest.MonkeyPatch, site: Site
) -> None:
    cheap_hasher(monkeypatch)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    added = cli("users", "add", "--role", "owner", "--household", "hh-free", "--name", "Ada", "--password-stdin")
    assert added.code == 0, added.err
    user_id = added.json()["user_id"]
    assert added.json()["name"] == "Ada"
    with site.browser() as browser:
        signed_in = browser.http.post(
            "/sign-in", data={"user_id": "Ada", "password": PASSWORD, "next": ""}, headers={"Origin": ORIGIN}
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/clips"
    listed = cli("users", "list", "--role", "owner").json()
    [ada] = [account for account in listed if account["user_id"] == user_id]
    assert ada == {
        "user_id": user_id,
        "name": "Ada",
        "role": "owner",
        "household_id": "hh-free",
        "site": None,
        "has_password": True,
        "last_sign_in": iso_utc(site.clock.now),
    }
    assert {account["role"] for account in listed} == {"owner"}
    shown = cli("users", "list", as_json=False)  # a table for people
    assert shown.code == 0 and "Ada" in shown.out and "hh-free" in shown.out


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Ada", "an account named 'Ada' exists already"),
        ("user_0123456789abcdef", "names starting with user_ are kept for account ids"),
        (" padded", "1 to 64 letters"),
        ("x" * 65, "1 to 64 letters"),
    ],
    ids=["taken", "like-an-id", "padded", "too-long"],
)
def test_a_name_taken_or_malformed_is_refused_and_adds_nothing(
    cli: Callable[..., Any], fleet: Any, store: Store, name: str, message: str
) -> None:
    assert cli("users", "add", "--role", "auditor", "--name", "Ada").code == 0
    done = cli("users", "add", "--role", "auditor", "--name", name)
    assert done.code == 1 and message in done.err and len(done.err.strip().splitlines()) == 1
    assert [account["name"] for account in cli("users", "list").json()] == ["Ada"]
    assert cli("users", "list", "--role", "pilot").code == 1


def test_users_password_sets_a_password_from_stdin(
    cli: Callable[..., Any], fleet: Any, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap_hasher(monkeypatch)
    user_id = cli("users", "add", "--role", "auditor").json()["user_id"]
    assert users.authenticate(store, user_id, PASSWORD, datetime.now(UTC)) is None
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD))
    changed = cli("users", "password", user_id)
    assert changed.code == 0, changed.err
    assert changed.json()["user_id"] == user_id
    assert users.authenticate(store, user_id, PASSWORD, datetime.now(UTC)) is not None


@pytest.mark.parametrize("role", ["reviewer", "owner"])
def test_an_unknown_site_is_refused_in_one_line_naming_the_sites(
    cli: Callable[..., Any], store: Store, role: str
) -> None:
    household = ["--household", "hh-free"] if role == "owner" else []
    done = cli("users", "add", "--role", role, *household, "--site", "mars")
    assert (done.code, done.out) == (1, "")
    assert done.err.strip().splitlines() == ["error: unknown site 'mars'; one of in-hyd, ro-buc, us-sea"]
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(user_accounts)).scalar_one() == 0


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "password", "USER"], "short\n", "a password needs 12 to 256 characters, not 5"),
        (["users", "password", "USER"], "", "no password on standard input"),
        (["users", "password", "user_nobody"], PASSWORD, "unknown user id: user_nobody"),
        (["users", "add", "--role", "auditor", "--password-stdin"], "x" * 300, "not 300"),
    ],
    ids=["too-short", "none-given", "unknown-account", "too-long"],
)
def test_bad_passwords_are_refused_in_one_line(
    cli: Callable[..., Any],
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    stdin: str,
    message: str,
) -> None:
    cheap_hasher(monkeypatch)
    user_id = cli("users", "add", "--role", "auditor").json()["user_id"]
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    done = cli(*[user_id if arg == "USER" else arg for arg in args])
    assert done.code == 1
    assert message in done.err and len(done.err.strip().splitlines()) == 1
    assert users.authenticate(store, user_id, PASSWORD, datetime.now(UTC)) is None

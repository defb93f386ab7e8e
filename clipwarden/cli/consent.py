"""Commands over notices, consents and receipts: what an owner's app does, from the command line.

Tests and demo scripts act as an owner through these (the actor is ``owner:HOUSEHOLD``). ``--at`` sets
the instant an act happens at (default: now), so that a script can replay a history.
"""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from clipwarden.cli.app import app, console, settings
from clipwarden.cli.owner import opened_store
from clipwarden.consent import receipts, service
from clipwarden.consent.notices import notices_in_force
from clipwarden.consent.service import OnChange
from clipwarden.errors import ClipwardenError
from clipwarden.policy.decision import Actor
from clipwarden.services.audit_trail import after_retraction, consent_changed
from clipwarden.services.owner import share_clip
from clipwarden.signing import KEY_FILE, load_or_create
from clipwarden.store import datasets
from clipwarden.store.blobs import write_atomically
from clipwarden.times import parse_instant, utc_now

notices_app = typer.Typer(help="The notices shown when consent is asked.", no_args_is_help=True)
consents_app = typer.Typer(help="Owners' consents: give, renew, withdraw, list.", no_args_is_help=True)
receipts_app = typer.Typer(help="Signed consent receipts (Kantara v1.1).", no_args_is_help=True)
app.add_typer(notices_app, name="notices")
app.add_typer(consents_app, name="consents")
app.add_typer(receipts_app, name="receipts")

# Called inside the transaction of every consent change made here: the audit entry, and the review
# queue's withdrawal of tasks whose consent ended.
ON_CHANGE: OnChange = consent_changed

_AT_HELP = "When it happens, e.g. 2025-01-01T08:00:00Z (default: now)."


def _instant(at: str | None) -> datetime:
    return parse_instant(at) if at is not None else utc_now()


def _owner(household: str) -> str:
    return f"owner:{household}"


@notices_app.command("list")
def notices_list(ctx: typer.Context, at: str | None = typer.Option(None, "--at", help=_AT_HELP)) -> None:
    """The notices in force, one per purpose."""
    found = notices_in_force(_instant(at))
    settings(ctx).emit(found, lambda: _print_notices(found))


@consents_app.command("give")
def consents_give(
    ctx: typer.Context,
    household: str = typer.Option(..., "--household", help="The owner's household."),
    clip: str | None = typer.Option(None, "--clip", help="The clip shared; leave out for the tester program."),
    purposes: list[str] = typer.Option(..., "--purpose", help="A purpose agreed to; repeat for several."),
    notice_version: int | None = typer.Option(
        None, "--notice-version", help="The notice version shown (default: the one in force)."
    ),
    allow_unredacted: bool = typer.Option(False, "--allow-unredacted", help="Let reviewers see people unredacted."),
    sites: list[str] | None = typer.Option(
        None, "--site", help="A reviewer site agreed to; repeat for several (default: by jurisdiction)."
    ),
    at: str | None = typer.Option(None, "--at", help=_AT_HELP),
) -> None:
    """Give consent to share a clip (or, for the tester program, the whole account). A clip shared for
    human review goes through the sensitive-content screen and into the review queue, as from the app."""
    with opened_store(ctx) as store:
        if clip is not None:
            owner_actor = Actor(_owner(household), "owner", household_id=household)
            shared = share_clip(
                store, owner_actor, clip, purposes, notice_version, allow_unredacted, sites or None, _instant(at)
            )
            consent = shared["consent"]
        else:
            consent = service.give_consent(
                store,
                household,
                clip,
                purposes,
                notice_version,
                allow_unredacted,
                sites or None,
                _instant(at),
                _owner(household),
                on_change=ON_CHANGE,
            )
    settings(ctx).emit(consent, lambda: _print_consent(consent))


@consents_app.command("renew")
def consents_renew(
    ctx: typer.Context,
    consent_id: str = typer.Argument(..., metavar="ID"),
    household: str = typer.Option(..., "--household", help="The owner's household."),
    notice_version: int | None = typer.Option(
        None, "--notice-version", help="The notice version shown (default: the one in force)."
    ),
    sites: list[str] | None = typer.Option(
        None, "--site", help="A reviewer site agreed to; repeat for several (default: by jurisdiction)."
    ),
    at: str | None = typer.Option(None, "--at", help=_AT_HELP),
) -> None:
    """Agree again, to the notices in force now (after a material change)."""
    with opened_store(ctx) as store:
        consent = service.renew(
            store,
            consent_id,
            household,
            _instant(at),
            _owner(household),
            notice_version,
            sites or None,
            on_change=ON_CHANGE,
        )
    settings(ctx).emit(consent, lambda: _print_consent(consent))


@consents_app.command("withdraw")
def consents_withdraw(
    ctx: typer.Context,
    consent_id: str = typer.Argument(..., metavar="ID"),
    household: str = typer.Option(..., "--household", help="The owner's household."),
    at: str | None = typer.Option(None, "--at", help=_AT_HELP),
) -> None:
    """Withdraw a consent; it takes effect at once."""
    when = _instant(at)
    with opened_store(ctx) as store:
        consent = service.withdraw(store, consent_id, household, when, _owner(household), on_change=ON_CHANGE)
        after_retraction(store, when)
        # Dataset exports that already carried what the withdrawal covers: out of reach, so named.
        consent["exports"] = datasets.exports_withdrawn(store, consent["id"], consent["clip_id"])
    settings(ctx).emit(consent, lambda: _print_consent(consent))


@consents_app.command("list")
def consents_list(
    ctx: typer.Context,
    household: str = typer.Option(..., "--household", help="The owner's household."),
    at: str | None = typer.Option(None, "--at", help="Show them as they stand at this time (default: now)."),
) -> None:
    """The household's consents, oldest first."""
    with opened_store(ctx) as store:
        found = service.consents_for_household(store, household, _instant(at))
    settings(ctx).emit(found, lambda: _print_consents(found))


@consents_app.command("expire")
def consents_expire(
    ctx: typer.Context,
    at: str = typer.Option(..., "--at", metavar="ISO8601", help="The time to expire at."),
) -> None:
    """Record as expired every consent whose shared copy has outlived its retention."""
    with opened_store(ctx) as store:
        expired = service.expire_due(store, parse_instant(at), on_change=ON_CHANGE)
        after_retraction(store, parse_instant(at))
    settings(ctx).emit({"expired": expired}, lambda: _say(f"expired {len(expired)} consents"))


@receipts_app.command("get")
def receipts_get(
    ctx: typer.Context,
    consent_id: str = typer.Argument(..., metavar="ID"),
    household: str = typer.Option(..., "--household", help="The owner's household."),
    out: Path | None = typer.Option(None, "--out", help="Write the receipt (compact JWS) to this file."),
) -> None:
    """The signed receipt of a consent, as a compact JWS."""
    with opened_store(ctx) as store:
        token = receipts.receipt_for(store, consent_id, household)
    if out is not None:
        try:
            write_atomically(out, [token.encode() + b"\n"])
        except OSError as error:
            raise ClipwardenError(f"cannot write {out}: {error.strerror or error}") from None
    document = {"consentReceiptID": consent_id, "jws": token, "path": str(out.absolute()) if out else None}
    settings(ctx).emit(document, lambda: _say(f"wrote the receipt to {out}" if out else token))


@receipts_app.command("verify")
def receipts_verify(ctx: typer.Context, file: Path = typer.Argument(..., metavar="FILE")) -> None:
    """Check a receipt's signature (against this data dir's keys) and its Kantara schema."""
    chosen = settings(ctx)
    try:
        token = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ClipwardenError(f"cannot read {file}: {error}") from None
    if not (chosen.data_dir / KEY_FILE).exists():
        raise ClipwardenError(f"data dir {chosen.data_dir} has no signing key to verify against")
    verified = receipts.verify_receipt(token, load_or_create(chosen.data_dir).jwks())
    chosen.emit(verified, lambda: _say(f"receipt {verified['consentReceiptID']} is valid"))


def _say(line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def _print_notices(found: list[dict[str, Any]]) -> None:
    for notice in found:
        sites = ", ".join(notice["sites"]) or "none"
        watched = "people watch" if notice["human_review"] else "no person watches"
        _say(f"{notice['purpose']} v{notice['version']} (sha256 {notice['sha256'][:16]}...)")
        _say(f"  {watched}; sites: {sites}; kept {notice['retention_days']} days")
        _say(textwrap.indent(textwrap.fill(notice["text"], 100), "  "))


def _print_consents(found: list[dict[str, Any]]) -> None:
    if not found:
        _say("no consents")
    for consent in found:
        _print_consent(consent)


def _print_consent(consent: dict[str, Any]) -> None:
    scope = f"clip {consent['clip_id']}" if consent["clip_id"] else "the whole account"
    _say(f"consent {consent['id']} for {scope}: {consent['state']}")
    for purpose, verdict in consent["valid"].items():
        version = consent["notice_versions"][purpose]
        _say(f"  {purpose} (notice v{version}): {'valid' if verdict['valid'] else 'not valid'}: {verdict['reason']}")
    _say(f"  sites: {', '.join(consent['sites']) or 'none'}; unredacted: {consent['allow_unredacted']}")

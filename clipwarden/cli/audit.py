"""`clipwarden audit ...`: the signed tree head, full verification, entries and Merkle proofs.

`audit verify` on a log that fails prints its document all the same (with --json: {ok: false, size,
root_hash, first_bad_index, problem}), then the one error line on stderr, and exits 1, so that scripts can
branch on the exit code and still read where the log broke; `audit prove` does the same for a proof that does
not verify (with --json: verified false).
"""

from __future__ import annotations

import base64
from typing import Any

import typer

from clipwarden.audit import AuditLog, api
from clipwarden.cli.app import app, console, settings
from clipwarden.cli.owner import opened_store
from clipwarden.errors import ClipwardenError
from clipwarden.services import auditing

audit_app = typer.Typer(help="The tamper-evident audit log (RFC 6962 Merkle tree).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("root")
def audit_root(ctx: typer.Context) -> None:
    """Sign and print the tree head of the log as it is now."""
    with opened_store(ctx) as store:
        head = api.root(AuditLog(store))
    settings(ctx).emit(
        head,
        lambda: _say(
            f"{head['size']} entries, root {head['root_hash']}\n"
            f"signed {head['at']} by key {head['kid']}: {head['signature']}"
        ),
    )


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Recompute every leaf hash and check every signed tree head; exit 1 if anything fails."""
    with opened_store(ctx) as store:
        result = api.verification(AuditLog(store))
    settings(ctx).emit(result, lambda: _say(f"{result['size']} entries, root {result['root_hash']}"))
    if not result["ok"]:
        index = result["first_bad_index"]
        where = "" if index is None else f" at index {index}"
        raise ClipwardenError(f"audit log fails verification{where}: {result['problem']}")
    if not settings(ctx).json:
        _say("verified: every entry and every signed tree head checks out")


@audit_app.command("entries")
def audit_entries(
    ctx: typer.Context,
    from_: int = typer.Option(0, "--from", metavar="N", help="First index."),
    to: int | None = typer.Option(None, "--to", metavar="M", help="Last index, inclusive; default the last entry."),
) -> None:
    """Print stored entries: index, leaf bytes (base64) and leaf hash."""
    with opened_store(ctx) as store:
        found = api.entries(AuditLog(store), from_, to)
    settings(ctx).emit(found, lambda: _print_entries(found))


@audit_app.command("prove")
def audit_prove(
    ctx: typer.Context,
    index: int = typer.Argument(..., metavar="INDEX"),
    size: int | None = typer.Option(None, "--size", metavar="N", help="Tree size; default the whole log."),
) -> None:
    """Print the inclusion proof (audit path) of entry INDEX, checked from the entry's leaf bytes; exit 1 if
    the path does not lead from them to the root."""
    with opened_store(ctx) as store:
        proof = auditing.checked_inclusion(AuditLog(store), index, size)
    title = f"entry {index} ({proof['kind']} at {proof['at']}) in the tree of {proof['size']}"
    settings(ctx).emit(proof, lambda: _print_proof(title, proof["path"], proof["root_hash"]))
    if not proof["verified"]:
        raise ClipwardenError(
            f"audit entry {index} is NOT verified: its leaf bytes do not lead along the path to the root "
            "(run `clipwarden audit verify`)"
        )
    if not settings(ctx).json:
        _say("verified: the path leads from the entry's leaf to the root hash")


@audit_app.command("consistency")
def audit_consistency(
    ctx: typer.Context,
    first: int = typer.Option(..., "--first", metavar="M", help="The older tree size."),
    second: int | None = typer.Option(None, "--second", metavar="N", help="The newer; default the whole log."),
) -> None:
    """Print the proof that the tree of N entries extends the tree of M."""
    with opened_store(ctx) as store:
        proof = api.consistency(AuditLog(store), first, second)
    settings(ctx).emit(
        proof,
        lambda: _print_proof(
            f"the tree of {proof['first']} (root {proof['first_root']}) extends to {proof['second']}",
            proof["path"],
            proof["second_root"],
        ),
    )


def _print_entries(found: list[dict[str, Any]]) -> None:
    for entry in found:
        leaf = base64.b64decode(entry["leaf_b64"]).decode(errors="replace")
        _say(f"{entry['index']} {entry['leaf_hash']} {leaf}")


def _print_proof(title: str, path: list[str], root_hash: str) -> None:
    _say(title)
    for node in path:
        _say(f"  {node}")
    _say(f"root {root_hash}")


def _say(line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)

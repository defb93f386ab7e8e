"""`users add`, `serve`, and `audit replay`: accounts, the web app, and the independent replay."""

from __future__ import annotations

import typer

from clipwarden.audit import AuditLog
from clipwarden.audit.replay import replay
from clipwarden.cli.app import app, console, settings
from clipwarden.cli.audit import audit_app
from clipwarden.cli.owner import opened_store
from clipwarden.errors import ClipwardenError
from clipwarden.services.times import utc_now
from clipwarden.services.users import add_user

users_app = typer.Typer(help="Accounts and their API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    role: str = typer.Option(..., "--role", help="owner, reviewer, auditor or admin."),
    household: str | None = typer.Option(None, "--household", help="The owner's household."),
    site: str | None = typer.Option(None, "--site", help="The reviewer's site: in-hyd, ro-buc or us-sea."),
) -> None:
    """Create an account and print its API token (shown once; only its hash is kept)."""
    with opened_store(ctx) as store:
        account = add_user(store, role, household, site, utc_now())
    settings(ctx).emit(
        {"user_id": account["user_id"], "token": account["token"]},
        lambda: console.print(f"user {account['user_id']} ({role})\ntoken {account['token']}", highlight=False),
    )


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
) -> None:
    """Serve the web app and the HTTP API."""
    import uvicorn

    from clipwarden.store import open_store
    from clipwarden.web.app import create_app

    chosen = settings(ctx)
    if not 0 < port < 65536:
        raise ClipwardenError(f"--port must be between 1 and 65535, not {port}")
    store = open_store(chosen.data_dir, chosen.db_url)
    uvicorn.run(create_app(store), host=host, port=port, log_level="info")


@audit_app.command("replay")
def audit_replay(ctx: typer.Context) -> None:
    """Re-derive from the log's consent history alone whether each logged view was covered."""
    with opened_store(ctx) as store:
        result = replay(entry.leaf for entry in AuditLog(store).iter_entries()).as_dict()
    settings(ctx).emit(
        result,
        lambda: console.print(
            f"{result['views']} views, {result['views_without_consent']} without consent; "
            f"{result['decisions_checked']} decisions checked, {len(result['disagreements'])} disagreements"
        ),
    )
    if not result["ok"]:
        raise ClipwardenError(
            f"replay found {result['views_without_consent']} views without consent and "
            f"{len(result['disagreements'])} disagreements with the enforcement point"
        )

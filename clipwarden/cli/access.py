"""`users add`, `users list`, `users password`, `serve`, and `audit replay`: accounts, the web app, and the independent
replay."""

from __future__ import annotations

import sys
from datetime import timedelta

import typer
from rich.table import Table

from clipwarden.audit import AuditLog
from clipwarden.audit.replay import replay
from clipwarden.cli.app import app, console, settings
from clipwarden.cli.audit import audit_app
from clipwarden.cli.owner import opened_store
from clipwarden.errors import ClipwardenError
from clipwarden.review.leases import ReviewSettings
from clipwarden.services.users import add_user, list_users, set_password
from clipwarden.times import utc_now

users_app = typer.Typer(help="Accounts, their API tokens and their passwords.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    role: str = typer.Option(..., "--role", help="owner, reviewer, auditor or admin."),
    household: str | None = typer.Option(None, "--household", help="The owner's household."),
    site: str | None = typer.Option(None, "--site", help="The reviewer's site: in-hyd, ro-buc or us-sea."),
    name: str | None = typer.Option(
        None, "--name", help="A unique name to sign in with, besides the account id (default: the id)."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read a password for the web pages from standard input (one line)."
    ),
) -> None:
    """Create an account and print its API token (shown once; only its hash is kept)."""
    password = _password_from_stdin() if password_stdin else None
    with opened_store(ctx) as store:
        account = add_user(store, role, household, site, utc_now(), password=password, name=name)
    settings(ctx).emit(
        {"user_id": account["user_id"], "name": account["name"], "token": account["token"]},
        lambda: console.print(
            f"user {account['user_id']} ({role}), named {account['name']}\ntoken {account['token']}", highlight=False
        ),
    )


@users_app.command("list")
def users_list(
    ctx: typer.Context,
    role: str | None = typer.Option(None, "--role", help="Only accounts of this role."),
) -> None:
    """The accounts, oldest first: name, role, household or site, whether they can sign in to the pages."""
    with opened_store(ctx) as store:
        accounts = list_users(store, role)

    def table() -> None:
        shown = Table("name", "account id", "role", "household or site", "password", "last sign-in")
        for account in accounts:
            where = account["household_id"] or account["site"] or ""
            password = "yes" if account["has_password"] else "no"
            shown.add_row(
                account["name"], account["user_id"], account["role"], where, password, account["last_sign_in"] or ""
            )
        console.print(shown)

    settings(ctx).emit(accounts, table)


@users_app.command("password")
def users_password(ctx: typer.Context, user_id: str = typer.Argument(..., help="The account's id.")) -> None:
    """Set the account's password for the web pages, read from standard input (one line); signs it out."""
    password = _password_from_stdin()
    with opened_store(ctx) as store:
        changed = set_password(store, user_id, password, utc_now())
    settings(ctx).emit(changed, lambda: console.print(f"password set for {user_id}", highlight=False))


def _password_from_stdin() -> str:
    """The first line of standard input, without its line ending: `printf %s "$PW" | clipwarden ...`,
    so that the password shows in no process list or shell history."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ClipwardenError("no password on standard input")
    return password


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    daily_cap: int = typer.Option(150, "--daily-cap", help="Clips a reviewer may be shown in one UTC day."),
    gold_rate: float = typer.Option(0.1, "--gold-rate", help="Share of offers that are gold clips, when any."),
    task_minutes: float = typer.Option(10.0, "--task-minutes", help="How long a reviewer holds a task."),
) -> None:
    """Serve the web app and the HTTP API."""
    import uvicorn

    from clipwarden.store import open_store
    from clipwarden.web.app import create_app

    chosen = settings(ctx)
    if not 0 < port < 65536:
        raise ClipwardenError(f"--port must be between 1 and 65535, not {port}")
    review = _review_settings(daily_cap, gold_rate, task_minutes)
    store = open_store(chosen.data_dir, chosen.db_url)
    app_ = create_app(store)
    app_.state.review_settings = review
    uvicorn.run(app_, host=host, port=port, log_level="info")


def _review_settings(daily_cap: int, gold_rate: float, task_minutes: float) -> ReviewSettings:
    if daily_cap < 1:
        raise ClipwardenError(f"--daily-cap must be at least 1, not {daily_cap}")
    if task_minutes <= 0 or task_minutes > 24 * 60:
        raise ClipwardenError(f"--task-minutes must be between 0 and 1440, not {task_minutes}")
    try:
        return ReviewSettings(daily_cap=daily_cap, gold_rate=gold_rate, task_time_limit=timedelta(minutes=task_minutes))
    except ValueError as error:
        raise ClipwardenError(
            str(error).replace("daily_cap", "--daily-cap").replace("gold_rate", "--gold-rate")
        ) from None


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
            f"replay found {result['views_without_consent']} views without consent, "
            f"{len(result['disagreements'])} disagreements with the enforcement point and "
            f"{len(result['unreadable'])} unreadable entries"
        )

"""The `clipwarden` command: global options, output and error handling shared by every command."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from clipwarden.errors import ClipwardenError

app = typer.Typer(
    help="clipwarden: consent-first human review of home-camera clips, driven by a simulated fleet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

console = Console()
err_console = Console(stderr=True)


@dataclass
class Settings:
    """What the global options chose; commands open the store from here when they need it."""

    data_dir: Path
    db_url: str | None
    json: bool

    def emit(self, document: Any, render_text: Callable[[], None]) -> None:
        """Print one JSON document with --json, else the human-readable form."""
        if self.json:
            typer.echo(json.dumps(document, indent=2, default=str))
        else:
            render_text()


@app.callback()
def global_options(
    ctx: typer.Context,
    data: Path = typer.Option(
        Path("clipwarden-data"),
        "--data",
        envvar="CLIPWARDEN_DATA",
        help="Data dir: database and media.",
    ),
    db: str | None = typer.Option(
        None, "--db", envvar="CLIPWARDEN_DB", help="SQLAlchemy URL; default a SQLite file in the data dir."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout instead of text."),
) -> None:
    ctx.obj = Settings(data_dir=data, db_url=db or None, json=as_json)


def settings(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    assert isinstance(obj, Settings)
    return obj


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}


MAX_WORKERS = 32


def check_workers(workers: int) -> int:
    if not 1 <= workers <= MAX_WORKERS:
        raise ClipwardenError(f"--workers must be between 1 and {MAX_WORKERS}, not {workers}")
    return workers


def check_confidence(value: float) -> None:
    """A ``--min-confidence`` is a probability above 0."""
    if not 0.0 < value <= 1.0:
        raise ClipwardenError(f"--min-confidence must be in (0, 1], not {value}")

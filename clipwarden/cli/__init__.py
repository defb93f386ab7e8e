"""Entry point of the `clipwarden` command (CONTRACT.md lists its commands)."""

from __future__ import annotations

import sys

import click

from clipwarden.cli.app import app, err_console
from clipwarden.errors import ClipwardenError

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; bad input ends as one line on stderr and exit code 1, never a traceback."""
    command = _command()
    try:
        command.main(args=argv, prog_name="clipwarden", standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.exceptions.Abort:
        err_console.print("error: aborted", markup=False, highlight=False)
        return 1
    except click.ClickException as bad_usage:
        _fail(bad_usage.format_message())
        return 1
    except ClipwardenError as error:
        _fail(str(error))
        return 1
    return 0


def _command() -> click.Command:
    import typer.main

    from clipwarden.cli import commands  # noqa: F401  (registers the commands on `app`)

    return typer.main.get_command(app)


def _fail(message: str) -> None:
    line = " ".join(message.split())
    sys.stderr.write(f"error: {line}\n")


if __name__ == "__main__":
    sys.exit(main())

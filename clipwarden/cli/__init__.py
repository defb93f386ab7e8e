"""Entry point of the `clipwarden` command (CONTRACT.md lists its commands)."""

from __future__ import annotations

import sys
from typing import Any

import typer
import typer.main
from typer.exceptions import TyperException

from clipwarden.cli.app import app, console
from clipwarden.errors import ClipwardenError

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; bad input ends as one line on stderr and exit code 1, never a traceback."""
    command = _command()
    try:
        command.main(args=argv, prog_name="clipwarden", standalone_mode=False)
    except typer.Exit as done:
        return int(done.exit_code)
    except typer.Abort:
        _fail("aborted")
        return 1
    except TyperException as bad_usage:
        # Typer signals "no arguments, so show the help" as a usage error; it is not one.
        if type(bad_usage).__name__ == "NoArgsIsHelpError":
            console.print(bad_usage.format_message(), markup=False, highlight=False)
            return 0
        _fail(bad_usage.format_message())
        return 1
    except ClipwardenError as error:
        _fail(str(error))
        return 1
    return 0


def _command() -> Any:
    from clipwarden.cli import commands  # noqa: F401  (registers the commands on `app`)

    return typer.main.get_command(app)


def _fail(message: str) -> None:
    line = " ".join(message.split())
    sys.stderr.write(f"error: {line}\n")


if __name__ == "__main__":
    sys.exit(main())

"""What the command-line tests check of every run: success with nothing on stderr, or one refusal line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import CliResult


def ok(result: CliResult) -> Any:
    """The JSON a successful run printed; it wrote nothing on stderr."""
    assert (result.code, result.err) == (0, ""), result.err
    return result.json()


def refused(result: CliResult, words: str) -> None:
    """Exit 1, nothing on stdout, one line on stderr that starts with "error: " and says ``words``."""
    assert result.code == 1 and result.out == ""
    assert result.err.count("\n") == 1 and result.err.startswith("error: ") and words in result.err, result.err

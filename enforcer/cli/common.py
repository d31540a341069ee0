"""What every command shares: the one error type the command line turns into a line and an exit
code, and the ``[enforcer]`` status lines on stderr (stdout carries results only)."""

from __future__ import annotations

import sys

# Exit codes, documented in enforcer.cli's docstring and the README.
EXIT_OK = 0
EXIT_INCOMPLETE = 1  # output not complete or not valid; a schema keyword not enforced exactly; doctor problems
EXIT_INPUT = 2       # unusable input: a file, an option, a schema/grammar/tools error, a model that does not load
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """An error the user can act on: printed as ``enforcer: error: <message>``, exit ``code``."""

    def __init__(self, message: str, code: int = EXIT_INPUT):
        super().__init__(message)
        self.code = code


def status(message: str, *, quiet: bool = False) -> None:
    if not quiet:
        print(f"[enforcer] {message}", file=sys.stderr, flush=True)

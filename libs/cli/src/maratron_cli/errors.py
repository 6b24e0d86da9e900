"""The one error a command raises for the user: printed as one line, no traceback."""


class CliError(Exception):
    """A user-facing failure; `main` prints `maratron <command>: <message>` and exits 1."""

    exit_code = 1

"""The `maratron` command line.

One module per command group in `maratron_cli.commands`, registered in one place
(`maratron_cli.commands.GROUPS`); `maratron_cli.main` builds the parser and dispatches.
"""

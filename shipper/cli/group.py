"""The click group every logferry command line uses: one clear line and an exit code for every
logferry error, whether run as a console script or driven by click's CliRunner."""

from __future__ import annotations

import sys
from typing import Any

import click

from shipper.errors import LogferryError

__all__ = ["LogferryGroup"]


class LogferryGroup(click.Group):
    """A click group whose entry point turns errors into one line and an exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command line: 0 on success, the error's code otherwise (130 on Ctrl-C)."""
        kwargs["standalone_mode"] = False  # the exceptions come here, not to click's printer
        try:
            return super().main(*args, **kwargs)
        except LogferryError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)

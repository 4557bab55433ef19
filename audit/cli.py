"""The `trm-audit` command line: one click group, each command a thin wrapper over a library call.

Commands parse their arguments, call one function, and print a short summary. Library errors
(`audit.errors.AuditError`) become one-line messages with the error's exit code; torch and the
other heavy libraries are imported inside the commands that need them, so `--help` stays fast.
"""
from __future__ import annotations

import functools
import sys

import click

from audit import __version__
from audit.errors import AuditError


def translate_errors(command):
    """Turn AuditError (and ConfigError escaping a validator) into a one-line message and exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from trm.schema import ConfigError

        try:
            return command(*args, **kwargs)
        except AuditError as err:
            click.echo(f"Error: {err}", err=True)
            sys.exit(err.exit_code)
        except ConfigError as err:
            click.echo(f"Error: {err}", err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trm-audit")
def cli():
    """Audit a paper's claims against achieved results: trm-audit claims | run | import | report."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a table.")
@click.option("--no-count", is_flag=True, help="Skip counting parameters (which imports torch).")
@translate_errors
def claims(paths, as_json, no_count):
    """List and validate the claims registry (default: the claims/ directory)."""
    import json

    from audit.listing import format_claims_table, list_claims
    from audit.registry import load_registry

    registry = load_registry(paths or ["claims"])
    listing = list_claims(registry, count_params=not no_count)
    click.echo(json.dumps(listing, indent=2, sort_keys=True) if as_json else format_claims_table(listing))


def main():
    cli(prog_name="trm-audit")

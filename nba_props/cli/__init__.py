"""`nba-props`: the command line for operators and for the embedded demo.

A command group is a module with a `register(app)`; `COMMAND_GROUPS` is the one place they are
added, followed by the optional groups of other packages (`OPTIONAL_GROUPS`) that are installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import typer

from nba_props.cli import data, demo, grading, model, serving

COMMAND_GROUPS = (demo, serving, model, grading, data)
OPTIONAL_GROUPS = ("nba_props.importers.commands",)


def _installed(module: str) -> bool:
    parent = module.rpartition(".")[0]
    return (not parent or _installed(parent)) and importlib.util.find_spec(module) is not None


def build_app() -> typer.Typer:
    """The `nba-props` application with every command group registered."""
    cli = typer.Typer(help="NBA player points-prop predictions.", no_args_is_help=True, add_completion=False)
    for group in COMMAND_GROUPS:
        group.register(cli)
    for name in OPTIONAL_GROUPS:
        if _installed(name):
            importlib.import_module(name).register(cli)
    return cli


app = build_app()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)

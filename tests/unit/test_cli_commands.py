"""The CLI's command groups: each module with a `register` is added in the one place, and another
package's optional group joins when it is installed."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import nba_props.cli
from nba_props.cli import COMMAND_GROUPS, build_app


def test_every_command_group_module_is_registered() -> None:
    modules = [
        info.name
        for info in pkgutil.iter_modules(nba_props.cli.__path__, "nba_props.cli.")
        if not info.name.endswith("__main__")  # importing it runs the CLI
    ]
    with_register = {name for name in modules if hasattr(importlib.import_module(name), "register")}
    assert {group.__name__ for group in COMMAND_GROUPS} == with_register


def test_an_installed_optional_group_adds_its_commands_and_a_missing_one_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "extra_commands_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "commands.py").write_text(
        "import typer\n\n"
        "def register(app: typer.Typer) -> None:\n"
        "    @app.command('hello-extra')\n"
        "    def hello() -> None:\n"
        "        typer.echo('hello from the extra group')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        nba_props.cli, "OPTIONAL_GROUPS", ("extra_commands_pkg.commands", "no_such_package.commands")
    )
    result = CliRunner().invoke(build_app(), ["hello-extra"])
    assert result.exit_code == 0, result.output
    assert "hello from the extra group" in result.output

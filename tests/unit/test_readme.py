"""The README's configuration table is the settings class, row for row."""

from __future__ import annotations

import re
from pathlib import Path

from shared.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _documented() -> set[str]:
    text = README.read_text()
    table = text[text.index("## Configuration") :]
    table = table[: table.index("\n## ", 1)]
    return set(re.findall(r"^\| `(NBA_PROPS_[A-Z0-9_]+)` \|", table, flags=re.MULTILINE))


def test_every_setting_is_documented_in_the_readme_and_nothing_else_is() -> None:
    settings = {f"NBA_PROPS_{name.upper()}" for name in Settings.model_fields}
    documented = _documented()
    assert settings - documented == set(), "settings missing from the README table"
    assert documented - settings == set(), "README documents settings that do not exist"


def test_the_readme_opens_with_the_two_commands() -> None:
    commands = re.findall(r"^make (\w+)", README.read_text(), flags=re.MULTILINE)
    assert commands[:2] == ["demo", "test"]

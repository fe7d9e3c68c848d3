"""The services' code stays readable in pieces: modules, classes and module docstrings stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(p for package in ("shared", "coordinator", "worker") for p in (ROOT / package).rglob("*.py"))
MAX_MODULE_LINES = 450
MAX_CLASS_LINES = 300
MAX_DOCSTRING_LINES = 8


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_a_module_stays_within_its_size(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    classes = {
        node.name: (node.end_lineno or node.lineno) - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    }
    assert {name: size for name, size in classes.items() if size > MAX_CLASS_LINES} == {}
    docstring = ast.get_docstring(tree) or ""
    assert len(docstring.splitlines()) <= MAX_DOCSTRING_LINES, "a module docstring says what it is for"


def test_the_size_rule_sees_every_package() -> None:
    packages = {p.relative_to(ROOT).parts[0] for p in MODULES}
    assert packages == {"shared", "coordinator", "worker"}
    assert len(MODULES) > 40

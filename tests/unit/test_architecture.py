"""The layout is the architecture: `shared` imports neither service, and the services import each
other only in the one module that wires embedded mode."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EMBEDDED_WIRING = ROOT / "nba_props" / "embedded.py"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_shared_imports_neither_service() -> None:
    offenders = {
        str(p.relative_to(ROOT)): _imports(p) & {"coordinator", "worker", "nba_props"}
        for p in _package_files("shared")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_coordinator_never_imports_the_worker_and_vice_versa() -> None:
    assert {
        str(p.relative_to(ROOT)) for p in _package_files("coordinator") if "worker" in _imports(p)
    } == set()
    assert {
        str(p.relative_to(ROOT)) for p in _package_files("worker") if "coordinator" in _imports(p)
    } == set()


def test_only_the_embedded_wiring_imports_both_services() -> None:
    both = {
        p
        for pkg in ("nba_props", "shared", "coordinator", "worker")
        for p in _package_files(pkg)
        if {"coordinator", "worker"} <= _imports(p)
    }
    assert both == {EMBEDDED_WIRING}


def test_the_worker_hot_path_issues_no_warehouse_reads() -> None:
    source = (ROOT / "worker" / "predict.py").read_text()
    assert ".query(" not in source and ".sql(" not in source

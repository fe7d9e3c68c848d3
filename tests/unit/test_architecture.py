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


PACKAGES = ("shared", "coordinator", "worker", "nba_props")


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _internal_imports(path: Path, root: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports when it runs, at module level or inside functions alike.

    ``from a import b`` counts as importing ``a.b`` when that is a module, else ``a``. A submodule's
    implicit import of its own package is left out: a package re-exporting its submodules is no cycle.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    here = _module_name(path, root)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    type_only = {
        inner
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if node in type_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            ]
        else:
            continue
        found.update(names)
    return (found & known) - {here}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))]
    known = {_module_name(p, root) for p in files}
    return {_module_name(p, root): _internal_imports(p, root, known) for p in files}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_module_imports_itself_through_others() -> None:
    # Deferred imports inside functions count too: a cycle hidden in a function still ties the
    # modules together, and moves the ImportError to whenever the function first runs.
    assert import_cycles(import_graph()) == []


def test_the_cycle_finder_sees_a_cycle_through_a_package_init() -> None:
    graph = {
        "shared.transport": {"shared.outcomes"},
        "shared.outcomes": {"shared.transport", "shared.warehouse"},
        "shared.warehouse": set(),
    }
    assert import_cycles(graph) == [["shared.outcomes", "shared.transport"]]


# A library's private names break silently on its next release. Underscored names that are public
# by convention (namedtuple, enum) are allowed; the project's own private names are, of course.
PUBLIC_UNDERSCORED = frozenset({"_replace", "_asdict", "_fields", "_make", "_value_", "_name_", "_missing_"})


def _project_private_names() -> set[str]:
    names: set[str] = set()
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(node.name)
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    names.add(node.attr)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names.add(node.target.id)
    return {name for name in names if name.startswith("_")}


def private_library_uses(path: Path, own: set[str]) -> list[str]:
    """Reads of a library's private attribute (`client._call_api`), imports of a private module
    (`google.cloud.bigquery._helpers`) or of httpcore (httpx's internals), and patched-in
    attributes of library objects (`rows.api_request = ...`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute):
            private = node.attr.startswith("_") and not node.attr.startswith("__")
            receiver = node.value.id if isinstance(node.value, ast.Name) else None
            if private and node.attr not in own | PUBLIC_UNDERSCORED and receiver not in {"self", "cls"}:
                found.append(f"{node.lineno}: .{node.attr}")
            if isinstance(node.ctx, ast.Store) and node.attr == "api_request":
                found.append(f"{node.lineno}: .{node.attr} =")
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        for module in modules:
            top = module.split(".")[0]
            if top == "httpcore" or (
                top not in PACKAGES and any(part.startswith("_") for part in module.split(".")[1:])
            ):
                found.append(f"{node.lineno}: import {module}")
    return found


def test_package_code_touches_no_private_attribute_of_a_library() -> None:
    own = _project_private_names()
    offenders = {
        str(path.relative_to(ROOT)): uses
        for pkg in PACKAGES
        for path in sorted((ROOT / pkg).rglob("*.py"))
        if (uses := private_library_uses(path, own))
    }
    assert offenders == {}


def test_the_private_use_finder_sees_what_a_careless_patch_writes(tmp_path: Path) -> None:
    patch = tmp_path / "patch.py"
    patch.write_text(
        "import httpcore\n"
        "from google.cloud.bigquery._helpers import _rows_from_json\n"
        "def page(client, rows, transport):\n"
        "    rows.api_request = lambda **kw: client._call_api(None, **kw)\n"
        "    return transport._pool, client._connection\n"
    )
    found = {use.split(": ", 1)[1] for use in private_library_uses(patch, own=set())}
    assert found == {
        "import httpcore",
        "import google.cloud.bigquery._helpers",
        ".api_request =",
        "._call_api",
        "._pool",
        "._connection",
    }


def test_serving_never_imports_training_the_coordinator_or_the_cli() -> None:
    graph = import_graph()
    reachable, todo = set(), [m for m in graph if m.split(".")[0] == "worker"]
    while todo:
        module = todo.pop()
        if module not in reachable:
            reachable.add(module)
            todo.extend(graph[module])
    assert {"shared.model.bundle", "shared.features.sets"} <= reachable
    assert {
        m for m in reachable if m == "shared.training" or m.split(".")[0] in {"coordinator", "nba_props"}
    } == set()

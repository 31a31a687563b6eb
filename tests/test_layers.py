"""The import structure of the api package: lower layers never import higher ones, and no two
packages (or modules) import each other, even under TYPE_CHECKING or inside a function.

- bottom: the catalog, parameters, settings, database access and the SQL file runner, which
  every domain uses and which know no domain;
- domain: one folder per domain (operating data, analytics, de-identification, HTTP access
  control, database roles, demo, loader, ...), which may use each other without a cycle;
- top: the application and the command line, which put the domains together.
"""

from __future__ import annotations

import ast
from pathlib import Path

from api.config import REPO_ROOT

API = REPO_ROOT / "api"
BOTTOM = {"catalog", "params", "config", "db", "engine", "errors", "migrate", "refresh"}
BOTTOM |= {"secret_files", "replicas"}
TOP = {"app", "cli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """Every api module `path` imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from api.x import y` names module api.x.y when there is one, else api.x
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in API.rglob("*.py")}
    return {name: imported_modules(path, set(paths)) for name, path in paths.items()}


def unit(module: str) -> str:
    """The package or top-level module of api that `module` belongs to."""
    return module.split(".")[1] if module != "api" else "api"


def layer(module: str) -> int:
    name = unit(module)
    return 0 if name in BOTTOM else 2 if name in TOP else 1


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component with more than one member."""
    found, done = [], set()
    for start in sorted(graph):
        if start in done:
            continue
        # depth-first search for a path back to `start`
        stack, seen = [(start, [start])], {start}
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph.get(node, ())):
                if nxt == start and len(path) > 1:
                    found.append([*path, start])
                    done |= set(path)
                    stack = []
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    return found


def test_the_layers_are_known():
    units = {unit(m) for m in import_graph()} - {"api"}
    assert units >= BOTTOM | TOP
    assert {"operating_data", "analytics", "deid", "auth", "database_roles", "demo"} <= units


def test_no_module_imports_a_higher_layer():
    upward = [
        f"{module} imports {target}"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if layer(target) > layer(module)
    ]
    assert upward == []


def test_no_import_cycle_between_packages():
    graph = import_graph()
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        packages.setdefault(unit(module), set()).update(
            unit(t) for t in targets if unit(t) != unit(module)
        )
    assert cycles(packages) == []


def test_no_import_cycle_between_modules():
    graph = import_graph()
    # a package's __init__ re-exports its modules; only the modules' own imports count
    without_reexports = {
        module: {t for t in targets if not t.startswith(f"{module}.")}
        for module, targets in graph.items()
    }
    assert cycles(without_reexports) == []


def test_the_checks_see_a_cycle_and_an_upward_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert layer("api.config") < layer("api.deid.views") < layer("api.cli")

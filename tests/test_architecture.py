"""The package's shape: phases side by side, no import cycles, a standard-library contract.

Walks every `import` in expctl/ (module level and inside functions) with the ast module, so a
function-local import cannot hide a cycle or a phase reaching into another.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "expctl"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    """expctl modules imported anywhere in `path` (`from a import b` counts a.b if a module)."""
    deps = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                deps.add(candidate if candidate in known else node.module)
        elif isinstance(node, ast.Import):
            deps.update(alias.name for alias in node.names)
    return {d for d in deps if d in known}


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(path, known) - {name} for name, path in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_no_phase_imports_another_phase():
    graph = _graph()
    phases = {m for m in graph if m.startswith("expctl.phases.")}
    assert {"expctl.phases.new", "expctl.phases.launch", "expctl.phases.gather",
            "expctl.phases.validate", "expctl.phases.record", "expctl.phases.compare",
            "expctl.phases.commit", "expctl.phases.importer"} <= phases
    crossings = sorted(f"{p} -> {d}" for p in phases for d in graph[p] if d in phases)
    assert crossings == []


def test_only_cycle_and_the_cli_chain_phases():
    graph = _graph()
    users = sorted(m for m, deps in graph.items()
                   if any(d.startswith("expctl.phases.") for d in deps)
                   and not m.startswith(("expctl.phases", "expctl.cli"))
                   # cycle chains the phases; the queue's scheduler starts runs by the launch phase
                   and m not in ("expctl.cycle", "expctl.queue.scheduler"))
    assert users == []


def test_layers_below_phases_never_import_phases_or_the_cli():
    graph = _graph()
    lower = [m for m in graph if not m.startswith(("expctl.phases", "expctl.cli"))
             and m not in ("expctl.cycle", "expctl.__main__", "expctl.queue.scheduler")]
    upward = sorted(f"{m} -> {d}" for m in lower for d in graph[m]
                    if d.startswith("expctl.cli") or d.startswith("expctl.phases."))
    assert upward == []


def test_run_folder_contract_uses_the_standard_library_only():
    tree = ast.parse((PACKAGE / "rundir.py").read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
    assert roots - {"__future__"} <= set(sys.stdlib_module_names)


def test_the_guard_sees_a_cycle_and_a_crossing():
    """The checks above would fail on a bad graph (so they are not vacuous)."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    graph = _graph()
    assert "expctl.rundir" in graph["expctl.phases.gather"]


def test_every_import_of_an_expctl_name_finds_it() -> None:
    """Also the imports inside functions, which only fail when that code runs (a restructure
    that moves a name must move every import of it)."""
    import importlib

    missing = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                    and node.module.startswith("expctl")):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        missing.append(f"{name}: {node.module}.{alias.name}")
    assert missing == []

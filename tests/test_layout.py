"""The shape of the code base, checked: import directions, no import cycles, small modules, and
the database driver only inside recorder/store."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("proxy", "recorder", "finetune")
MAX_LINES = 300
DRIVERS = ("sqlite3", "aiosqlite", "psycopg", "psycopg_pool", "asyncpg")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(path: Path, module: str, known: set[str], top_level_only: bool) -> set[str]:
    """The project modules this file imports (a `from package import submodule` counts as the submodule)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if top_level_only and isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative imports
                base = ".".join([*module.split(".")[: -node.level], node.module])
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known)
    return {name for name in out if name in known and name != module}


def test_no_import_cycles_at_load_time():
    found = modules()
    graph = {m: imports(p, m, set(found), top_level_only=True) for m, p in found.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


def test_imports_go_one_way_proxy_to_recorder_from_finetune():
    found = modules()
    wrong = []
    for module, path in found.items():
        top = module.split(".")[0]
        forbidden = {"recorder": ("proxy", "finetune"), "finetune": ("proxy",), "proxy": ()}[top]
        for name in imports(path, module, set(found), top_level_only=False):
            if name.split(".")[0] in forbidden:
                wrong.append(f"{module} imports {name}")
    assert wrong == []


def test_only_recorder_store_touches_a_database_driver():
    offenders = []
    for module, path in modules().items():
        if module.startswith("recorder.store"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{module} imports {n}" for n in names if n.split(".")[0] in DRIVERS]
    assert offenders == []


def test_no_module_is_over_300_lines():
    long = {m: n for m, p in modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}

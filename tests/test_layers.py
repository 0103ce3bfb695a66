"""The package's layers point one way: no import cycles, no import of a higher layer.

Every module under ``src/aekit`` is parsed with :mod:`ast` (nothing is imported) and every
import statement counts, including ones inside functions: a lazy import hides a cycle from
Python's import machinery, not from the design. ``importlib.import_module("aekit.x")`` with
a literal name counts too.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "aekit"
ROOT = "aekit"
# Not nodes of the graph: the root only re-exports lazily (module ``__getattr__``) and
# ``__main__`` is the command; both sit above everything.
EXCLUDED = {ROOT, "aekit.__main__"}

# Layers, lowest first: a subpackage (or top-level module) of ``aekit`` may import only
# from lower layers, and from its own layer only where ALLOWED_SAME_LAYER says so. Names
# listed but not (yet) present in the tree are fine; a name present but not listed fails.
LAYERS = {
    "errors": 0,
    "kinds": 0,         # the model kinds, declared once: plain data
    "io": 1,            # atomic writes, json_values, mapped_pages, rows: aekit.errors only
    "models": 2,
    "losses": 2,
    "datasets": 3,      # datasets and training must not import each other
    "training": 3,
    "fitted": 4,        # the trained-model object, model folders
    "estimators": 5,
    "loading": 6,       # aekit/loading.py: aekit.load, above the estimators
    "applications": 7,
    "pretrained": 7,    # models shipped in the wheel: aekit.pretrained.load is aekit.load
    "evaluation": 7,    # evaluation may import applications, not the reverse
    "plotting": 8,
    "report": 9,
    "tour": 10,
    "cli": 11,
}
ALLOWED_SAME_LAYER = {("evaluation", "applications")}  # (importer, imported)
# The root package re-exports the estimators and ``load``, so importing it (for names,
# e.g. ``from aekit import __version__``) is importing from the top: only these may.
ROOT_IMPORTERS = {"cli"}


@dataclass(frozen=True)
class Import:
    source: str       # importing module
    target: str       # imported module (or the nearest existing package above it)
    path: Path
    line: int
    lazy: bool        # inside a function

    def where(self) -> str:
        return (f"{self.path.relative_to(SRC.parent)}:{self.line}"
                + (" (inside a function)" if self.lazy else ""))


def module_names() -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is_package) for every module under src/aekit."""
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (path, is_package)
    # A folder of modules without an __init__.py (yet) is still a package node.
    for name in list(found):
        for i in range(1, name.count(".") + 1):
            package = name.rsplit(".", i)[0]
            found.setdefault(package, (SRC.parent / package.replace(".", "/"), True))
    return found


MODULES = module_names()


def nearest_module(name: str) -> str:
    """``name`` if it is a module, else the nearest enclosing package that is one."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _function_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside a function body (lazy imports)."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inside.update(id(n) for n in ast.walk(node) if n is not node)
    return inside


def imports_of(module: str) -> list[Import]:
    path, is_package = MODULES[module]
    if path.is_dir():  # package folder without __init__.py
        return []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lazy_ids = _function_nodes(tree)
    package = module if is_package else module.rsplit(".", 1)[0]
    out = []

    def add(target: str, node: ast.AST) -> None:
        if target == ROOT or target.startswith(ROOT + "."):
            out.append(Import(module, nearest_module(target), path, node.lineno,
                              id(node) in lazy_ids))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            for alias in node.names:
                child = f"{base}.{alias.name}"
                # ``from aekit.x import y``: the module aekit.x.y if there is one, else aekit.x
                add(child if alias.name != "*" and child in MODULES else base, node)
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) == "import_module"
                   or getattr(node.func, "id", None) == "import_module")):
            add(node.args[0].value, node)
    return out


def all_imports() -> list[Import]:
    return [imp for module in MODULES for imp in imports_of(module)]


def unit_of(module: str) -> str:
    """The subpackage (or top-level module) of aekit a module belongs to."""
    return module.split(".")[1] if module != ROOT else ROOT


def test_the_walker_sees_the_package():
    imports = all_imports()
    assert len(MODULES) > 20 and len(imports) > 50
    edges = {(i.source, i.target) for i in imports}
    # One top-level and one lazy import this file knows to exist.
    assert ("aekit.training.trainer", "aekit.io.rows") in edges
    assert ("aekit.datasets.dataset", "aekit.io.rows") in edges


def test_no_import_cycles():
    graph: dict[str, dict[str, Import]] = {m: {} for m in MODULES if m not in EXCLUDED}
    for imp in all_imports():
        if imp.source in EXCLUDED or imp.target in EXCLUDED or imp.source == imp.target:
            continue
        if imp.source.startswith(imp.target + "."):
            # A module importing its own package's __init__ (which imports the module back
            # to re-export it) is ordinary Python, not a cycle between layers.
            continue
        graph[imp.source].setdefault(imp.target, imp)

    cycles = [shortest_cycle(graph, scc) for scc in strongly_connected(graph) if len(scc) > 1]
    assert not cycles, "import cycles (every import counts, lazy ones too):\n\n" + "\n\n".join(
        format_cycle(graph, cycle) for cycle in cycles)


def test_layers_point_down():
    present = sorted({unit_of(m) for m in MODULES} - {unit_of(m) for m in EXCLUDED})
    unknown = [u for u in present if u not in LAYERS]
    assert not unknown, (
        f"aekit.{', aekit.'.join(unknown)} not in the layer table: add "
        f"{'it' if len(unknown) == 1 else 'them'} to LAYERS in tests/test_layers.py")

    violations = {}
    for imp in all_imports():
        if imp.source in EXCLUDED:
            continue
        src, dst = unit_of(imp.source), unit_of(imp.target)
        if src == dst:
            continue
        if dst == ROOT:
            if src not in ROOT_IMPORTERS:
                why = (f"{src} imports the root package aekit (which re-exports everything); "
                       f"import from the subpackage instead")
                violations.setdefault((imp.source, imp.target), (why, imp))
            continue
        if imp.target in EXCLUDED:
            continue
        if LAYERS[dst] > LAYERS[src] or (LAYERS[dst] == LAYERS[src]
                                         and (src, dst) not in ALLOWED_SAME_LAYER):
            why = f"{src} (layer {LAYERS[src]}) imports {dst} (layer {LAYERS[dst]})"
            violations.setdefault((imp.source, imp.target), (why, imp))

    lines = [f"  {imp.source} -> {imp.target}   [{why}]   {imp.where()}"
             for why, imp in (violations[k] for k in sorted(violations))]
    assert not lines, (
        f"{len(lines)} import(s) against the layers (lowest first: "
        + ", ".join(f"{layer}:{'/'.join(n for n in LAYERS if LAYERS[n] == layer)}"
                    for layer in sorted(set(LAYERS.values())))
        + "):\n" + "\n".join(lines))


def test_imports_of_aekit_modules_resolve():
    """An import naming an aekit module that is not there (a lazy one is only found when
    it runs) is reported here, e.g. after a module moved."""
    missing = []
    for module in MODULES:
        path, _ = MODULES[module]
        if path.is_dir():
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            for name in names:
                if name.startswith(ROOT + ".") and name not in MODULES:
                    missing.append(f"  {path.relative_to(SRC.parent)}:{node.lineno}  {name}")
    assert not missing, "imports of aekit modules that do not exist:\n" + "\n".join(missing)


# --- graph helpers ---------------------------------------------------------------------------
def strongly_connected(graph: dict[str, dict]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    scc = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        scc.append(member)
                        if member == node:
                            break
                    out.append(sorted(scc))
    return out


def shortest_cycle(graph: dict[str, dict], scc: list[str]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected component."""
    members, start = set(scc), scc[0]
    previous = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node]):
            if child == start:
                path = [node]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return path[::-1] + [start]
            if child in members and child not in previous:
                previous[child] = node
                queue.append(child)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def format_cycle(graph: dict[str, dict[str, Import]], cycle: list[str]) -> str:
    lines = [f"  {cycle[0]}"]
    for a, b in zip(cycle, cycle[1:]):
        lines.append(f"    -> {b}   ({graph[a][b].where()})")
    return "\n".join(lines)

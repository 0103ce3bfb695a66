"""The test suite itself: modules share fixtures through conftest.py, never by importing."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _forbidden(name: str) -> bool:
    top = name.split(".")[0]
    return top.startswith("test_") or top in ("_tiny_models", "conftest")


def _bad_imports(path: Path) -> list[str]:
    bad = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # "from . import test_x" / "from .conftest import y"
                names = [node.module] if node.module else [a.name for a in node.names]
            else:
                names = [node.module or ""]
        else:
            continue
        bad += [f"{path.name}:{node.lineno} imports {n}" for n in names if _forbidden(n)]
    return bad


def test_no_test_module_imports_another_test_module_or_conftest():
    modules = sorted(TESTS.glob("test_*.py"))
    assert len(modules) > 10  # the glob found the suite
    bad = [line for path in modules for line in _bad_imports(path)]
    assert bad == [], ("share fixtures through tests/conftest.py instead of importing: "
                       + "; ".join(bad))

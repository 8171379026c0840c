"""The money module, the pricing engine and the formula language are pure Python."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = [
    ROOT / "zenskar" / "money.py",
    ROOT / "contracts" / "formula.py",
    *sorted((ROOT / "contracts" / "pricing").glob("*.py")),
]
FRAMEWORKS = {"django", "rest_framework", "celery"}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", PURE, ids=lambda path: str(path.relative_to(ROOT)))
def test_imports_no_framework(path):
    assert imported_packages(path).isdisjoint(FRAMEWORKS)

"""The tests' own layout: no module under tests/ imports a test module or a conftest. What
tests share lives in ``tests/support`` -- helpers, factories, and fixtures that
tests/conftest.py registers through ``pytest_plugins`` -- and from the ``tests`` package a
module imports ``tests.support`` only (a conftest and the support modules as well).

Read from the source (an AST walk), not by importing: a regression fails here, naming the
file, the line and the import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SUPPORT = "tests.support"


def module_name(path: Path) -> str:
    """``tests/invoicing/test_email.py`` -> ``tests.invoicing.test_email``."""
    parts = path.relative_to(TESTS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, source: str) -> list[tuple[int, str]]:
    """Every module an import in ``source`` names, absolute: ``from .x import y`` resolved
    against the file's package, ``from tests.payments import conftest`` (from a package) as
    ``tests.payments.conftest``; the names in a ``pytest_plugins`` list and the
    ``importlib.import_module`` calls with a literal name too."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                above = package[:len(package) - node.level + 1]
                base = ".".join([*above, *([base] if base else [])])
            if (TESTS.parent / base.replace(".", "/")).is_dir():  # from a package: modules
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in node.targets):
            found += [(node.lineno, c.value) for c in ast.walk(node.value)
                      if isinstance(c, ast.Constant) and isinstance(c.value, str)]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(
                node.func, "id", None)) in ("import_module", "__import__") and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def wrong_imports(path: Path, source: str) -> list[str]:
    """What ``path`` imports from the ``tests`` package besides ``tests.support``, as
    ``file:line imports module``."""
    return [f"{path.relative_to(TESTS.parent)}:{line} imports {target}"
            for line, target in imported(path, source)
            if within(target, "tests") and target != "tests" and not within(target, SUPPORT)]


def test_no_module_imports_a_test_module_or_a_conftest():
    wrong = [message for path in sorted(TESTS.rglob("*.py"))
             for message in wrong_imports(path, path.read_text())]

    assert wrong == [], "move what is shared into tests/support:\n" + "\n".join(wrong)


@pytest.mark.parametrize(("path", "source", "expected"), [
    ("tests/invoicing/test_email.py", "from tests.invoicing.test_rendering import pdf_text",
     ["tests.invoicing.test_rendering"]),
    ("tests/invoicing/test_delivery.py", "from .test_scenarios import flat",
     ["tests.invoicing.test_scenarios"]),
    ("tests/payments/test_api.py", "from .conftest import save_card",
     ["tests.payments.conftest"]),
    ("tests/e2e/test_checkout.py", "from tests.payments import conftest as payments",
     ["tests.payments.conftest"]),
    ("tests/security/test_x.py", "import tests.security.world",
     ["tests.security.world"]),
    ("tests/api/test_x.py", "from tests.conftest import COMMITTING", ["tests.conftest"]),
    ("tests/api/test_x.py", "from .. import browser", ["tests.browser"]),
    ("tests/api/test_x.py", "importlib.import_module('tests.invoicing.test_scenarios')",
     ["tests.invoicing.test_scenarios"]),
    # allowed
    ("tests/invoicing/test_email.py", "from tests.support.invoices import build_invoice", []),
    ("tests/invoicing/test_email.py", "from tests.support import COMMITTING", []),
    ("tests/invoicing/test_email.py", "from tests import support", []),
    ("tests/invoicing/test_email.py", "from invoicing.tests import helpers", []),
    ("tests/payments/conftest.py", "from tests.support.payments import bill", []),
    ("tests/conftest.py", "pytest_plugins = ['tests.support.browser']", []),
    # a conftest or a support module: the same rule
    ("tests/payments/conftest.py", "from tests.invoicing.test_scenarios import flat",
     ["tests.invoicing.test_scenarios"]),
    ("tests/conftest.py", "pytest_plugins = ['tests.payments.test_api']",
     ["tests.payments.test_api"]),
    ("tests/support/scenario.py", "from tests.invoicing.conftest import Scenario",
     ["tests.invoicing.conftest"]),
    ("tests/support/checkout.py", "from .payments import bill", []),
])
def test_the_check_catches_every_way_of_importing_a_test_module(path, source, expected):
    found = wrong_imports(TESTS.parent / path, source)

    assert [message.rsplit(" imports ", 1)[1] for message in found] == expected

"""Layers import only downward: core library <- services <- tools <- bench and tests.

Every import statement of every module is read from its syntax tree (imports inside
functions too), so a lazy import cannot hide an upward arrow. A service may use the core
and its own package, never another service: what two services share travels on a topic,
and its types live in the core (``storesight.attributes``, ``storesight.contracts``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Rank of each top-level package: a module may import packages of a lower or equal rank.
RANKS = {"storesight": 0, "services": 1, "tools": 2, "deploy": 2, "bench": 3, "tests": 3}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every absolute import in the file, wherever it stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if "." in node.module:
                found.append((node.lineno, node.module))
            else:  # ``from services import detect`` names the subpackage in the alias
                found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def upward_imports(path: Path, root: Path = ROOT) -> list[str]:
    """The imports in ``path`` that break the layering, as 'file:line: a -> b' strings."""
    relative = path.relative_to(root)
    package = relative.parts[0]
    own_service = relative.parts[1] if package == "services" and len(relative.parts) > 2 else None
    problems = []
    for line, name in imported_modules(path):
        parts = name.split(".")
        target = parts[0]
        if target not in RANKS:
            continue  # the standard library or a third-party package
        where = f"{relative}:{line}: {package} -> {name}"
        if RANKS[target] > RANKS[package]:
            problems.append(where)
        elif package == "services" and target == "services" and len(parts) > 1 and parts[1] != own_service:
            problems.append(where + " (a service imports another service)")
    return problems


def project_modules() -> list[Path]:
    return sorted(p for pkg in RANKS for p in (ROOT / pkg).rglob("*.py") if ".venv" not in p.parts)


def test_every_package_is_ranked() -> None:
    top_level = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert top_level <= set(RANKS), f"rank the new top-level package(s): {sorted(top_level - set(RANKS))}"


def test_no_module_imports_a_higher_layer() -> None:
    problems = [p for path in project_modules() for p in upward_imports(path)]
    assert not problems, "upward imports:\n" + "\n".join(problems)


@pytest.mark.parametrize(("where", "source", "expected"), [
    ("storesight/x.py", "def f():\n    from services.detect import pipeline\n", 1),
    ("storesight/x.py", "import tools.cli\n", 1),
    ("services/aggregate/x.py", "from services.detect.attributes import anonymity\n", 1),
    ("services/aggregate/x.py", "from services import detect\n", 1),
    ("services/aggregate/x.py", "from services.aggregate import windows\nimport storesight.bus\n", 0),
    ("tools/x.py", "from services.aggregate import windows\nimport numpy\n", 0),
    ("services/detect/x.py", "from tools import demo\n", 1),
])
def test_the_check_sees_upward_imports(tmp_path, where, source, expected) -> None:
    """The checker itself: it must flag each planted upward arrow and nothing else."""
    path = tmp_path / where
    path.parent.mkdir(parents=True)
    path.write_text(source)
    assert len(upward_imports(path, tmp_path)) == expected

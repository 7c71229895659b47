"""The project's layering: ``analysis/`` is pure (pandas, numpy, pingouin, pydantic), and
``app/`` may import it, never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_ANALYSIS = ("app", "fastapi", "starlette", "sqlmodel", "sqlalchemy", "alembic")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path", sorted((ROOT / "analysis").glob("*.py")), ids=lambda path: path.name
)
def test_analysis_imports_no_web_or_database_module(path: Path) -> None:
    offending = sorted(
        name for name in imported_modules(path) if name.split(".")[0] in FORBIDDEN_IN_ANALYSIS
    )
    assert offending == [], f"{path.relative_to(ROOT)} imports {offending}"


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "leaky.py"
    module.write_text("import pandas\nfrom sqlalchemy import select\nimport app.models\n")
    assert {"sqlalchemy", "app.models", "pandas"} <= imported_modules(module)


@pytest.mark.parametrize(
    "path",
    sorted([*(ROOT / "app" / "services").glob("*.py"), *(ROOT / "app" / "reports").glob("*.py")]),
    ids=lambda path: f"{path.parent.name}/{path.name}",
)
def test_services_and_reports_import_no_web_module(path: Path) -> None:
    """The web layer calls services and report renderers, never the reverse: so a report is
    rendered the same from a page, the API, the command line or the worker."""
    offending = sorted(
        name for name in imported_modules(path) if name == "app.web" or name.startswith("app.web.")
    )
    assert offending == [], f"{path.relative_to(ROOT)} imports {offending}"

"""The shape of the code (CONVENTIONS.md, "The shape"): two apps, one direction, files of one idea."""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings
from django.db.migrations.loader import MigrationLoader

ROOT = Path(settings.BASE_DIR)
LONGEST_FILE = 450  # lines; a longer file holds two ideas


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, at any depth: inside functions and TYPE_CHECKING too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def python_files(app: str) -> list[Path]:
    return sorted((ROOT / app).rglob("*.py"))


def test_planning_never_imports_monitoring():
    wrong_way = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in python_files("planning")
        for line, module in imported_modules(path)
        if module == "monitoring" or module.startswith("monitoring.")
    ]
    assert wrong_way == []


def test_planning_migrations_never_depend_on_monitoring():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    wrong_way = [
        f"{app}.{name} depends on {dependency}"
        for (app, name), migration in loader.disk_migrations.items() if app == "planning"
        for dependency in migration.dependencies if dependency[0] == "monitoring"
    ]
    assert wrong_way == []


def test_the_check_itself_finds_an_import_the_wrong_way(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f():\n    from monitoring.kpi import machine_result\n    return machine_result\n")
    assert imported_modules(sneaky) == [(2, "monitoring.kpi")]


def test_no_file_of_the_apps_holds_two_ideas():
    long_files = {
        str(path.relative_to(ROOT)): length
        for app in ("monitoring", "planning", "oee_site")
        for path in python_files(app)
        if "migrations" not in path.parts and (length := len(path.read_text().splitlines())) > LONGEST_FILE
    }
    assert long_files == {}

"""Compiles the translation catalogs (locale/*/LC_MESSAGES/*.po) to the .mo files Django reads.

With Babel, so a fresh machine needs no GNU gettext: `python -m oee_site.catalogs` compiles the
catalogs whose .mo is missing or older than the .po (`--force`: every one). `make run`, `make test`
and the test session call it; the .mo files are never kept in git.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


class CatalogError(Exception):
    """A catalog that cannot be compiled: its path and what is wrong with it."""


def catalogs(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """The .po files under locale_dir, in a steady order."""
    return sorted(locale_dir.glob("*/LC_MESSAGES/*.po"))


def is_stale(po_path: Path) -> bool:
    """Whether the .mo beside po_path is missing or older than it."""
    mo_path = po_path.with_suffix(".mo")
    return not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime


def compile_catalog(po_path: Path) -> Path:
    """Writes the .mo beside po_path (fuzzy entries left out, as msgfmt does); returns its path.

    Raises CatalogError when the .po does not parse or a translation's placeholders differ from its msgid's.
    """
    try:
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, abort_invalid=True)
    except Exception as error:  # Babel raises its own PoFileError, or a ValueError on a bad header
        raise CatalogError(f"{po_path}: {error}") from error
    # Babel takes any "%" for a placeholder; a msgid marked no-python-format ("Scrap above N %")
    # has none to compare.
    problems = [f"{po_path}:{message.lineno}: {problem}"
                for message, problems in catalog.check() for problem in problems
                if "no-python-format" not in message.flags]
    if problems:
        raise CatalogError("\n".join(str(problem) for problem in problems))
    mo_path = po_path.with_suffix(".mo")
    # A file of this process's own, then renamed: a process reading the catalogs (or another test
    # run compiling them at the same moment) never sees half a file.
    with tempfile.NamedTemporaryFile(dir=mo_path.parent, prefix=f".{mo_path.name}.", delete=False) as mo_file:
        write_mo(mo_file, catalog, use_fuzzy=False)
    Path(mo_file.name).chmod(0o644)
    Path(mo_file.name).replace(mo_path)
    return mo_path


def compile_all(locale_dir: Path = LOCALE_DIR, force: bool = False) -> list[Path]:
    """Compiles every catalog whose .mo is stale (every one with force); returns the .mo files written."""
    return [compile_catalog(po_path) for po_path in catalogs(locale_dir) if force or is_stale(po_path)]


def main(argv: list[str]) -> int:
    try:
        written = compile_all(force="--force" in argv)
    except CatalogError as error:
        print(error, file=sys.stderr)
        return 1
    for mo_path in written:
        print(f"compiled {mo_path.relative_to(LOCALE_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

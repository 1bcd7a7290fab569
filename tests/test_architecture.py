"""The architecture the README's "Layout" draws, checked on the source and on the built wheel.

Dependencies point one way: ``schemas`` ← ``lake`` ← ``ingest``; ``schemas`` ← ``lake`` ←
``queries``; the CLI (``tasqlake``) composes them. ``ingest`` and ``queries`` never import each
other, and nothing below the CLI depends on the catalogue through SQL either: the task-state
algebra that compaction and the views share lives in ``schemas/sql``.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Source folder -> the parts of tasqlake its modules may import.
ALLOWED = {
    "schemas": {"schemas"},
    "lake": {"schemas", "lake"},
    "ingest": {"schemas", "lake", "ingest"},
    "queries": {"schemas", "lake", "queries"},
    "tasqlake/simulator": {"schemas", "simulator"},
}
_PART = re.compile(r"^tasqlake\.(\w+)")


def _imported_parts(path: Path) -> dict[str, int]:
    """``tasqlake.<part>`` modules imported by ``path`` -> first line importing each."""
    parts: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
            if node.module == "tasqlake":
                names = [f"tasqlake.{alias.name}" for alias in node.names]
        for name in names:
            match = _PART.match(name)
            if match:
                parts.setdefault(match.group(1), node.lineno)
    return parts


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_each_part_imports_only_what_is_below_it(folder: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports tasqlake.{part}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for part, line in _imported_parts(path).items()
        if part not in ALLOWED[folder]
    ]
    assert wrong == [], f"{folder} may import only {sorted(ALLOWED[folder])}"
    assert any((ROOT / folder).rglob("*.py"))


def _defined_names(sql_files: list[Path]) -> set[str]:
    create = re.compile(r"CREATE\s+OR\s+REPLACE\s+(?:VIEW|MACRO)\s+(\w+)", re.I)
    return {m.lower() for f in sql_files for m in create.findall(f.read_text(encoding="utf-8"))}


def test_the_shared_algebra_mentions_nothing_of_the_catalogue() -> None:
    """Compaction (lake) computes task partials with schemas/sql alone: no macro or view it
    uses may be defined by the catalogue under queries/."""
    algebra = sorted((ROOT / "schemas" / "sql").glob("*.sql"))
    catalogue = _defined_names(sorted((ROOT / "queries").rglob("*.sql"))) - _defined_names(algebra)
    assert algebra and catalogue
    word = re.compile(r"\b\w+\b")
    for path in algebra:
        code = "\n".join(
            line.split("--", 1)[0] for line in path.read_text(encoding="utf-8").splitlines()
        )
        parameters = {
            p.strip().lower()
            for params in re.findall(r"MACRO\s+\w+\s*\(([^)]*)\)", code, re.I)
            for p in params.split(",")
        }
        used = ({w.lower() for w in word.findall(code)} - parameters) & catalogue
        assert used == set(), f"{path.relative_to(ROOT)} uses the catalogue's {sorted(used)}"


def test_installed_everything_is_under_the_tasqlake_namespace(tmp_path: Path) -> None:
    """The wheel puts nothing in site-packages but ``tasqlake/`` (no generic ``schemas``,
    ``ingest``, ``queries`` that would collide with other distributions)."""
    source = tmp_path / "source"  # a copy: building in place would leave build/ in the tree
    for part in ("schemas", "lake", "ingest", "queries", "tasqlake"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"),
            *("--disable-pip-version-check", "-w", str(tmp_path), str(source)),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("tasqlake-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"tasqlake"}
    for part in ("schemas", "lake", "ingest", "queries"):
        assert f"tasqlake/{part}/__init__.py" in names
    assert "tasqlake/schemas/sql/task_partials_of.sql" in names
    assert any(n.startswith("tasqlake/queries/") and n.endswith(".sql") for n in names)

"""Type-checks tasqlake with mypy as it is imported once installed: tasqlake.*.

mypy finds modules by folder, and knows neither setuptools' package-dir mapping (lake/ is
tasqlake.lake) nor the import hook of an editable install. So this lays out, under
build/typecheck/, the package tree that an install would have, made of symlinks to the source
folders named in [tool.setuptools.package-dir] of pyproject.toml, runs mypy on it (settings from
[tool.mypy] there), and rewrites the paths in mypy's report back to the source files
(build/typecheck/tasqlake/lake/storage.py is reported as lake/storage.py).

Usage: python scripts/typecheck.py [extra mypy arguments]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"
SKIP = {"__pycache__"}


def package_dirs() -> dict[str, Path]:
    """Import name -> source folder, as setuptools maps them (a package without an entry is in
    the folder of its name)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = config["tool"]["setuptools"]
    mapping: dict[str, str] = setuptools.get("package-dir", {})
    top = {name.split(".")[0] for name in setuptools["packages"]}
    dirs = {name: ROOT / name for name in sorted(top)}
    dirs.update({name: ROOT / folder for name, folder in mapping.items()})
    return dirs


def build_tree(dirs: dict[str, Path]) -> None:
    """build/typecheck/<package path>: a symlink to the source folder, or, for a package with
    mapped subpackages inside it, a real folder of symlinks to its entries."""
    if TREE.exists():
        shutil.rmtree(TREE)
    for name in sorted(dirs, key=lambda n: n.count(".")):
        source, target = dirs[name], TREE.joinpath(*name.split("."))
        nested = {n.rsplit(".", 1)[1] for n in dirs if n.rsplit(".", 1)[0] == name and "." in n}
        if not nested:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source, target_is_directory=True)
            continue
        target.mkdir(parents=True)
        for entry in sorted(source.iterdir()):
            if entry.name not in SKIP and entry.name not in nested:
                entry_target = target / entry.name
                entry_target.symlink_to(entry, target_is_directory=entry.is_dir())


def source_prefixes(dirs: dict[str, Path]) -> list[tuple[str, str]]:
    """(path in the tree, path from the repository root) for each package, longest first."""
    pairs = [
        ("/".join(name.split(".")) + "/", os.path.relpath(path, ROOT) + "/")
        for name, path in dirs.items()
    ]
    return sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)


def to_source(line: str, prefixes: list[tuple[str, str]]) -> str:
    for tree_path, source_path in prefixes:
        if line.startswith(tree_path):
            return source_path + line[len(tree_path) :]
    return line


def main(argv: list[str]) -> int:
    dirs = package_dirs()
    build_tree(dirs)
    top = sorted({name.split(".")[0] for name in dirs})
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--cache-dir",
        str(ROOT / ".mypy_cache"),
        *[arg for package in top for arg in ("-p", package)],
        *argv,
    ]
    result = subprocess.run(command, cwd=TREE, capture_output=True, text=True, check=False)
    prefixes = source_prefixes(dirs)
    for line in result.stdout.splitlines():
        print(to_source(line, prefixes))
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

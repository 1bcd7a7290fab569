"""Every notebook of ``notebooks/`` runs headless, top to bottom, and draws its figures.

Each runs against a demo lake generated here (simulator → msgpack stream → ``import_files``, the
real write path) and against the real AsyncTasQ 1.7.0 capture, its lake path injected after its
``parameters`` cell. ``XDG_CACHE_HOME`` points at a scratch directory, so a notebook that
ignored the injected path and built its own demo lake would be caught.
"""

from __future__ import annotations

import ast
import json
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tasqlake import notebook_support
from tasqlake.ingest.importer import import_files
from tasqlake.lake.storage import Lake
from tasqlake.schemas.errors import ConfigError
from tests.notebooks import run

NOTEBOOKS = run.notebook_paths()
REAL_STREAM = Path(__file__).resolve().parents[1] / "data" / "real" / "stream.msgpack"
#: Committed notebooks must read well on a code host without weighing it down.
MAX_NOTEBOOK_BYTES = 600_000
MAX_TOTAL_BYTES = 1_500_000


@pytest.fixture(scope="module")
def scratch_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(autouse=True)
def isolated_cache(scratch_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(scratch_cache))
    return scratch_cache


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return notebook_support.build_demo_lake(tmp_path_factory.mktemp("notebooks") / "demo-lake")


@pytest.fixture(scope="module")
def real_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("notebooks") / "real-lake")
    summary = import_files([REAL_STREAM], lake)
    assert summary.stored == 234
    return lake


def test_the_operator_notebooks_are_there() -> None:
    names = {p.stem for p in NOTEBOOKS}
    assert {"queue_health", "retries_and_failures", "workers"} <= names


def _imported_modules(path: Path) -> set[str]:
    """The top-level modules a notebook's code cells import."""
    modules = set()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module.split(".")[0])
    return modules


def test_the_notebooks_extra_brings_every_module_a_notebook_imports() -> None:
    """``pip install 'tasqlake[notebooks]'`` is enough: each import is tasqlake's own, the
    standard library's, a core dependency's or the ``notebooks`` extra's."""
    requirements = [Requirement(r) for r in metadata.requires("tasqlake") or []]
    wanted = {
        canonicalize_name(r.name)
        for r in requirements
        if r.marker is None or r.marker.evaluate({"extra": "notebooks"})
    }
    assert {"matplotlib", "ipykernel", "ipywidgets", "jupyterlab"} <= wanted
    providers = metadata.packages_distributions()
    top_level = metadata.distribution("tasqlake").read_text("top_level.txt") or ""
    own = {"tasqlake", *top_level.split()}
    for path in NOTEBOOKS:
        for module in _imported_modules(path) - own - set(sys.stdlib_module_names):
            dists = {canonicalize_name(d) for d in providers.get(module, [])}
            assert dists & wanted, f"{path.name} imports {module}, which no requirement brings"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_a_fresh_demo_lake(
    path: Path, demo_lake: Lake, isolated_cache: Path
) -> None:
    executed = run.execute(path, {"LAKE_PATH": str(demo_lake.root)})
    assert run.errors(executed) == []
    assert run.png_outputs(executed) >= 1
    assert not (isolated_cache / "tasqlake").exists(), "the notebook built its own demo lake"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_the_real_capture(path: Path, real_lake: Lake) -> None:
    executed = run.execute(path, {"LAKE_PATH": str(real_lake.root)})
    assert run.errors(executed) == []
    assert run.png_outputs(executed) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_opens_with_parameters_and_carries_its_figures(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert run.PARAMETERS_TAG in code[0].metadata.get("tags", [])
    assert "LAKE_PATH = None" in code[0].source
    assert not any(run.INJECTED_TAG in c.metadata.get("tags", []) for c in code)
    assert notebook.cells[0].cell_type == "markdown"
    assert all(c.get("execution_count") for c in code if c.source.strip())
    assert run.errors(notebook) == []
    assert run.png_outputs(notebook) >= 1
    text = json.dumps([c.get("outputs", []) for c in code])
    assert "/tmp/" not in text and str(Path.home()) not in text, "a local path leaked into outputs"


def test_committed_notebooks_stay_small() -> None:
    sizes = {p.name: p.stat().st_size for p in NOTEBOOKS}
    assert all(size < MAX_NOTEBOOK_BYTES for size in sizes.values()), sizes
    assert sum(sizes.values()) < MAX_TOTAL_BYTES, sizes


def test_inject_parameters_puts_the_values_after_the_parameters_cell() -> None:
    notebook = nbformat.read(NOTEBOOKS[0], as_version=4)
    first_code = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")
    run.inject_parameters(notebook, {"LAKE_PATH": "/data/lake", "BUCKET_S": 5})
    injected = notebook.cells[first_code + 1]
    assert injected.source == "LAKE_PATH = '/data/lake'\nBUCKET_S = 5"
    assert injected.metadata["tags"] == [run.INJECTED_TAG]


def test_demo_lake_is_built_once_then_reused(tmp_path: Path) -> None:
    spec = notebook_support.DEMO_SPEC.replace(duration=20.0)
    lake = notebook_support.build_demo_lake(tmp_path / "lake", spec)
    files = lake.list_files("events")
    assert files
    stamps = {f: lake.path(f).stat().st_mtime_ns for f in files}
    again = notebook_support.build_demo_lake(tmp_path / "lake", spec)
    assert {f: again.path(f).stat().st_mtime_ns for f in again.list_files("events")} == stamps
    window = notebook_support.log_window(lake)
    assert window is not None
    assert notebook_support.resolve_as_of(lake, None) == window[1]
    assert notebook_support.resolve_as_of(lake, "2026-11-02T08:00:05") == datetime(
        2026, 11, 2, 8, 0, 5, tzinfo=UTC
    )


def test_a_changed_spec_rebuilds_the_demo_lake(tmp_path: Path) -> None:
    small = notebook_support.DEMO_SPEC.replace(duration=10.0)
    larger = small.replace(duration=20.0)
    first = notebook_support.log_window(notebook_support.build_demo_lake(tmp_path, small))
    second = notebook_support.log_window(notebook_support.build_demo_lake(tmp_path, larger))
    assert first is not None and second is not None
    assert second[1] > first[1]


def test_demo_lake_never_overwrites_foreign_data(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a tasqlake demo lake"):
        notebook_support.build_demo_lake(tmp_path, notebook_support.DEMO_SPEC.replace(duration=5.0))
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "events").exists()

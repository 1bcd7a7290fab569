"""Executing the notebooks of ``notebooks/`` headless, with injected parameters.

The kernel is always this interpreter (the project's .venv): a private kernelspec pointing at
``sys.executable`` is written to a scratch directory put first on ``JUPYTER_PATH``, so no user or
system kernelspec can substitute another Python.

Refresh the committed outputs (from the repository root; builds the demo lake if missing)::

    .venv/bin/python -m tests.notebooks.run            # every notebook
    .venv/bin/python -m tests.notebooks.run workers    # one
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL_NAME = "tasqlake-notebook-tests"
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


@contextlib.contextmanager
def private_kernel() -> Iterator[str]:
    """A kernelspec running ``sys.executable -m ipykernel_launcher``, first on JUPYTER_PATH."""
    with tempfile.TemporaryDirectory(prefix="tasqlake-kernels-") as scratch:
        spec_dir = Path(scratch, "kernels", KERNEL_NAME)
        spec_dir.mkdir(parents=True)
        spec = {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "tasqlake (.venv)",
            "language": "python",
            # Figures as PNG through matplotlib-inline, whatever MPLBACKEND says outside.
            "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline"},
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec))
        previous = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [scratch, previous]))
        try:
            yield KERNEL_NAME
        finally:
            if previous is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = previous


def inject_parameters(
    notebook: nbformat.NotebookNode, parameters: Mapping[str, Any]
) -> nbformat.NotebookNode:
    """Insert a cell assigning ``parameters`` right after the cell tagged ``parameters``."""
    tagged = [
        i
        for i, cell in enumerate(notebook.cells)
        if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])
    ]
    if not tagged:
        raise ValueError("the notebook has no cell tagged 'parameters'")
    index = tagged[0]
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    notebook.cells.insert(index + 1, injected)
    return notebook


def execute(
    path: Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    timeout: int = 120,
    record_timing: bool = True,
) -> nbformat.NotebookNode:
    """Run ``path`` top to bottom in its own directory; raises on the first failing cell."""
    notebook = nbformat.read(path, as_version=4)
    if parameters:
        inject_parameters(notebook, parameters)
    with private_kernel() as kernel_name:
        client = NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name=kernel_name,
            record_timing=record_timing,
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    return notebook


def png_outputs(notebook: nbformat.NotebookNode) -> int:
    """How many figures (``image/png`` outputs) the executed notebook holds."""
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def errors(notebook: nbformat.NotebookNode) -> list[str]:
    """``ename: evalue`` of every error output (a clean run has none)."""
    return [
        f"{output.get('ename')}: {output.get('evalue')}"
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


def refresh(path: Path) -> None:
    """Re-execute ``path`` with its own parameters and save it with its outputs, reproducibly."""
    notebook = execute(path, record_timing=False)
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    notebook.metadata.pop("widgets", None)
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{path.stem}-{index:02d}"
        if cell.cell_type == "code":
            cell.metadata.pop("execution", None)
    nbformat.validate(notebook)
    nbformat.write(notebook, path)


def main(names: list[str]) -> int:
    paths = [NOTEBOOKS_DIR / f"{n}.ipynb" for n in names] if names else notebook_paths()
    for path in paths:
        started = time.perf_counter()
        refresh(path)
        print(
            f"{path.name}: {time.perf_counter() - started:.1f} s, "
            f"{png_outputs(nbformat.read(path, as_version=4))} figures, "
            f"{path.stat().st_size / 1024:.0f} KiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""``queries.connect`` where DuckDB refuses the progress bar setting (a Jupyter kernel without
ipywidgets, duckdb#7590), in a real kernel."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import nbformat
import pytest
from nbclient import NotebookClient

from tasqlake import queries
from tasqlake.lake.storage import Lake
from tasqlake.queries.connection import disable_progress_bar
from tests.notebooks.run import private_kernel
from tests.queries.helpers import write_events
from tests.queries.history import task_event
from tests.queries.test_semantics import at

REPOSITORY = Path(__file__).resolve().parents[2]

CELLS = [
    # ipywidgets is a dev dependency of this project: hide it, as in a user's bare kernel
    "import sys\nsys.modules['ipywidgets'] = None",
    "import duckdb\n"
    "try:\n"
    "    duckdb.connect().execute('SET enable_progress_bar = false')\n"
    "    refused = ''\n"
    "except duckdb.InvalidInputException as error:\n"
    "    refused = str(error)",
    "import json, queries\n"
    "with queries.connect(LAKE) as con:\n"
    "    events = con.execute('SELECT count(*) FROM events').fetchone()[0]\n"
    "    bar = con.execute(\"SELECT current_setting('enable_progress_bar')\").fetchone()[0]\n"
    "print(json.dumps({'refused': refused, 'events': events, 'bar': bar}))",
]


def test_connect_works_in_a_jupyter_kernel_without_ipywidgets(lake: Lake) -> None:
    write_events(lake, [task_event("task_enqueued", "t1", at(0))])
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(f"LAKE = {str(lake.root)!r}")]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in CELLS]
    with private_kernel() as kernel_name:
        NotebookClient(
            notebook,
            timeout=60,
            kernel_name=kernel_name,
            resources={"metadata": {"path": str(REPOSITORY)}},
        ).execute()
    (output,) = notebook.cells[-1].outputs
    result = json.loads(output["text"])
    # the refusal really happens in this kernel (else this test proves nothing) ...
    assert "ipywidgets" in result["refused"]
    # ... and connect survives it: views work, the bar is off (DuckDB's own Jupyter default)
    assert result["events"] == 1
    assert result["bar"] is False


def test_other_errors_of_the_setting_are_not_swallowed() -> None:
    con = duckdb.connect()
    disable_progress_bar(con)
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    con.close()
    with pytest.raises(duckdb.Error):
        disable_progress_bar(con)


def test_connect_still_turns_the_progress_bar_off(lake: Lake) -> None:
    with queries.connect(lake) as con:
        setting = con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
    assert setting == (False,)

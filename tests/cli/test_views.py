"""``tasqlake views``: the contract by default, the helpers with --all, the README's table."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tasqlake.queries.catalogue import REGENERATE, markdown_table, readme_table
from tasqlake.queries.loader import load
from tests.cli.conftest import RunCli

ROOT = Path(__file__).resolve().parents[2]


def rows(stdout: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stdout)))


def test_views_lists_the_contract_and_all_lists_the_helpers_too(run_cli: RunCli) -> None:
    contract = run_cli(["views", "--format", "csv"])
    assert contract.returncode == 0, contract.stderr
    listed = {r["name"] for r in rows(contract.stdout)}
    assert listed == {o.name for o in load() if o.contract}
    assert {"queue_stats", "tasks", "queue_depth_series", "as_of"} <= listed
    assert not listed & {"task_state", "stored_events", "causal_key", "is_terminal"}

    everything = run_cli(["views", "--all", "--format", "csv"])
    assert everything.returncode == 0, everything.stderr
    by_name = {r["name"]: r for r in rows(everything.stdout)}
    assert by_name.keys() == {o.name for o in load()}
    assert by_name["queue_stats"]["namespace"] == "views"
    assert by_name["task_state"]["namespace"] == "helpers"
    assert by_name["merge_task_partials"]["namespace"] == "algebra"

    helper = run_cli(["views", "task_state", "--format", "csv"])
    assert helper.returncode == 0, helper.stderr
    assert helper.stdout.startswith("task_state (view, queries/helpers/task_state.sql:")


def test_markdown_prints_the_table_and_rewrites_a_readme(run_cli: RunCli, tmp_path: Path) -> None:
    printed = run_cli(["views", "--markdown"])
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == markdown_table()
    readme = tmp_path / "README.md"
    readme.write_text(
        "# x\n\n**The catalogue** (contract):\n\n| name |\n|---|\n| `old` |\n\nAfter.\n"
    )
    rewritten = run_cli(["views", "--markdown", "--readme", str(readme)])
    assert rewritten.returncode == 0, rewritten.stderr
    text = readme.read_text()
    assert readme_table(text) == markdown_table() and text.endswith("\n\nAfter.\n")
    assert "`old`" not in text
    again = run_cli(["views", "--markdown", "--readme", str(readme)])
    assert "already current" in again.stdout and readme.read_text() == text


def test_the_readme_catalogue_table_is_generated_from_the_loader() -> None:
    table = readme_table((ROOT / "README.md").read_text(encoding="utf-8"))
    assert table, "README.md has no table after its '**The catalogue**' paragraph"
    assert table == markdown_table(), (
        f"README.md's catalogue table is stale: regenerate it with `{REGENERATE}`"
    )

"""A benchmark figure, its side-by-side baseline and target, and the table that prints them."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One measured number, optionally next to a baseline measured in the same run."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    #: ``ratio`` is compared with ``limit`` when given, else ``value`` is.
    limit: float | None = None
    compare_ratio: bool = False
    higher_is_better: bool = False
    anchor: str = ""  # the figure for this machine class
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def ok(self) -> bool | None:
        if self.limit is None:
            return None
        measured = self.ratio if self.compare_ratio else self.value
        if measured is None:
            return False
        return measured >= self.limit if self.higher_is_better else measured <= self.limit

    @property
    def target(self) -> str:
        if self.limit is None:
            return "-"
        sign = ">=" if self.higher_is_better else "<="
        what = "ratio" if self.compare_ratio else self.unit
        return f"{what} {sign} {self.limit:g}"


def median_seconds(run: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    """Median wall time of ``run`` over ``repeat`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.3f} s"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}".strip()
    return f"{value:.2f} {unit}".strip()


def render(figures: Iterable[Figure]) -> str:
    """A plain-text table (Markdown-compatible) of the figures."""
    head = ("figure", "tasqlake", "baseline (same run)", "ratio", "target", "ok", "issue anchor")
    rows = [head]
    for f in figures:
        base = f"{_num(f.baseline, f.unit)} {f.baseline_name}".strip() if f.baseline else "-"
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        ok = {True: "yes", False: "NO", None: "-"}[f.ok]
        name = f"{f.name} ({f.note})" if f.note else f.name
        rows.append((name, _num(f.value, f.unit), base, ratio, f.target, ok, f.anchor or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)

"""The results table on the terminal, as JSON records, and as a bar chart (matplotlib)."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa

from ._collection import EvalError

FIXED = ("retriever", "reranker", "config", "latency_p50_ms", "latency_p95_ms", "queries")


def metric_names(table: pa.Table) -> list[str]:
    return [c for c in table.column_names if c not in FIXED]


def render(table: pa.Table) -> str:
    """A side-by-side text table: one row per pipeline, metrics to 3 decimals, latency in ms."""
    metrics = metric_names(table)
    headers = ["retriever", "reranker", *metrics, "p50 ms", "p95 ms", "queries"]
    rows = [
        [
            r["retriever"],
            r["reranker"],
            *(f"{r[m]:.3f}" for m in metrics),
            f"{r['latency_p50_ms']:.2f}",
            f"{r['latency_p95_ms']:.2f}",
            str(r["queries"]),
        ]
        for r in table.to_pylist()
    ]
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def records(table: pa.Table) -> list[dict[str, Any]]:
    """One JSON-ready record per pipeline; ``config`` is an object (null for ``none``)."""
    out = []
    for row in table.to_pylist():
        row["config"] = None if row["config"] is None else json.loads(row["config"])
        out.append(row)
    return out


def write_json(table: pa.Table, path: str | os.PathLike[str]) -> None:
    Path(path).write_text(json.dumps(records(table), indent=2) + "\n", encoding="utf-8")


def plot(table: pa.Table, path: str | os.PathLike[str], title: str = "") -> None:
    """A grouped bar chart: one group per pipeline, one bar per metric."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise EvalError(f"--plot needs matplotlib ({exc}); pip install 'rerankit[eval]'") from None
    metrics = metric_names(table)
    rows = table.to_pylist()
    wrap = textwrap.TextWrapper(22, break_long_words=False, break_on_hyphens=False)
    labels = [r["retriever"] + "\n" + "\n".join(wrap.wrap(r["reranker"])) for r in rows]
    width = 0.8 / max(len(metrics), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(rows) + 2), 4.5))
    try:
        for i, m in enumerate(metrics):
            xs = [j + (i - (len(metrics) - 1) / 2) * width for j in range(len(rows))]
            bars = ax.bar(xs, [r[m] for r in rows], width, label=m)
            ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
        ax.set_xticks(range(len(rows)), labels, fontsize=8)
        ax.set_ylim(0, max([1.05, *(1.1 * r[m] for r in rows for m in metrics)]))
        ax.set_ylabel("mean over queries")
        if title:
            ax.set_title(title)
        ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)

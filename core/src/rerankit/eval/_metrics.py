"""Ranking metrics by ir-measures (trec_eval's definitions), over rankings taken as given.

A ranking is a list of document ids, best first. It is handed to ir-measures as a run whose
scores fall strictly with the rank, so trec_eval's tie-breaking (by document id) can never reorder
it. Every evaluated query counts: one with an empty ranking scores 0 (trec_eval's ``-c``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._collection import EvalError

DEFAULT_METRICS = ("nDCG@10", "RR@10", "R@100")


def parse_metrics(spec: str | Sequence[str]) -> list[Any]:
    """ir-measures measures from ``"nDCG@10,RR@10"`` or a list of such names."""
    ir_measures = _ir_measures()
    names = [n.strip() for n in (spec.split(",") if isinstance(spec, str) else spec) if n.strip()]
    if not names:
        raise EvalError("--metrics names no metric; e.g. --metrics nDCG@10,RR@10,R@100")
    measures = []
    for name in names:
        try:
            measures.append(ir_measures.parse_measure(name))
        except (ValueError, NameError, SyntaxError, TypeError, AttributeError):
            raise EvalError(
                f"unknown metric '{name}'; spell it as ir-measures does, e.g. nDCG@10, RR@10, R@100, P@5, AP"
            ) from None
    return measures


def measure(
    rankings: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    metrics: str | Sequence[str] = DEFAULT_METRICS,
) -> dict[str, float]:
    """Mean of each metric over the queries of ``rankings`` (named as ir-measures names them)."""
    per_query = measure_per_query(rankings, qrels, metrics)
    count = max(len(rankings), 1)
    return {name: sum(values.values()) / count for name, values in per_query.items()}


def measure_per_query(
    rankings: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    metrics: str | Sequence[str] = DEFAULT_METRICS,
) -> dict[str, dict[str, float]]:
    """``{metric: {query id: value}}`` for every query of ``rankings`` (0 where nothing was found)."""
    ir_measures = _ir_measures()
    measures = parse_metrics(metrics)
    missing = [q for q in rankings if q not in qrels]
    if missing:
        raise EvalError(f"query '{missing[0]}' has no judgments; evaluate only judged queries")
    judged = [ir_measures.Qrel(q, doc, int(grade)) for q in rankings for doc, grade in qrels[q].items()]
    run = [
        ir_measures.ScoredDoc(q, doc, float(len(ranking) - i))
        for q, ranking in rankings.items()
        for i, doc in enumerate(ranking)
    ]
    out: dict[str, dict[str, float]] = {str(m): dict.fromkeys(rankings, 0.0) for m in measures}
    for metric in ir_measures.iter_calc(measures, judged, run):
        out[str(metric.measure)][metric.query_id] = float(metric.value)
    return out


def _ir_measures() -> Any:
    try:
        import ir_measures
    except ImportError as exc:
        raise EvalError(f"metrics need ir-measures ({exc}); pip install 'rerankit[eval]'") from None
    return ir_measures

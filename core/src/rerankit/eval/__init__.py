"""Measure rerankers on judged queries, and tune fusion: ``rerankit eval`` and ``rerankit tune``.

:func:`evaluate` runs first-stage retrievers (LanceDB full-text ``bm25``, ``vector``, ``hybrid``)
over a BEIR-layout collection indexed once in an embedded, cached LanceDB, reranks the same
candidates with each reranker, and returns one row per pipeline with ir-measures metrics and rerank
latency. :func:`tune` picks fusion settings by cross-validated nDCG@10 and writes them as a config
file; :func:`calibrate` fits a scoring reranker's ``calibration`` (scores to probabilities of
relevance), cross-validated over queries. Needs the ``eval`` extra (``pip install
'rerankit[eval]'``); ``import rerankit`` imports none of this, and importing this package imports
neither lancedb nor torch.
"""

from __future__ import annotations

from ._calibrate import CalibrationResult, calibrate
from ._collection import BUNDLED, Collection, EvalError, load_collection
from ._fit import brier_score, expected_calibration_error, fit_calibration
from ._index import default_cache_dir
from ._long import make_long_documents
from ._metrics import DEFAULT_METRICS, measure, measure_per_query
from ._runner import evaluate
from ._search import RETRIEVERS
from ._tune import Runs, TuneResult, tune, tune_runs

__all__ = [
    "BUNDLED",
    "DEFAULT_METRICS",
    "RETRIEVERS",
    "CalibrationResult",
    "Collection",
    "EvalError",
    "Runs",
    "TuneResult",
    "brier_score",
    "calibrate",
    "default_cache_dir",
    "evaluate",
    "expected_calibration_error",
    "fit_calibration",
    "load_collection",
    "make_long_documents",
    "measure",
    "measure_per_query",
    "tune",
    "tune_runs",
]

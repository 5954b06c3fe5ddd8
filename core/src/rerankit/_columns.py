"""The column names of LanceDB's result sets that rerankit reads and writes.

``_rowid`` identifies a row across result sets; ``_distance`` (vector search, lower is better) and
``_score`` (full-text search, higher is better) are the searches' own scores; ``_relevance_score``
is what every reranker adds; batch reranking (``rerankit.batch``) also adds ``_rank``, 1 for the
best row of each query.
"""

from __future__ import annotations

ROWID = "_rowid"
DISTANCE = "_distance"
SCORE = "_score"
RELEVANCE = "_relevance_score"
RANK = "_rank"
SCORE_COLUMNS = (DISTANCE, SCORE)
#: A calibrated reranker's score before its calibration (``calibration`` option).
RAW_SCORE = "_raw_score"

ROWID_FIX = (
    "'_rowid' is required to merge result sets by row: add it with .with_row_id(True) on the "
    "LanceDB search, or pass your own unique id as _rowid"
)

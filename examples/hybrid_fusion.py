"""A small hybrid search fused with reciprocal rank fusion: the main job until the demo lands."""

import pyarrow as pa

import rerankit

vector_results = pa.table(
    {
        "_rowid": pa.array([10, 11, 12, 13], pa.uint64()),
        "text": [
            "Reciprocal rank fusion merges ranked lists",
            "Vector search finds semantically close passages",
            "BM25 scores exact term matches",
            "Cross-encoders read query and passage together",
        ],
        "_distance": pa.array([0.21, 0.34, 0.52, 0.60], pa.float32()),
    }
)
fts_results = pa.table(
    {
        "_rowid": pa.array([12, 10, 14], pa.uint64()),
        "text": [
            "BM25 scores exact term matches",
            "Reciprocal rank fusion merges ranked lists",
            "Full-text indexes tokenize documents",
        ],
        "_score": pa.array([7.5, 6.1, 3.2], pa.float32()),
    }
)

for name in ("rrf", "linear", "mrr"):
    reranker = rerankit.get_reranker(name, return_score="all")
    print(f"\n== {reranker!r}")
    print(reranker.rerank_hybrid("how do I fuse rankings?", vector_results, fts_results).to_pandas())

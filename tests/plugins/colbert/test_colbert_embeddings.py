"""Scoring from token embeddings stored in the rows (``embeddings_column``), LanceDB's multivector
columns included: the same scores as encoding the text, at MaxSim cost, and clear errors."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import rerankit
from tests.plugins.colbert.colbert_models import DIM, QUERY, TEXTS
from tests.plugins.colbert.reference import NaiveColbert

MULTIVECTOR = pa.list_(pa.list_(pa.float32(), DIM))  # what LanceDB stores for a multivector column


@pytest.fixture(scope="module")
def stored(stanford):
    """The documents' token vectors as the plugin makes them (what a table would store)."""
    return rerankit.get_reranker("colbert", model_name=str(stanford)).scorer.embed_documents(TEXTS)


def table(vectors, ids=None, dtype=MULTIVECTOR, text=True) -> pa.Table:
    ids = list(range(len(TEXTS))) if ids is None else ids
    columns = {"_rowid": pa.array(ids, pa.uint64())}
    if text:
        columns["text"] = [TEXTS[i] for i in ids]
    columns["vectors"] = pa.array([None if vectors[i] is None else np.asarray(vectors[i]).tolist() for i in ids], dtype)
    return pa.table(columns)


def by_rowid(out: pa.Table) -> dict[int, float]:
    return dict(zip(out["_rowid"].to_pylist(), out["_relevance_score"].to_pylist(), strict=True))


def test_embed_documents_and_queries_are_the_vectors_the_reference_scores(stanford, stored):
    naive = NaiveColbert(stanford)
    for text, vectors in zip(TEXTS, stored, strict=True):
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(vectors, naive.document(text), atol=1e-5)  # punctuation left out
    scorer = rerankit.get_reranker("colbert", model_name=str(stanford)).scorer
    (query,) = scorer.embed_queries([QUERY])
    assert query.shape == (12, DIM)  # query_maxlen positions, [MASK] expansion included
    np.testing.assert_allclose(query, naive.query(QUERY), atol=1e-5)


def test_stored_vectors_score_like_encoding_the_text(stanford, stored):
    encode = rerankit.get_reranker("colbert", model_name=str(stanford))
    stored_reranker = rerankit.get_reranker("colbert", model_name=str(stanford), embeddings_column="vectors")
    results = table(stored)
    want = by_rowid(encode.rerank_vector(QUERY, results))
    got = stored_reranker.rerank_vector(QUERY, results)
    assert got.column_names == ["_rowid", "text", "vectors", "_relevance_score"]
    assert got["_rowid"].to_pylist() == sorted(want, key=lambda i: -want[i])
    for rowid, score in by_rowid(got).items():
        assert score == pytest.approx(want[rowid], abs=1e-5)
    naive = NaiveColbert(stanford).scores(QUERY, TEXTS)
    np.testing.assert_allclose([by_rowid(got)[i] for i in range(len(TEXTS))], naive, atol=1e-5)


def test_every_entry_point_reads_the_stored_vectors(stanford, stored):
    reranker = rerankit.get_reranker("colbert", model_name=str(stanford), embeddings_column="vectors", batch_size=3)
    naive = NaiveColbert(stanford)

    def check(out):
        for rowid, score in by_rowid(out).items():
            assert score == pytest.approx(naive.score(QUERY, TEXTS[rowid]), abs=1e-5)

    check(reranker.rerank_fts(QUERY, table(stored, [5, 6, 7])))
    check(reranker.rerank_hybrid(QUERY, table(stored, [0, 1, 2, 3]), table(stored, [2, 3, 4, 8])))
    check(reranker.rerank_multivector([table(stored, [0, 1]), table(stored, [1, 9])], QUERY, deduplicate=True))
    batch = reranker.rerank_batch([QUERY, QUERY], [table(stored, [0, 1, 2]), table(stored, [3, 10, 11])])
    for out in batch:
        check(out)


def test_the_text_is_not_needed_nor_read(stanford, stored):
    reranker = rerankit.get_reranker("colbert", model_name=str(stanford), embeddings_column="vectors")
    out = reranker.rerank_vector(QUERY, table(stored, text=False))
    assert out.num_rows == len(TEXTS)
    # vectors stored for other documents: the scores follow the vectors, not the text
    swapped = table([stored[(i + 1) % len(TEXTS)] for i in range(len(TEXTS))])
    scores = by_rowid(reranker.rerank_vector(QUERY, swapped))
    naive = NaiveColbert(stanford)
    for rowid, score in scores.items():
        assert score == pytest.approx(naive.score(QUERY, TEXTS[(rowid + 1) % len(TEXTS)]), abs=1e-5)


def test_variable_length_lists_and_half_precision_are_accepted(stanford, stored):
    reranker = rerankit.get_reranker("colbert", model_name=str(stanford), embeddings_column="vectors")
    want = by_rowid(reranker.rerank_vector(QUERY, table(stored)))
    variants = [(pa.list_(pa.list_(pa.float64())), 1e-5), (pa.large_list(pa.list_(pa.float16(), DIM)), 0.02)]
    for dtype, tolerance in variants:
        got = by_rowid(reranker.rerank_vector(QUERY, table(stored, dtype=dtype)))
        for rowid, score in got.items():
            assert score == pytest.approx(want[rowid], abs=tolerance)


def test_sliced_and_chunked_columns(stanford, stored):
    reranker = rerankit.get_reranker("colbert", model_name=str(stanford), embeddings_column="vectors")
    whole = table(stored)
    want = by_rowid(reranker.rerank_vector(QUERY, whole))
    chunked = pa.concat_tables([whole.slice(0, 5), whole.slice(5, 4), whole.slice(9)])
    assert chunked["vectors"].num_chunks == 3
    for part in (chunked, whole.slice(3, 6)):
        for rowid, score in by_rowid(reranker.rerank_vector(QUERY, part)).items():
            assert score == pytest.approx(want[rowid], abs=1e-5)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda s: table(s).drop_columns(["vectors"]), rerankit.MissingColumnError, "results have no column 'vectors'"),
        (lambda s: table([None, *s[1:]]), rerankit.InputError, "column 'vectors' has 1 null row(s) (rows [0])"),
        (lambda s: table([s[0], np.zeros((0, DIM)), *s[2:]], dtype=pa.list_(pa.list_(pa.float32()))),
         rerankit.InputError, "column 'vectors' has rows with no token vectors (rows [1])"),
        (lambda s: table([v[:, :4] for v in s], dtype=pa.list_(pa.list_(pa.float32(), 4))),
         rerankit.InputError, "column 'vectors' holds 4-dimensional token vectors but the model makes 8-dimensional"),
        (lambda s: table([v[:, : 4 + (i % 2)] for i, v in enumerate(s)], dtype=pa.list_(pa.list_(pa.float32()))),
         rerankit.InputError, "column 'vectors' holds token vectors of different lengths (4, 5)"),
        (lambda s: table([np.full_like(v, np.nan) for v in s]), rerankit.InputError, "NaN or infinite"),
        (lambda s: table(s).set_column(2, "vectors", pa.array(["x"] * len(TEXTS))), rerankit.InputError,
         "column 'vectors' has type string; embeddings_column needs one list of token vectors per row"),
    ],
    ids=["missing", "null-row", "empty-row", "dimension", "ragged", "nan", "type"],
)
def test_bad_stored_vectors_are_clear_errors(stanford, stored, make, error, message):
    reranker = rerankit.get_reranker("colbert", model_name=str(stanford), embeddings_column="vectors")
    with pytest.raises(error) as info:
        reranker.rerank_vector(QUERY, make(stored))
    assert message in str(info.value)
    if error is rerankit.MissingColumnError:
        assert info.value.column == "vectors" and "unset embeddings_column" in str(info.value)


def test_lancedb_multivector_table_reranks_from_its_vectors(stanford, stored, tmp_path):
    """A real LanceDB table with a multivector column: vector, full-text and hybrid searches."""
    import lancedb
    from lancedb.index import FTS

    from rerankit.lancedb import to_lancedb

    rows = table(stored).drop_columns(["_rowid"]).append_column("id", pa.array(range(len(TEXTS))))
    tbl = lancedb.connect(str(tmp_path / "db")).create_table("docs", rows)
    tbl.create_index("text", config=FTS())
    encode = rerankit.get_reranker("colbert", model_name=str(stanford))
    reranker = to_lancedb("colbert", model_name=str(stanford), embeddings_column="vectors")
    (query_vectors,) = encode.scorer.embed_queries([QUERY])
    naive = NaiveColbert(stanford)
    searches = [
        tbl.search(query_vectors, vector_column_name="vectors").limit(6).rerank(reranker=reranker, query_string=QUERY),
        tbl.search(QUERY, query_type="fts").limit(6).rerank(reranker=reranker),
        tbl.search(query_type="hybrid", vector_column_name="vectors").vector(query_vectors).text(QUERY).limit(6)
        .rerank(reranker=reranker),
    ]
    for search in searches:
        out = search.to_arrow()
        assert out.num_rows > 0
        for doc, score in zip(out["id"].to_pylist(), out["_relevance_score"].to_pylist(), strict=True):
            assert score == pytest.approx(naive.score(QUERY, TEXTS[doc]), abs=1e-5)

"""The options of colbert and answerdotai: defaults, LanceDB's names, refusals before any load."""

from __future__ import annotations

import pytest
import rerankit_colbert

import rerankit


def test_defaults():
    colbert = rerankit.get_reranker("colbert").config
    assert isinstance(colbert, rerankit_colbert.ColbertConfig)
    assert colbert.model_name == "colbert-ir/colbertv2.0"  # LanceDB's ColbertReranker default
    assert colbert.device is None and colbert.batch_size == 32 and colbert.dtype == "float32"
    assert colbert.query_max_length is None and colbert.doc_max_length is None  # the checkpoint's own
    assert colbert.trust_remote_code is False and colbert.cache_dir is None and colbert.local_files_only is False
    assert colbert.embeddings_column is None
    assert colbert.column == "text" and colbert.return_score == "relevance" and colbert.top_n is None

    answer = rerankit.get_reranker("answerdotai").config
    assert isinstance(answer, rerankit_colbert.AnswerdotaiConfig)
    assert answer.model_name == "answerdotai/answerai-colbert-small-v1" and answer.model_type == "colbert"


def test_lancedb_argument_names_are_accepted():
    # ColbertReranker(model_name, column, return_score) and AnswerdotaiRerankers(model_type, ...)
    config = rerankit.get_reranker(
        "colbert", model_name="m", column="body", device="cpu", query_max_length=32, doc_max_length=180,
        return_score="all", batch_size=8, dtype="bfloat16",
    ).config
    assert (config.model_name, config.column, config.return_score, config.device) == ("m", "body", "all", "cpu")
    assert rerankit.get_reranker("answerdotai", model_type="ColBERT").config.model_type == "colbert"


@pytest.mark.parametrize(
    ("model_type", "message"),
    [
        ("cross-encoder", "model_type='cross-encoder' is served by rerankit's 'crossencoder' reranker"),
        ("flashrank", "served by rerankit's 'crossencoder' reranker"),
        ("jina", "served by rerankit's 'jina' reranker"),
        ("t5", "model_type='t5' is not supported; 'answerdotai' runs ColBERT models only"),
    ],
)
def test_other_model_types_name_the_reranker_that_serves_them(model_type, message):
    with pytest.raises(rerankit.ConfigError) as info:
        rerankit.get_reranker("answerdotai", model_type=model_type)
    assert message in str(info.value) and "invalid config for reranker 'answerdotai'" in str(info.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dtype": "float16", "device": "cpu"}, "dtype='float16' is not supported on device='cpu'"),
        ({"device": "gpu"}, "option 'device'"),
        ({"batch_size": 0}, "option 'batch_size'"),
        ({"query_max_length": 2}, "option 'query_max_length'"),
        ({"doc_max_length": 3}, "option 'doc_max_length'"),
        ({"embeddings_column": ""}, "option 'embeddings_column'"),
        ({"model_type": "colbert"}, "unknown option 'model_type'"),  # colbert has no model_type
        ({"modelname": "x"}, "unknown option 'modelname' (did you mean 'model_name'?)"),
    ],
)
def test_bad_options_are_config_errors(options, message):
    with pytest.raises(rerankit.ConfigError) as info:
        rerankit.get_reranker("colbert", **options)
    assert message in str(info.value)

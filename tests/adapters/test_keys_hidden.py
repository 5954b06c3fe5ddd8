"""Keys never shown through the LanceDB drop-ins and the three framework adapters.

Each builds its reranker with ``rerankit.get_reranker``, so the one place that turns pydantic's
errors into ``ConfigError`` covers them; these tests pin that for the classes a user calls:
a failing model-level check (``backoff_max`` below ``backoff_base``) and a built object's repr,
str, dump and pickle. The registry-wide fuzzing is ``tests/core/test_secrets.py``.
"""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable
from typing import Any

import pytest

import rerankit

KEY = "sk-adapter-KEY-51c7e2"
BAD = {"backoff_base": 5, "backoff_max": 1}


def _dropin(**options: Any) -> Any:
    from rerankit.lancedb import CohereReranker

    return CohereReranker(api_key=KEY, **options)


def _jina_dropin(**options: Any) -> Any:
    from rerankit.lancedb import JinaReranker

    return JinaReranker(api_key=KEY, **options)


def _langchain(**options: Any) -> Any:
    from rerankit.langchain import RerankitCompressor

    return RerankitCompressor("cohere", api_key=KEY, **options)


def _llamaindex(**options: Any) -> Any:
    from rerankit.llamaindex import RerankitPostprocessor

    return RerankitPostprocessor("cohere", api_key=KEY, **options)


def _haystack(**options: Any) -> Any:
    from rerankit.haystack import RerankitRanker

    return RerankitRanker({"reranker": "cohere", "api_key": KEY, **options})


BUILDERS: dict[str, Callable[..., Any]] = {
    "lancedb.CohereReranker": _dropin,
    "lancedb.JinaReranker": _jina_dropin,
    "langchain.RerankitCompressor": _langchain,
    "llamaindex.RerankitPostprocessor": _llamaindex,
    "haystack.RerankitRanker": _haystack,
}


@pytest.mark.parametrize("builder", BUILDERS.values(), ids=BUILDERS.keys())
def test_invalid_options_error_hides_the_key(builder: Callable[..., Any]) -> None:
    with pytest.raises(rerankit.ConfigError) as err:
        builder(**BAD)
    text = "".join(traceback.format_exception(type(err.value), err.value, err.value.__traceback__))
    assert "backoff_max" in str(err.value)
    assert KEY not in text and KEY not in repr(err.value.args)


@pytest.mark.parametrize("builder", BUILDERS.values(), ids=BUILDERS.keys())
def test_built_object_hides_the_key(builder: Callable[..., Any]) -> None:
    built = builder()
    shown = [repr(built), str(built), repr(getattr(built, "reranker", None))]
    if hasattr(built, "to_dict"):
        shown.append(repr(built.to_dict()))
    if hasattr(built, "model_dump"):
        shown.append(repr(built.model_dump()))
    reranker = getattr(built, "reranker", None)
    if reranker is not None:
        shown.append(pickle.dumps(reranker).decode("latin-1"))
    for text in shown:
        assert KEY not in text

"""The HTTP layer's pure parts: retry-after, error bodies, ranking checks, header scrubbing, config."""

from __future__ import annotations

import email.utils
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import rerankit
from rerankit.http import (
    HTTPConfig,
    check_ranking,
    error_message,
    pack,
    ranked,
    retry_after_seconds,
    retryable_status,
    safe_headers,
)


class Cfg(HTTPConfig):
    model_name: str = "m"
    base_url: str = "https://api.example.com"


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 599])
def test_retryable_statuses(status: int) -> None:
    assert retryable_status(status)


@pytest.mark.parametrize("status", [200, 400, 401, 402, 403, 404, 422, 498])
def test_final_statuses(status: int) -> None:
    assert not retryable_status(status)


def test_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds({"Retry-After-Ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25  # ms wins
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "0.5"}) == 0.5
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert retry_after_seconds({"retry-after": date}, now=now) == pytest.approx(7.0)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert retry_after_seconds({"retry-after": past}, now=now) == 0.0
    for junk in ({"retry-after": "soon"}, {"retry-after": "-4"}, {"retry-after-ms": "nan"}, {}):
        assert retry_after_seconds(junk) is None
    assert retry_after_seconds({"retry-after-ms": "x", "retry-after": "2"}) == 2.0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"id": "1", "message": "invalid api token"}', "invalid api token"),  # Cohere
        ('{"detail": "Provided API key is invalid."}', "Provided API key is invalid."),  # Voyage
        (
            '{"detail": [{"loc": ["body", "query"], "msg": "Field required", "type": "missing"}]}',
            "body.query: Field required",
        ),  # FastAPI / Jina / Infinity
        ('{"error": {"message": "Incorrect API key", "type": "invalid_request_error"}}',
         "Incorrect API key (invalid_request_error)"),  # OpenAI
        ('{"error": "batch size 40 > maximum allowed batch size 32", "error_type": "Validation"}',
         "batch size 40 > maximum allowed batch size 32 (Validation)"),  # text-embeddings-inference
        ("<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        ("", "(empty body)"),
    ],
)
def test_error_message_shapes(body: str, expected: str) -> None:
    assert error_message(body.encode()) == expected


def test_error_message_is_shortened() -> None:
    assert len(error_message(("x" * 5000).encode())) <= 500


def test_ranked_shapes() -> None:
    assert ranked({"results": [{"index": 1, "relevance_score": 0.5}]}) == [(1, 0.5)]
    assert ranked({"data": [{"index": 0, "relevance_score": 1}]}, "data") == [(0, 1)]
    assert ranked([{"index": 0, "score": 0.1}], None, score_key="score") == [(0, 0.1)]
    for bad in ({"result": []}, [], {"results": {}}, {"results": [{"index": 0}]}):
        with pytest.raises(rerankit.ProviderResponseError):
            ranked(bad)


def test_check_ranking() -> None:
    idx, scores = check_ranking([(2, 0.9), (0, 0.5), (1, 0.1)], 3)
    assert idx.tolist() == [2, 0, 1] and scores.tolist() == [0.9, 0.5, 0.1]
    assert check_ranking([(2, 0.9), (0, 0.5)], 3, expected=2)[0].tolist() == [2, 0]
    assert check_ranking([(1.0, 3)], 2, expected=1)[0].tolist() == [1]  # integral floats are fine
    bad = [
        ([(0, 0.9), (0, 0.5)], 2, None, "more than once"),
        ([(0, 0.9)], 2, None, "expected 2"),
        ([(0, 0.9), (5, 0.5)], 2, None, "out of range"),
        ([(0, 0.9), (-1, 0.5)], 2, None, "out of range"),
        ([(0, math.nan), (1, 0.5)], 2, None, "finite"),
        ([(0, math.inf), (1, 0.5)], 2, None, "finite"),
        ([(0, "0.9"), (1, 0.5)], 2, None, "not a number"),
        ([(0, True), (1, 0.5)], 2, None, "not a number"),
        ([("0", 0.9), (1, 0.5)], 2, None, "not an integer"),
        ([(0.5, 0.9), (1, 0.5)], 2, None, "not an integer"),
        ([(0, 0.9)], 5, 2, "expected 2"),
    ]
    for pairs, size, expected, message in bad:
        with pytest.raises(rerankit.ProviderResponseError, match=message):
            check_ranking(pairs, size, expected)


def test_safe_headers_hide_credentials() -> None:
    shown = safe_headers(
        {"Authorization": "Bearer sk-123", "X-Api-Key": "sk-456", "Accept": "application/json"}
    )
    assert shown == {"Authorization": "Bearer ***", "X-Api-Key": "***", "Accept": "application/json"}


def test_config_checks() -> None:
    cfg = Cfg(api_key="  ", base_url="https://api.example.com/")
    assert cfg.api_key is None and cfg.base_url == "https://api.example.com"
    with pytest.raises(ValidationError, match="base_url"):
        Cfg(base_url="api.example.com")
    with pytest.raises(ValidationError, match="backoff_max"):
        Cfg(backoff_base=2, backoff_max=1)
    with pytest.raises(ValidationError, match="path must start with '/'"):
        Cfg(path="rerank")
    for bad in ({"timeout": 0}, {"max_retries": -1}, {"batch_size": 0}, {"max_concurrency": 0}):
        with pytest.raises(ValidationError):
            Cfg(**bad)
    secret = Cfg(api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(secret) and "sk-very-secret" not in secret.model_dump_json()
    assert "sk-very-secret" not in str(secret.model_dump())


def test_pack_examples() -> None:
    assert pack([], 10, 3) == []
    assert pack([4, 4, 4, 4], 10, 3) == [2, 2]
    assert pack([1, 1, 1, 1, 1], 10, 2) == [2, 2, 1]
    assert pack([3, 20, 3, 3], 10, 5) == [1, 1, 2]  # an item over the budget goes alone
    with pytest.raises(ValueError, match="max_items"):
        pack([1], 10, 0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 50), max_size=60), st.integers(1, 120), st.integers(1, 12),
)
def test_pack_keeps_order_and_respects_both_limits(costs: list[int], budget: int, most: int) -> None:
    sizes = pack(costs, budget, most)
    assert sum(sizes) == len(costs) and all(1 <= n <= most for n in sizes)
    start = 0
    for n in sizes:
        part = costs[start : start + n]
        assert n == 1 or sum(part) <= budget  # only a lone item may exceed the budget
        if start + n < len(costs) and n < most:  # greedy: the next item did not fit
            assert sum(part) + costs[start + n] > budget
        start += n

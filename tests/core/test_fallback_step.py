"""The ``fallback`` option: a primary (fake Cohere) that fails for good or hangs hands the whole call
to the next reranker (fake Jina); bad input and rejected keys do not; the output says who answered."""

from __future__ import annotations

import asyncio

import pytest

import rerankit
from rerankit.testing import FakeRerankServer, Fault, fake_score

DOCS = ["apple pie recipe", "pie crust", "banana bread"]


@pytest.fixture(scope="module")
def servers():
    with FakeRerankServer("cohere", api_key="k") as primary, FakeRerankServer("jina", api_key="j") as second:
        yield primary, second


@pytest.fixture(autouse=True)
def _fresh(servers):
    for server in servers:
        server.reset()


def with_fallback(servers, **options):
    primary, second = servers
    jina = {"reranker": "jina", "api_key": "j", "base_url": second.url, "max_retries": 0}
    options = {"max_retries": 1, "backoff_base": 0, "backoff_max": 0, "fallback": [jina], **options}
    return rerankit.get_reranker("cohere", api_key="k", base_url=primary.url, **options)


def test_the_primary_answers_when_it_can(servers):
    out = with_fallback(servers).rerank("apple pie", DOCS)
    assert out["_reranker"].to_pylist() == ["cohere"] * 3
    assert servers[1].attempts == 0


def test_503_for_good_hands_the_whole_list_to_the_fallback(servers):
    primary, second = servers
    r = with_fallback(servers, cache={})
    r.rerank("apple pie", DOCS[:1])  # one text already in the primary's cache
    primary.script(*[Fault.error(503)] * 2)  # the first attempt and its one retry
    out = r.rerank("apple pie", DOCS)
    assert primary.attempts == 3 and second.attempts == 1
    assert second.seen[0].body["documents"] == DOCS  # every text, the cached one too: no mixing
    assert out["_reranker"].to_pylist() == ["jina"] * 3
    assert out["_relevance_score"].to_pylist() == pytest.approx(
        sorted((fake_score("apple pie", d) for d in DOCS), reverse=True)
    )
    assert r.usage.fallbacks == 1 and r.usage.answered_by == {"cohere": 1, "jina": 1}


def test_a_hang_past_the_timeout_hands_over(servers):
    primary, second = servers
    r = with_fallback(servers, timeout=0.2, max_retries=0)
    primary.script(Fault.slow(1.0))

    async def go():
        return await r.arerank("apple pie", DOCS)

    out = asyncio.run(go())
    assert out["_reranker"].to_pylist() == ["jina"] * 3 and second.attempts == 1


def test_a_batch_goes_over_whole(servers):
    primary, _ = servers
    r = with_fallback(servers, max_retries=0)
    primary.script(Fault.drop())
    outs = r.rerank_batch(["apple", "pie"], [DOCS, DOCS[1:]])
    assert [o["_reranker"].to_pylist() for o in outs] == [["jina"] * 3, ["jina"] * 2]


@pytest.mark.parametrize(("status", "error"), [(400, rerankit.ProviderError), (401, rerankit.AuthenticationError)])
def test_bad_input_and_rejected_keys_do_not_fall_back(servers, status, error):
    primary, second = servers
    primary.script(Fault.error(status))
    with pytest.raises(error) as caught:
        with_fallback(servers).rerank("apple pie", DOCS)
    assert caught.value.status_code == status and second.attempts == 0


def test_a_rejected_key_falls_back_when_asked(servers):
    primary, _ = servers
    primary.script(Fault.error(401))
    out = with_fallback(servers, fallback_on_auth_error=True).rerank("apple pie", DOCS)
    assert out["_reranker"].to_pylist() == ["jina"] * 3


def test_when_every_reranker_fails_the_primary_error_is_raised(servers):
    primary, second = servers
    primary.script(*[Fault.error(503)] * 2)
    second.script(Fault.error(500))
    with pytest.raises(rerankit.ProviderError, match="cohere: HTTP 503"):
        with_fallback(servers).rerank("apple pie", DOCS)


def test_fallback_configs_are_checked_when_the_reranker_is_built(servers):
    with pytest.raises(rerankit.UnknownRerankerError):
        rerankit.get_reranker("cohere", api_key="k", fallback=[{"reranker": "no-such-reranker"}])
    with pytest.raises(rerankit.ConfigError, match="naming its reranker"):
        rerankit.get_reranker("cohere", api_key="k", fallback=[{"model_name": "x"}])
    with pytest.raises(rerankit.ConfigError, match="fusion"):
        rerankit.get_reranker("cohere", api_key="k", fallback=[{"reranker": "rrf"}])


def test_an_inline_fallback_key_stays_out_of_the_repr(servers):
    r = with_fallback(servers)
    assert "'j'" not in repr(r) and "api_key" not in repr(r) and "jina" in repr(r)


def test_a_pickled_reranker_keeps_its_fallbacks_but_not_their_inline_keys(servers, monkeypatch):
    import pickle

    monkeypatch.setenv("JINA_API_KEY", "j")  # the key is re-read from the environment on the other side
    r = with_fallback(servers)
    data = pickle.dumps(r)
    assert b"'j'" not in data and b"SecretStr" not in data
    again = pickle.loads(data)
    assert again.config.fallback[0]["reranker"] == "jina" and "api_key" not in again.config.fallback[0]
    servers[0].script(*[Fault.error(503)] * 2)
    assert again.rerank("apple pie", DOCS)["_reranker"].to_pylist() == ["jina"] * 3


def test_a_fusion_reranker_is_refused_as_a_fallback():
    # a fallback must score the texts itself: a reranker with a scoring path, which fusion has not
    with pytest.raises(rerankit.ConfigError, match=r"fallback\[0\] \('rrf'\) of 'cohere' is a fusion reranker"):
        rerankit.get_reranker("cohere", api_key="k", fallback=[{"reranker": "rrf"}])
    assert rerankit.get_reranker("rrf").scoring_path is None


def test_a_fallback_of_a_fallback_is_named_as_the_answerer(servers):
    primary, second = servers
    with FakeRerankServer("voyage", api_key="v") as third:
        voyage = {"reranker": "voyage", "model_name": "rerank-2", "api_key": "v", "base_url": third.url}
        voyage["max_retries"] = 0
        jina = {"reranker": "jina", "api_key": "j", "base_url": second.url, "max_retries": 0, "fallback": [voyage]}
        r = rerankit.get_reranker(
            "cohere", api_key="k", base_url=primary.url, max_retries=0, fallback=[jina]
        )
        primary.script(Fault.error(503))
        second.script(Fault.error(503))
        out = r.rerank("apple pie", DOCS)
        assert (primary.attempts, second.attempts, third.attempts) == (1, 1, 1)
        assert out["_reranker"].to_pylist() == ["voyage"] * 3
        assert r.usage.answered_by == {"voyage": 1} and r.usage.fallbacks == 1
        out = r.rerank("apple pie", DOCS)  # the primary is back: it answers and says so
        assert out["_reranker"].to_pylist() == ["cohere"] * 3
        assert r.usage.answered_by == {"voyage": 1, "cohere": 1}

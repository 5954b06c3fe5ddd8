"""Both local-model plugins stand on rerankit.local: one key, one model cache, one device resolution."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest
import rerankit_colbert
import rerankit_crossencoder

import rerankit
import rerankit.local
from tests.plugins.colbert.colbert_models import QUERY, TEXTS
from tests.plugins.crossencoder.crossencoder_models import build_tiny


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny(tmp_path_factory.mktemp("shared-ce")))


@pytest.fixture
def fresh_both():
    rerankit_crossencoder.clear_model_cache()
    rerankit_colbert.clear_model_cache()
    yield
    rerankit_crossencoder.clear_model_cache()
    rerankit_colbert.clear_model_cache()


def test_one_model_cache_holds_both_plugins_models(stanford, cross_encoder, fresh_both):
    ce = rerankit.get_reranker("crossencoder", model_name=cross_encoder, device="cpu")
    cb = rerankit.get_reranker("colbert", model_name=str(stanford), device="cpu")
    ce.rerank(QUERY, TEXTS)
    cb.rerank(QUERY, TEXTS)
    cache = rerankit.local.models
    # each plugin's keys are the shared LoadKey, subclassed as the plugin's namespace
    (ce_key,) = [k for k in cache.keys() if k.model_name == str(Path(cross_encoder).resolve())]
    (cb_key,) = [k for k in cache.keys() if k.model_name == str(Path(str(stanford)).resolve())]
    assert isinstance(ce_key, rerankit.local.LoadKey) and isinstance(cb_key, rerankit.local.LoadKey)
    assert type(ce_key) is not type(cb_key)
    assert cache.keys(type(ce_key)) == [ce_key] and cache.keys(type(cb_key)) == [cb_key]
    # the key is made by the shared load_key: the plugin's own load options ride along as extras
    assert ce_key == rerankit.local.load_key(ce.config, type(ce_key), max_length=None, recipe=None)
    assert cb_key == rerankit.local.load_key(cb.config, type(cb_key))
    assert ce_key.max_length is None and ce_key.backend == "torch"
    # the models the rerankers score with are the ones the shared cache holds, with its per-model locks
    assert cache.get(ce_key, pytest.fail) is ce.scorer.model and ce.scorer.model.lock is cache.lock(ce_key)
    assert cache.get(cb_key, pytest.fail) is cb.scorer.model and cb.scorer.model.lock is cache.lock(cb_key)
    # the plugins' cache functions are the shared key's, each seeing its own models only
    assert rerankit_crossencoder.model_cache_info()["models"] == [(ce_key.model_name, "cpu", "float32", "torch", None)]
    assert rerankit_colbert.model_cache_info()["models"] == [(cb_key.model_name, "cpu", "float32", "torch", None)]
    rerankit_colbert.clear_model_cache()
    assert cache.keys(type(cb_key)) == [] and ce_key in cache.keys()
    cb.rerank(QUERY, TEXTS)
    # clearing the shared cache drops both: each plugin reloads on its next score
    ce_loads = rerankit_crossencoder.model_cache_info()["loads"]
    cb_loads = rerankit_colbert.model_cache_info()["loads"]
    cache.clear()
    assert rerankit_crossencoder.model_cache_info()["models"] == [] == rerankit_colbert.model_cache_info()["models"]
    ce.rerank(QUERY, TEXTS)
    cb.rerank(QUERY, TEXTS)
    assert rerankit_crossencoder.model_cache_info()["loads"] == ce_loads + 1
    assert rerankit_colbert.model_cache_info()["loads"] == cb_loads + 1


def test_load_key_extras_read_as_attributes_and_split_the_cache():
    config = rerankit.local.LocalModelConfig(model_name="some/model", device="cpu")
    short = rerankit.local.load_key(config, rerankit.local.LoadKey, max_length=64)
    assert short.max_length == 64 and short.device == "cpu"
    assert short != rerankit.local.load_key(config, rerankit.local.LoadKey, max_length=128)
    assert short == rerankit.local.load_key(config, rerankit.local.LoadKey, max_length=64)
    with pytest.raises(AttributeError, match="no load option 'recipe'"):
        _ = short.recipe
    assert pickle.loads(pickle.dumps(short)) == short


def test_one_device_resolution_for_both_plugins(stanford, cross_encoder, fresh_both, caplog):
    caplog.set_level(logging.DEBUG, logger="rerankit.local")
    ce = rerankit.get_reranker("crossencoder", model_name=cross_encoder)  # device auto
    cb = rerankit.get_reranker("answerdotai", model_name=str(stanford))
    ce.rerank(QUERY, TEXTS)
    cb.rerank(QUERY, TEXTS)
    device = rerankit.local.resolve_device(None)
    resolved = [r.getMessage() for r in caplog.records if r.name == "rerankit.local._device"]
    assert resolved == [f"device 'auto' resolved to '{device}'"] * 3  # crossencoder, colbert, this test
    assert ce.scorer.model.device.type == cb.scorer.model.device.type == device.split(":")[0]

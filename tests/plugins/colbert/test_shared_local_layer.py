"""Both local-model plugins stand on rerankit.local: one model cache, one device resolution."""

from __future__ import annotations

import logging

import pytest
import rerankit_colbert
import rerankit_colbert.loading
import rerankit_crossencoder
import rerankit_crossencoder.loading

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
    held = {type(k).__module__: k for k in cache.keys()}
    ce_key, cb_key = held["rerankit_crossencoder.loading"], held["rerankit_colbert.loading"]
    # the models the rerankers score with are the ones the shared cache holds, with its per-model locks
    assert cache.get(ce_key, pytest.fail) is ce.scorer.model and ce.scorer.model.lock is cache.lock(ce_key)
    assert cache.get(cb_key, pytest.fail) is cb.scorer.model and cb.scorer.model.lock is cache.lock(cb_key)
    # clearing the shared cache drops both: each plugin reloads on its next score
    ce_loads = rerankit_crossencoder.model_cache_info()["loads"]
    cb_loads = rerankit_colbert.model_cache_info()["loads"]
    cache.clear()
    assert rerankit_crossencoder.model_cache_info()["models"] == [] == rerankit_colbert.model_cache_info()["models"]
    ce.rerank(QUERY, TEXTS)
    cb.rerank(QUERY, TEXTS)
    assert rerankit_crossencoder.model_cache_info()["loads"] == ce_loads + 1
    assert rerankit_colbert.model_cache_info()["loads"] == cb_loads + 1


def test_one_device_resolution_for_both_plugins(stanford, cross_encoder, fresh_both, caplog):
    assert rerankit_crossencoder.loading.resolve_device is rerankit.local.resolve_device
    assert rerankit_colbert.loading.resolve_device is rerankit.local.resolve_device
    caplog.set_level(logging.DEBUG, logger="rerankit.local")
    ce = rerankit.get_reranker("crossencoder", model_name=cross_encoder)  # device auto
    cb = rerankit.get_reranker("answerdotai", model_name=str(stanford))
    ce.rerank(QUERY, TEXTS)
    cb.rerank(QUERY, TEXTS)
    device = rerankit.local.resolve_device(None)
    resolved = [r.getMessage() for r in caplog.records if r.name == "rerankit.local._device"]
    assert resolved == [f"device 'auto' resolved to '{device}'"] * 3  # crossencoder, colbert, this test
    assert ce.scorer.model.device.type == cb.scorer.model.device.type == device.split(":")[0]

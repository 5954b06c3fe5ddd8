"""The crossencoder's options: defaults, LanceDB's names, and what is refused before any load."""

from __future__ import annotations

import pytest
import rerankit_crossencoder

import rerankit


def test_defaults():
    config = rerankit.get_reranker("crossencoder").config
    assert isinstance(config, rerankit_crossencoder.CrossEncoderConfig)
    assert config.model_name == "cross-encoder/ms-marco-TinyBERT-L-6"  # LanceDB's default
    assert config.device is None and config.batch_size == 32 and config.max_length is None
    assert config.activation == "auto" and config.dtype == "float32" and config.quantize is None
    assert config.trust_remote_code is False and config.backend == "torch"
    assert config.cache_dir is None and config.local_files_only is False
    assert config.column == "text" and config.return_score == "relevance"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dtype": "float16", "device": "cpu"}, "dtype='float16' is not supported on device='cpu'"),
        ({"quantize": "int8", "device": "cuda"}, "quantize='int8' is a CPU-only path"),
        ({"quantize": "int8", "dtype": "bfloat16"}, "starts from float32 weights"),
        ({"quantize": "int8", "backend": "openvino", "dtype": "bfloat16"}, "starts from float32 weights"),
        ({"dtype": "bfloat16", "backend": "onnx"}, "backend='openvino' for bfloat16"),
        ({"device": "gpu"}, "option 'device'"),
        ({"batch_size": 0}, "option 'batch_size'"),
        ({"activation": "softmax"}, "option 'activation'"),
        ({"dtype": "int4"}, "option 'dtype'"),
        ({"quantize": "int4"}, "option 'quantize'"),
        ({"modelname": "x"}, "unknown option 'modelname' (did you mean 'model_name'?)"),
    ],
)
def test_bad_options_are_config_errors(options, message):
    with pytest.raises(rerankit.ConfigError) as info:
        rerankit.get_reranker("crossencoder", **options)
    assert message in str(info.value)
    assert "invalid config for reranker 'crossencoder'" in str(info.value)


@pytest.mark.parametrize("device", [None, "auto", "cpu", "cuda", "cuda:1", "mps"])
def test_device_spellings(device):
    assert rerankit.get_reranker("crossencoder", device=device).config.device == device


def test_quantize_on_auto_device_is_accepted():
    config = rerankit.get_reranker("crossencoder", quantize="int8").config
    assert config.quantize == "int8" and config.device is None


def test_max_length_above_the_model_positions_is_a_config_error(tiny_model):
    """Found when the model loads (the first call), not inside transformers while scoring."""
    from tests.plugins.crossencoder.crossencoder_models import MAX_POSITIONS

    reranker = rerankit.get_reranker("crossencoder", model_name=tiny_model, max_length=MAX_POSITIONS + 1)
    with pytest.raises(rerankit.ConfigError, match=f"max_length={MAX_POSITIONS + 1} is above the {MAX_POSITIONS}"):
        reranker.rerank("q", ["a " * 200, "b"])
    ok = rerankit.get_reranker("crossencoder", model_name=tiny_model, max_length=MAX_POSITIONS)
    assert ok.rerank("q", ["a " * 200, "b"]).num_rows == 2

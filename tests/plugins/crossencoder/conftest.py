"""Fixtures: tiny cross-encoders saved under a temp dir, loaded by path like any user's model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# Never reach the Hugging Face hub from these tests (read when huggingface_hub is imported).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from tests.plugins.crossencoder.crossencoder_models import build_tiny


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Saved with transformers only: sentence-transformers applies its default (sigmoid)."""
    return str(build_tiny(tmp_path_factory.mktemp("tiny-ce")))


@pytest.fixture(scope="session")
def identity_model(tmp_path_factory: pytest.TempPathFactory, tiny_model: str) -> str:
    """Saved through sentence-transformers with an identity activation, as ms-marco models are."""
    import torch
    from sentence_transformers import CrossEncoder

    path = tmp_path_factory.mktemp("identity-ce")
    CrossEncoder(tiny_model, activation_fn=torch.nn.Identity()).save(str(path))
    return str(path)


@pytest.fixture(scope="session")
def prompted_model(tmp_path_factory: pytest.TempPathFactory, tiny_model: str) -> str:
    """A cross-encoder whose saved default prompt sentence-transformers prepends to each query."""
    from sentence_transformers import CrossEncoder

    path = tmp_path_factory.mktemp("prompted-ce")
    CrossEncoder(tiny_model, prompts={"query": "supersonic jet "}, default_prompt_name="query").save(
        str(path)
    )
    return str(path)


@pytest.fixture(scope="session")
def remote_code_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A model whose config names custom code shipped beside it; that code adds 100 to each logit."""
    path = build_tiny(tmp_path_factory.mktemp("remote-ce"), seed=1)
    (path / "configuration_tiny.py").write_text(
        "from transformers import BertConfig\n\n\n"
        "class TinyRemoteConfig(BertConfig):\n"
        "    model_type = 'tiny-remote'\n",
        encoding="utf-8",
    )
    (path / "modeling_tiny.py").write_text(
        "from transformers import BertForSequenceClassification\n\n"
        "from .configuration_tiny import TinyRemoteConfig\n\n\n"
        "class TinyRemoteModel(BertForSequenceClassification):\n"
        "    config_class = TinyRemoteConfig\n\n"
        "    def forward(self, *args, **kwargs):\n"
        "        out = super().forward(*args, **kwargs)\n"
        "        out.logits = out.logits + 100.0\n"
        "        return out\n",
        encoding="utf-8",
    )
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    config["model_type"] = "tiny-remote"
    config["architectures"] = ["TinyRemoteModel"]
    config["auto_map"] = {
        "AutoConfig": "configuration_tiny.TinyRemoteConfig",
        "AutoModelForSequenceClassification": "modeling_tiny.TinyRemoteModel",
    }
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="session")
def two_label_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny(tmp_path_factory.mktemp("two-label-ce"), num_labels=2))


@pytest.fixture
def fresh_models():
    """Start and end with an empty process-wide model cache."""
    import rerankit_crossencoder

    rerankit_crossencoder.clear_model_cache()
    yield
    rerankit_crossencoder.clear_model_cache()


# -- tiny LLM rerankers (tests/plugins/crossencoder/generative_models.py) ---------------------
@pytest.fixture(scope="session")
def llm_dir(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("llm-rerankers")


@pytest.fixture(scope="session")
def qwen3_model(llm_dir) -> str:
    """A Qwen3 causal LM named like the real checkpoints, so its recipe is found by name."""
    from tests.plugins.crossencoder.generative_models import build_causal

    return str(build_causal(llm_dir / "Qwen3-Reranker-tiny", arch="qwen3"))


@pytest.fixture(scope="session")
def mxbai_model(llm_dir) -> str:
    from tests.plugins.crossencoder.generative_models import build_causal

    return str(build_causal(llm_dir / "mxbai-rerank-base-v2-tiny", arch="qwen2", seed=1))


@pytest.fixture(scope="session")
def bge_model(llm_dir) -> str:
    from tests.plugins.crossencoder.generative_models import build_causal

    return str(build_causal(llm_dir / "bge-reranker-v2-gemma-tiny", arch="gemma", seed=2))


@pytest.fixture(scope="session")
def t5_model(llm_dir) -> str:
    """A T5 under a name that says nothing: MonoT5 is found from its architecture."""
    from tests.plugins.crossencoder.generative_models import build_t5

    return str(build_t5(llm_dir / "tiny-seq2seq"))


@pytest.fixture(scope="session")
def qwen3_seq_cls_model(llm_dir, qwen3_model) -> str:
    from tests.plugins.crossencoder.generative_models import build_seq_cls

    return str(build_seq_cls(llm_dir / "Qwen3-Reranker-tiny-seq-cls", Path(qwen3_model), "yes", "no"))


@pytest.fixture(scope="session")
def qwen3_st_model(llm_dir, qwen3_model) -> str:
    """The Qwen3 checkpoint in sentence-transformers' format (chat template + LogitScore), under a
    name that does not say Qwen3-Reranker."""
    from tests.plugins.crossencoder.generative_models import save_sentence_transformers

    return str(save_sentence_transformers(llm_dir / "st-causal-reranker", Path(qwen3_model)))


@pytest.fixture(scope="session")
def plain_causal_model(llm_dir, qwen3_model) -> str:
    """The same Qwen3 weights under a name no recipe knows, without sentence-transformers files."""
    import shutil

    return shutil.copytree(qwen3_model, llm_dir / "some-chat-model")

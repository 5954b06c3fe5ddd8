"""Tiny LLM rerankers for the tests, built from nothing and saved to disk.

Each family gets a 2-layer model of its own architecture (Qwen3, Qwen2, Gemma, T5) with random
weights, and a word-level tokenizer built here whose vocabulary holds every word of the recipes'
templates and the test texts, the special tokens of the family (``<|im_start|>``, ``<|im_end|>``,
``<think>``, ``<bos>``, ``</s>``, ...) and the label tokens (``yes``/``no``, ``1``/``0``,
``Yes``, ``▁true``/``▁false``). The directories are named like the real checkpoints where the
name is what tells the family (``Qwen3-Reranker-...``), so they load by path as users' would.
"""

from __future__ import annotations

from pathlib import Path

from rerankit_crossencoder import recipes

from tests.plugins.crossencoder.crossencoder_models import QUERY, TEXTS

INSTRUCTION = "Find the aircraft paper"
LONG_TEXT = " ".join(["the boundary layer of a wing at high speed with heat transfer"] * 40)
QUERIES = [QUERY, "lift of a thin wing", "shock wave"]
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]

# The chat template a sentence-transformers Qwen3-style checkpoint carries: the Qwen3-Reranker
# prompt around the pair's "query" and "document" messages (default instruction).
QWEN3_CHAT_TEMPLATE = (
    "{%- set q = (messages | selectattr('role', 'eq', 'query') | first).content -%}"
    "{%- set d = (messages | selectattr('role', 'eq', 'document') | first).content -%}"
    "{%- if q is not string %}{% set q = q[0].text %}{% endif -%}"
    "{%- if d is not string %}{% set d = d[0].text %}{% endif -%}"
    + recipes.QWEN3.prefix
    + f"<Instruct>: {recipes.QWEN3.default_instruction}\n<Query>: {{{{ q }}}}\n<Document>: {{{{ d }}}}"
    + recipes.QWEN3.suffix[0]
    + "{{ '' }}"  # Jinja drops a template's final newline; the suffix's must stay
)


def corpus() -> list[str]:
    """Every string whose words the tiny vocabularies must know."""
    parts = [QUERY, *QUERIES, *TEXTS, LONG_TEXT, INSTRUCTION]
    for recipe in recipes.RECIPES.values():
        parts += [recipe.prefix, recipe.query_template, recipe.document_template, recipe.between, *recipe.suffix]
        parts += [recipe.default_instruction or "", recipe.instruction_template, recipe.true_token]
        parts += [recipe.false_token or ""]
    return [*parts, "yes no Yes No 1 0 true false"]


def build_tokenizer(path: Path, *, family: str) -> None:
    """A word-level fast tokenizer with the family's special tokens, saved to ``path``.

    ``family`` is ``"qwen"`` (``<|endoftext|>`` pads, no BOS), ``"gemma"`` (``<bos>``, ``<pad>``,
    ``<eos>``) or ``"t5"`` (SentencePiece-style ``▁`` word starts, ``</s>`` appended to every
    text, ``<pad>`` = 0).
    """
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    if family == "t5":
        pre = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
                pre_tokenizers.Split(Regex(r"[^\w▁]"), behavior="isolated"),
            ]
        )
        specials = ["<pad>", "</s>", "<unk>"]
    else:
        pre = pre_tokenizers.Split(Regex(r"\s|[A-Za-z]+|\d|[^\sA-Za-z\d]"), behavior="isolated")
        specials = ["<unk>", *QWEN_SPECIALS] if family == "qwen" else ["<pad>", "<eos>", "<bos>", "<unk>"]
    words: set[str] = set()
    for text in corpus():
        for special in QWEN_SPECIALS:
            text = text.replace(special, " ")
        words.update(piece for piece, _ in pre.pre_tokenize_str(text))
    words.update(["▁true", "▁false", "▁yes", "▁no"] if family == "t5" else [])
    vocab = {token: i for i, token in enumerate([*specials, *sorted(words - set(specials))])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre
    if family == "qwen":
        tok.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        tok.add_tokens(["<think>", "</think>"])
        kwargs = {"pad_token": "<|endoftext|>", "eos_token": "<|im_end|>", "unk_token": "<unk>"}
    elif family == "gemma":
        tok.add_special_tokens(["<pad>", "<eos>", "<bos>"])
        kwargs = {"pad_token": "<pad>", "eos_token": "<eos>", "bos_token": "<bos>", "unk_token": "<unk>"}
    else:
        tok.add_special_tokens(["<pad>", "</s>"])
        tok.post_processor = processors.TemplateProcessing(
            single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", vocab["</s>"])]
        )
        kwargs = {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}
    PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=4096, **kwargs).save_pretrained(str(path))


def _vocab_size(path: Path) -> int:
    from transformers import AutoTokenizer

    return len(AutoTokenizer.from_pretrained(str(path)))


def build_causal(path: Path, *, arch: str, seed: int = 0) -> Path:
    """A tiny ``Qwen3``/``Qwen2``/``Gemma`` causal LM and its tokenizer, saved to ``path``."""
    import torch
    import transformers

    build_tokenizer(path, family="gemma" if arch == "gemma" else "qwen")
    size = _vocab_size(path)
    common = dict(
        vocab_size=size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=512,
        initializer_range=0.08,  # wide weights, so texts get clearly different scores
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    if arch == "qwen3":
        model = transformers.Qwen3ForCausalLM(transformers.Qwen3Config(**common, pad_token_id=1))
    elif arch == "qwen2":
        model = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**common))
    else:
        model = transformers.GemmaForCausalLM(
            transformers.GemmaConfig(**common, pad_token_id=0, eos_token_id=1, bos_token_id=2)
        )
    model.eval().save_pretrained(str(path))
    return path


def build_seq_cls(path: Path, causal: Path, true_token: str, false_token: str) -> Path:
    """The one-logit sequence-classification conversion of a causal reranker: the body's weights
    and a head of one row, W_true - W_false, no bias (vLLM's ``from_2_way_softmax``)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    lm = AutoModelForCausalLM.from_pretrained(str(causal))
    tokenizer = AutoTokenizer.from_pretrained(str(causal))
    yes, no = tokenizer.convert_tokens_to_ids([true_token, false_token])
    cls = AutoModelForSequenceClassification.from_pretrained(str(causal), num_labels=1)
    with torch.no_grad():
        cls.model.load_state_dict(lm.model.state_dict())
        cls.score.weight.copy_((lm.lm_head.weight[yes] - lm.lm_head.weight[no]).unsqueeze(0))
    cls.config.pad_token_id = tokenizer.pad_token_id
    cls.eval().save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


def build_t5(path: Path, *, seed: int = 0) -> Path:
    """A tiny T5ForConditionalGeneration (2 + 2 layers) and its tokenizer, saved to ``path``."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    build_tokenizer(path, family="t5")
    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=_vocab_size(path),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        initializer_factor=1.0,
    )
    T5ForConditionalGeneration(config).eval().save_pretrained(str(path))
    return path


def save_sentence_transformers(path: Path, causal: Path) -> Path:
    """``causal`` saved as a sentence-transformers CrossEncoder: a text-generation Transformer that
    renders pairs with the Qwen3-Reranker prompt as its chat template, and a ``LogitScore`` module
    (yes - no), the format of sentence-transformers 5.4+ causal rerankers."""
    import shutil

    from sentence_transformers import CrossEncoder
    from transformers import AutoTokenizer

    source = path.with_name(path.name + "-source")
    shutil.copytree(causal, source)
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    tokenizer.chat_template = QWEN3_CHAT_TEMPLATE
    tokenizer.save_pretrained(str(source))  # the template is seen when the module is built
    CrossEncoder(str(source), local_files_only=True).save(str(path))
    return path

"""Recipes of the LLM-based rerankers: how each family turns a (query, document) pair into tokens
and its output into a score. Data only: the code that applies them is :mod:`.generative`.

A checkpoint scored without its own recipe gives near-random scores, silently, so each recipe
states every part of it, from the family's official code (the source is in each recipe's
``source``):

- the prompt: ``prefix`` (kept whole), the query part, the document part, ``suffix`` (kept whole);
- how the middle is tokenized: ``"joint"`` (query and document parts as one string, cut from its
  end) or ``"split"`` (query part and document part tokenized apart, the query capped at
  ``query_share`` of ``max_length``, the document cut to what is left);
- the label tokens and the score formula (``"p_true"``: softmax over (false, true) = sigmoid of the
  logit difference; ``"difference"``: the raw logit difference; ``"true_logit"``: the raw logit of
  the true token);
- padding side and the default ``max_length``.

Only the middle (query and document parts) is ever truncated: prefix and suffix, which end at the
position the score is read from, are always kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Optional

ScoreFormula = Literal["p_true", "difference", "true_logit"]

@dataclass(frozen=True)
class Recipe:
    """One family's prompt layout, label tokens, score formula, padding and truncation."""

    name: str
    #: ``"causal"`` (decoder-only LM) or ``"seq2seq"`` (T5: one decoder step).
    architecture: Literal["causal", "seq2seq"]
    #: Tokenized alone, without special tokens, and always kept.
    prefix: str
    #: The query part; ``{query}`` and, where the recipe has one, ``{instruction}``.
    query_template: str
    #: The document part; ``{document}``.
    document_template: str
    #: Pieces tokenized one by one, without special tokens, and always kept; the score is read
    #: after the last one.
    suffix: tuple[str, ...]
    #: ``"joint"``: query and document parts are one string, cut from its end to fit.
    #: ``"split"``: tokenized apart; ``between`` is tokenized alone and goes between them.
    layout: Literal["joint", "split"]
    true_token: str
    false_token: Optional[str]
    #: ``"vocab"``: the label is a vocabulary entry (``convert_tokens_to_ids``);
    #: ``"encode"``: the first id of encoding the label as text.
    label_lookup: Literal["vocab", "encode"]
    score: ScoreFormula
    default_max_length: int
    padding_side: Literal["left", "right"] = "left"
    between: str = ""
    #: ``"split"`` only: the query part is capped at ``max_length * 3 // 4`` tokens.
    query_share: tuple[int, int] = (3, 4)
    #: ``"total"``: ``max_length`` bounds the whole sequence (prefix and suffix included);
    #: ``"middle"``: it bounds query part + ``between`` + document part, templates come on top.
    length_counts: Literal["total", "middle"] = "total"
    #: FlagEmbedding's quirk: the middle may also take as many tokens as the suffix has.
    middle_adds_suffix: bool = False
    #: Prepend the tokenizer's BOS (when it differs from PAD), as FlagEmbedding does.
    bos: bool = False
    #: Append the tokenizer's EOS, as T5 tokenizers do.
    eos: bool = False
    #: Used when the user gives no ``instruction``; ``None`` with ``instruction_template`` set
    #: means the instruction line is left out.
    default_instruction: Optional[str] = None
    #: How an instruction is written into the query part (``{instruction}``); ``""`` when the
    #: recipe takes none.
    instruction_template: str = ""
    source: str = ""

    @property
    def takes_instruction(self) -> bool:
        return bool(self.instruction_template)

    def query_text(self, query: str, instruction: Optional[str]) -> str:
        """The query part for ``query`` (with the instruction, if the recipe takes one)."""
        instruction = instruction if instruction is not None else self.default_instruction
        line = self.instruction_template.format(instruction=instruction) if instruction is not None else ""
        return self.query_template.format(query=query, instruction_line=line)

    def document_text(self, document: str) -> str:
        return self.document_template.format(document=document)


# Source: QwenLM/Qwen3-Embedding@f4ad0c43, README.md "Reranker Model / Transformers Usage" and
# examples/qwen3_reranker_transformers.py: AutoModelForCausalLM, padding_side="left", prefix and
# suffix encoded with add_special_tokens=False, the formatted body truncated (from its end) to
# max_length - len(prefix) - len(suffix), score = exp(log_softmax([l_no, l_yes]))[1] at position
# -1, README max_length = 8192. Default instruction: the README's ("Given a web search query,
# retrieve relevant passages that answer the query"); the example class defaults to "Given the
# user query, retrieval the relevant passages". We take the README's: it is the model card's
# usage code, the one published with the checkpoints and the one users copy, while the class's
# default is a script's own (overridden by its __main__, and worded ungrammatically). The vLLM
# example separates the fields with blank lines; we follow the transformers code (single "\n").
QWEN3 = Recipe(
    name="qwen3",
    architecture="causal",
    prefix=(
        "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
        'and the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
        "<|im_start|>user\n"
    ),
    query_template="{instruction_line}<Query>: {query}\n",
    document_template="<Document>: {document}",
    suffix=("<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",),
    layout="joint",
    true_token="yes",
    false_token="no",
    label_lookup="vocab",
    score="p_true",
    default_max_length=8192,
    default_instruction="Given a web search query, retrieve relevant passages that answer the query",
    instruction_template="<Instruct>: {instruction}\n",
    source="QwenLM/Qwen3-Embedding README.md and examples/qwen3_reranker_transformers.py",
)

# Source: mixedbread-ai/mxbai-rerank 0.1.6 (PyPI), mxbai_rerank/mxbai_rerank_v2.py
# (MxbaiRerankV2.prepare_inputs / concat_input_ids / forward) and mxbai_rerank/utils.py:
# query part "[instruction: {i}\n]query: {q}" capped at max_length * 3 // 4, document part
# "document: {d}", joined by "\n" and truncated only_second to max_length; then
# chat prefix + middle + "\n" + task prompt + chat suffix; max_length lowered to
# max_position_embeddings - (template tokens) when it would not fit; score = l("1") - l("0") at
# position -1 (labels are the first id of encoding "1" / "0"); normalize=True is
# sigmoid(x - estimated_max / 2) (not offered here: activation='sigmoid' is the plain sigmoid).
MXBAI_TASK = (
    "You are a search relevance expert who evaluates how well documents match search queries. "
    "For each query-document pair, carefully analyze the semantic relationship between them, "
    "then provide your binary relevance judgment (0 for not relevant, 1 for relevant).\nRelevance:"
)
MXBAI_V2 = Recipe(
    name="mxbai-v2",
    architecture="causal",
    prefix=(
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
        "<|im_end|>\n<|im_start|>user\n"
    ),
    query_template="{instruction_line}query: {query}",
    document_template="document: {document}",
    between="\n",
    suffix=("\n", MXBAI_TASK, "<|im_end|>\n<|im_start|>assistant\n"),
    layout="split",
    true_token="1",
    false_token="0",
    label_lookup="encode",
    score="difference",
    default_max_length=8192,
    length_counts="middle",
    instruction_template="instruction: {instruction}\n",
    source="mixedbread-ai/mxbai-rerank 0.1.6, mxbai_rerank/mxbai_rerank_v2.py",
)

# Source: FlagOpen/FlagEmbedding 1.4.2, FlagEmbedding/inference/reranker/decoder_only/base.py
# (BaseLLMReranker.compute_score_single_gpu) with the defaults query_instruction "A: " and
# passage_instruction "B: " (format "{}{}"): [bos] + tok("A: {q}") capped at max_length * 3 // 4,
# then tok("\n") + tok("B: {p}") (capped at max_length), the pair truncated only_second to
# max_length + len(sep) + len(prompt); then "\n" + prompt; score = the raw logit of the first id
# of encoding "Yes" at the last real token; max_length default 512.
BGE_PROMPT = (
    "Given a query A and a passage B, determine whether the passage contains an answer to the "
    "query by providing a prediction of either 'Yes' or 'No'."
)
BGE_GEMMA = Recipe(
    name="bge-gemma",
    architecture="causal",
    prefix="",
    query_template="A: {query}",
    document_template="B: {document}",
    between="\n",
    suffix=("\n", BGE_PROMPT),
    layout="split",
    true_token="Yes",
    false_token=None,
    label_lookup="encode",
    score="true_logit",
    default_max_length=512,
    length_counts="middle",
    middle_adds_suffix=True,
    bos=True,
    source="FlagOpen/FlagEmbedding 1.4.2, FlagEmbedding/inference/reranker/decoder_only/base.py",
)

# Source: castorini/pygaggle@08339dd3, pygaggle/model/tokenize.py (T5BatchTokenizer: pattern
# "Query: {query} Document: {document} Relevant:", max_length 512), pygaggle/rerank/transformer.py
# (MonoT5: prediction tokens "▁false"/"▁true" looked up in the vocabulary, log_softmax over
# (false, true) of the first decoder step's logits) and pygaggle/model/decode.py (the decoder
# starts from config.decoder_start_token_id). AnswerDotAI/rerankers@7bb25217
# rerankers/models/t5ranker.py agrees. One deliberate difference: pygaggle truncates the whole
# string, so an input over 512 tokens loses " Relevant:"; here only the query/document part is
# cut and " Relevant:" + EOS are always kept (identical ids for every input that fits).
MONOT5 = Recipe(
    name="monot5",
    architecture="seq2seq",
    prefix="",
    query_template="Query: {query}",
    document_template=" Document: {document}",
    suffix=(" Relevant:",),
    layout="joint",
    true_token="▁true",
    false_token="▁false",
    label_lookup="vocab",
    score="p_true",
    default_max_length=512,
    padding_side="right",
    eos=True,
    source="castorini/pygaggle pygaggle/model/tokenize.py and pygaggle/rerank/transformer.py",
)

RECIPES: dict[str, Recipe] = {r.name: r for r in (QWEN3, MXBAI_V2, BGE_GEMMA, MONOT5)}

# mT5 relatives of MonoT5 answer with other words (pygaggle's prediction_tokens table).
_MT5_YES_NO = replace(MONOT5, true_token="▁yes", false_token="▁no")

#: Checkpoint names (the last component of a hub id or a local directory, lower case) that name
#: their family. Checked in order; the first pattern contained in the name wins.
KNOWN_NAMES: tuple[tuple[str, Recipe], ...] = (
    ("qwen3-reranker", QWEN3),
    ("mxbai-rerank-base-v2", MXBAI_V2),
    ("mxbai-rerank-large-v2", MXBAI_V2),
    ("bge-reranker-v2-gemma", BGE_GEMMA),
    ("mt5-base-en-msmarco", _MT5_YES_NO),
    ("mt5-base-mmarco", _MT5_YES_NO),
    ("mt5-base-en-pt-msmarco", _MT5_YES_NO),
    ("monot5", MONOT5),
    ("inranker", MONOT5),
)


def recipe_for_name(model_name: str) -> Optional[Recipe]:
    """The recipe a known checkpoint name implies, or ``None``."""
    last = model_name.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1].lower()
    for pattern, recipe in KNOWN_NAMES:
        if pattern in last:
            return recipe
    return None

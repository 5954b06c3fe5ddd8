"""The options of ``colbert`` and ``answerdotai``: pydantic models validated by ``get_reranker``.

The options every local model shares come from :class:`rerankit.local.LocalModelConfig`. Names
follow LanceDB's ``ColbertReranker`` / ``AnswerdotaiRerankers`` and the ``rerankers`` library
they wrap (``model_name``, ``model_type``, ``device``, ``batch_size``, ``query_max_length``,
``doc_max_length``, ``dtype``), so code moving from LanceDB keeps its arguments. Lengths left unset
come from the checkpoint itself (see :mod:`.checkpoint`).
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field, field_validator

from rerankit.local import LocalModelConfig

DEFAULT_COLBERT_MODEL = "colbert-ir/colbertv2.0"
DEFAULT_ANSWERDOTAI_MODEL = "answerdotai/answerai-colbert-small-v1"

#: The ``rerankers`` library's other model types, and the rerankit reranker that serves each.
OTHER_MODEL_TYPES = {
    "cross-encoder": "crossencoder",
    "crossencoder": "crossencoder",
    "flashrank": "crossencoder",
    "cohere": "cohere",
    "jina": "jina",
    "voyage": "voyage",
}


class ColbertConfig(LocalModelConfig):
    """Options of the ``colbert`` reranker (on top of ``column``, ``top_n``, ``return_score``)."""

    model_name: str = Field(
        DEFAULT_COLBERT_MODEL,
        min_length=1,
        description="Hugging Face id or local directory of a ColBERT checkpoint (Stanford or PyLate layout).",
    )
    batch_size: int = Field(32, ge=1, description="Documents per forward pass.")
    query_max_length: Optional[int] = Field(
        None,
        ge=4,
        description="Query length in tokens, markers included; queries are padded to it with [MASK]. "
        "None: the checkpoint's (query_maxlen / query_length).",
    )
    doc_max_length: Optional[int] = Field(
        None,
        ge=4,
        description="Document token limit, markers included; longer texts are truncated and counted "
        "in a warning. None: the checkpoint's (doc_maxlen / document_length).",
    )
    embeddings_column: Optional[str] = Field(
        None,
        min_length=1,
        description="A column of the results holding each document's token embeddings (a LanceDB "
        "multivector: list of fixed-size float lists) made by this model: score from them instead "
        "of encoding the text.",
    )


class AnswerdotaiConfig(ColbertConfig):
    """Options of ``answerdotai``: ``colbert``'s, with LanceDB's ``AnswerdotaiRerankers`` defaults."""

    model_type: str = Field(
        "colbert",
        description="The rerankers library's model type; only 'colbert' runs here (others are "
        "served by other rerankit rerankers, named in the error).",
    )
    model_name: str = Field(
        DEFAULT_ANSWERDOTAI_MODEL,
        min_length=1,
        description="Hugging Face id or local directory of a ColBERT checkpoint (Stanford or PyLate layout).",
    )

    @field_validator("model_type")
    @classmethod
    def _colbert_only(cls, value: str) -> str:
        kind = value.strip().lower()
        if kind == "colbert":
            return kind
        other = OTHER_MODEL_TYPES.get(kind)
        if other is not None:
            raise ValueError(
                f"model_type={value!r} is served by rerankit's '{other}' reranker, not by "
                f"'answerdotai': use rerankit.get_reranker('{other}', model_name=...) "
                f"(pip install rerankit-{other})"
            )
        raise ValueError(
            f"model_type={value!r} is not supported; 'answerdotai' runs ColBERT models only "
            "(model_type='colbert'); cross-encoders are served by rerankit's 'crossencoder' reranker"
        )

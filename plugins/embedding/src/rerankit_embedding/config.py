"""The ``embedding`` reranker's options: a pydantic model validated by ``rerankit.get_reranker``.

One config serves both paths. Without ``base_url`` the model runs here (sentence-transformers,
the options every local model shares come from :class:`rerankit.local.LocalModelConfig`); with
``base_url`` an OpenAI-compatible embeddings server computes the vectors (the HTTP options come
from :class:`rerankit.http.HTTPConfig`). An option that only one path reads, set for the other,
is a :class:`~rerankit.ConfigError` naming it, so a typo'd deployment fails at build time rather
than silently ignoring, say, ``device`` on a server or ``api_key`` on a local model.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from rerankit.http import HTTPConfig
from rerankit.local import LocalModelConfig

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

Similarity = Literal["cosine", "dot"]

#: Options only the local model reads.
LOCAL_ONLY = (
    "device", "dtype", "trust_remote_code", "cache_dir", "local_files_only", "max_length", "backend", "quantize",
    "threads",
)
#: Options only the remote path reads (api_key is not among them: a key is harmless where unused).
REMOTE_ONLY = (
    "api_key_env", "path", "timeout", "connect_timeout", "max_retries", "deadline",
    "backoff_base", "backoff_max", "max_concurrency",
)


#: Saved prompt names read for documents, in order (sentence-transformers' own spellings).
DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")


class EmbeddingConfig(LocalModelConfig, HTTPConfig):
    """Options of the ``embedding`` reranker (on top of ``column``, ``top_n``, ``return_score``)."""

    model_name: str = Field(
        DEFAULT_MODEL,
        min_length=1,
        description="Local: a sentence-transformers model id or directory. Remote: the model name "
        "sent to the server (e.g. 'text-embedding-3-small').",
    )
    base_url: Optional[str] = Field(  # type: ignore[assignment]
        None,
        description="An OpenAI-compatible API root such as 'https://api.openai.com/v1' or "
        "'http://localhost:8000/v1' (/embeddings is appended); None runs the model locally.",
    )
    batch_size: Optional[int] = Field(  # type: ignore[assignment]
        None,
        ge=1,
        description="Local: texts per forward pass (None: 32). Remote: inputs per request (None: 256).",
    )
    query_prompt: Optional[str] = Field(
        None,
        description="Text put before each query (e5: 'query: '). None: the model's saved 'query' "
        "prompt if it has one (local), else nothing; '' never adds one.",
    )
    document_prompt: Optional[str] = Field(
        None,
        description="Text put before each document (e5: 'passage: '). None: the model's saved "
        "'document' / 'passage' / 'corpus' prompt if it has one (local), else nothing; '' never adds one.",
    )
    similarity: Similarity = Field(
        "cosine",
        description="'cosine' (in [-1, 1]) or 'dot' (the raw inner product; equal to cosine for "
        "models that normalize their embeddings, or with normalize=True).",
    )
    normalize: bool = Field(
        False,
        description="Scale every vector to unit length before the similarity (what 'cosine' does "
        "anyway; with 'dot' it makes the score the cosine).",
    )
    dimensions: Optional[int] = Field(
        None,
        ge=1,
        description="Keep the first n dimensions (Matryoshka models). Remote: sent as 'dimensions' "
        "(OpenAI text-embedding-3, servers that support it). Local: the vectors are cut to n.",
    )
    max_length: Optional[int] = Field(
        None,
        ge=4,
        description="Local: token limit per text (None: the model's max_seq_length); longer texts "
        "are cut and counted in a warning.",
    )
    vector_column: Optional[str] = Field(
        None,
        min_length=1,
        description="A column of the results holding each document's vector made by the same "
        "model (LanceDB's 'vector'): score from it and encode only the query.",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: Optional[str]) -> Optional[str]:  # replaces HTTPConfig's: None is allowed
        if value is None:
            return None
        value = value.strip()
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://, e.g. 'http://localhost:8000/v1'")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_path(self) -> EmbeddingConfig:
        # an option away from its default is one the user set (a dumped config repeats defaults)
        fields = type(self).model_fields
        if self.base_url is None:
            wrong = [name for name in REMOTE_ONLY if getattr(self, name) != fields[name].default]
            if wrong:
                raise ValueError(
                    f"{', '.join(wrong)} {_verb(wrong)} only to an embeddings server (base_url=...); the local "
                    "model does not read them: set base_url or drop them"
                )
        else:
            wrong = [name for name in LOCAL_ONLY if getattr(self, name) != fields[name].default]
            if wrong:
                raise ValueError(
                    f"{', '.join(wrong)} {_verb(wrong)} only to the local model; with base_url={self.base_url!r} "
                    "the server runs the model: drop them (or drop base_url to run it here)"
                )
        if self.vector_column is not None and getattr(self, "passages", None) is not None:
            raise ValueError(
                "passages splits texts, but with vector_column each row is scored by its stored vector: "
                "drop passages, or unset vector_column to encode (and split) the text"
            )
        return self

    @property
    def remote(self) -> bool:
        """Whether an embeddings server computes the vectors."""
        return self.base_url is not None

    def texts_per_batch(self) -> int:
        """``batch_size``, or the path's default."""
        if self.batch_size is not None:
            return self.batch_size
        return 256 if self.remote else 32


def _verb(names: list[str]) -> str:
    return "applies" if len(names) == 1 else "apply"

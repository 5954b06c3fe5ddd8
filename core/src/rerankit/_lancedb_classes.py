"""LanceDB's reranker classes with rerankit behind them: ``from rerankit.lancedb import RRFReranker``.

Each class here holds what a LanceDB user sees of one ``lancedb.rerankers`` class: the constructor
signature and defaults, the public attributes, ``str()`` and the extra public methods
(``merge_results(v, f, fill)`` on the linear one). None imports lancedb: :mod:`rerankit.lancedb`
mixes each into its adapter (a real ``lancedb.rerankers.Reranker``) the first time the name is
used. A constructor turns LanceDB's arguments into the options of the rerankit reranker of the
same kind and builds it with :func:`rerankit.get_reranker`; the attributes read those options
back, and setting one rebuilds the reranker with the new value, validated as at construction.
Where LanceDB raises for a condition, the message starts with LanceDB's words and goes on with ours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Optional, Union

import numpy as np
import pyarrow as pa

from ._columns import RELEVANCE, ROWID
from ._errors import AuthenticationError, ConfigError, UnknownRerankerError
from ._inputs import as_table
from ._merge import union_by_rowid
from ._output import finish
from ._registry import FIRST_PARTY, get_reranker
from ._reranker import Reranker


class Option:
    """An attribute that reads the wrapped reranker's option; setting it rebuilds the reranker."""

    def __init__(self, option: str | None = None) -> None:
        self.option = option or ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.option = self.option or name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(obj.reranker.config, self.option)

    def __set__(self, obj: Any, value: Any) -> None:
        obj.reranker = reconfigured(obj.reranker, {self.option: value})


def reconfigured(reranker: Reranker, changes: Mapping[str, Any]) -> Reranker:
    """``reranker`` rebuilt by its registered name with ``changes`` applied (itself if none change)."""
    config = reranker.config
    if all(getattr(config, name, object()) == value for name, value in changes.items()):
        return reranker
    options = {name: getattr(config, name) for name in config.model_fields_set}
    return get_reranker(reranker.name, **{**options, **changes})


def _require(ok: bool, lancedb_words: str, guidance: str) -> None:
    if not ok:
        raise ConfigError(f"{lancedb_words} ({guidance})")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_return_score(return_score: Any) -> None:
    _require(
        return_score in ("relevance", "all"),
        "score must be either 'relevance' or 'all'",
        f"got return_score={return_score!r}",
    )


class DropIn:
    """What every drop-in class shares; mixed in before rerankit.lancedb's adapter class."""

    #: The rerankit reranker of the same kind.
    rerankit_name: ClassVar[str]
    #: Every rerankit reranker keeps only the best n rows when asked (``top_n=`` option).
    top_n = Option()
    #: ... and drops the rows scored below a threshold (``min_score=``; set it to rebuild).
    min_score = Option()

    def _start(self, options: Mapping[str, Any]) -> None:
        """Build the rerankit reranker from ``options`` and initialize the adapter with it."""
        _check_return_score(options.get("return_score", "relevance"))
        super().__init__(self._build(dict(options)))  # type: ignore[call-arg]

    def _build(self, options: dict[str, Any]) -> Reranker:
        try:
            return get_reranker(self.rerankit_name, **options)
        except UnknownRerankerError as exc:
            if exc.name != self.rerankit_name or self.rerankit_name not in FIRST_PARTY:
                raise
            package = FIRST_PARTY[self.rerankit_name]
            raise UnknownRerankerError(
                f"{type(self).__name__} needs the '{self.rerankit_name}' reranker of the {package} "
                f"plugin, which is not installed. Install it with: pip install {package}",
                name=exc.name,
                available=exc.available,
            ) from None

    @classmethod
    def wrap(cls, reranker: Reranker) -> Any:
        """An instance around an already built rerankit reranker (what ``to_lancedb`` returns)."""
        obj = cls.__new__(cls)
        super(DropIn, obj).__init__(reranker)  # type: ignore[call-arg]
        return obj

    def merge_results(self, vector_results: Any, fts_results: Any) -> pa.Table:
        """The rows of both searches, each once by ``_rowid`` (vector rows first, then rows only
        the full-text search found), keeping both ``_distance`` and ``_score``; not scored."""
        column = self.reranker.column
        tables = [as_table(vector_results, "vector_results", column), as_table(fts_results, "fts_results", column)]
        names = ["vector_results", "fts_results"]
        kept = [(t, n) for t, n in zip(tables, names) if t.num_rows or ROWID in t.column_names] or [
            (tables[0], names[0])
        ]
        rows = union_by_rowid([t for t, _ in kept], [n for _, n in kept])
        return finish(rows, np.zeros(rows.size), top_n=None).drop_columns([RELEVANCE])


# -- fusion ------------------------------------------------------------------------------------
class RRFReranker(DropIn):
    """Reciprocal rank fusion (rerankit ``rrf``): score = sum over lists of 1 / (K + rank)."""

    rerankit_name = "rrf"
    K = Option()

    def __init__(self, K: int = 60, return_score: str = "relevance") -> None:
        if _number(K):
            _require(K > 0, "K must be greater than 0", f"got K={K}; 60 is the usual choice")
        self._start({"K": K, "return_score": return_score})

    def __str__(self) -> str:
        return f"RRFReranker(K={self.K})"

    def rerank_multivector(
        self,
        vector_results: Any,
        query: Optional[str] = None,
        deduplicate: bool = True,
        weights: Optional[Sequence[float]] = None,
    ) -> pa.Table:
        """Fuse several searches by ``_rowid`` (rows are always merged); ``weights``, one per search."""
        return super().rerank_multivector(vector_results, query, deduplicate, weights)  # type: ignore[misc]


class LinearCombinationReranker(DropIn):
    """Linear combination (rerankit ``linear``): weight * (1 - _distance) + (1 - weight) * _score."""

    rerankit_name = "linear"
    weight = Option()
    fill = Option()

    def __init__(self, weight: float = 0.7, fill: float = 1.0, return_score: str = "relevance") -> None:
        if _number(weight):
            _require(0 <= weight <= 1, "weight must be between 0 and 1", f"got weight={weight}")
        self._start({"weight": weight, "fill": fill, "return_score": return_score})

    def __str__(self) -> str:
        return f"LinearCombinationReranker(weight={self.weight}, fill={self.fill})"

    def merge_results(self, vector_results: Any, fts_results: Any, fill: Optional[float] = None) -> pa.Table:
        """Merge and score both searches as ``rerank_hybrid`` does, a row missing from one side
        counting ``1 - fill`` there (``fill`` None: this reranker's own)."""
        target = self if fill is None else type(self).wrap(reconfigured(self.reranker, {"fill": fill}))
        return target.rerank_hybrid(None, vector_results, fts_results)  # type: ignore[attr-defined]


class MRRReranker(DropIn):
    """Weighted reciprocal rank (rerankit ``mrr``): weight_vector / rank_vector + weight_fts / rank_fts."""

    rerankit_name = "mrr"
    weight_vector = Option()
    weight_fts = Option()

    def __init__(
        self, weight_vector: float = 0.5, weight_fts: float = 0.5, return_score: str = "relevance"
    ) -> None:
        for name, value in (("weight_vector", weight_vector), ("weight_fts", weight_fts)):
            if _number(value):
                _require(0.0 <= value <= 1.0, f"{name} must be between 0.0 and 1.0", f"got {name}={value}")
        if _number(weight_vector) and _number(weight_fts):
            _require(
                abs(weight_vector + weight_fts - 1.0) <= 1e-6,
                "weight_vector + weight_fts must equal 1.0",
                f"got {weight_vector} + {weight_fts}",
            )
        self._start({"weight_vector": weight_vector, "weight_fts": weight_fts, "return_score": return_score})

    def __str__(self) -> str:
        return f"MRRReranker(weight_vector={self.weight_vector}, weight_fts={self.weight_fts})"

    def rerank_multivector(
        self,
        vector_results: Any,
        query: Optional[str] = None,
        deduplicate: bool = True,
        weights: Optional[Sequence[float]] = None,
    ) -> pa.Table:
        """Mean reciprocal rank over several searches by ``_rowid``; ``weights``, one per search."""
        return super().rerank_multivector(vector_results, query, deduplicate, weights)  # type: ignore[misc]


# -- hosted APIs -------------------------------------------------------------------------------
class HostedDropIn(DropIn):
    """A hosted API reranker: the key comes from ``api_key``, else the plugin's environment variable."""

    #: The environment variable LanceDB's class reads (its "... not set" message names it).
    key_env: ClassVar[str]
    model_name = Option()
    column = Option()
    api_key = Option()  # a pydantic SecretStr (or None): the key itself is never an attribute

    def _build(self, options: dict[str, Any]) -> Reranker:
        try:
            return super()._build(options)
        except AuthenticationError as exc:
            raise AuthenticationError(f"{self.key_env} not set. {exc}", provider=exc.provider) from None

    def __str__(self) -> str:
        return f"{type(self).__name__}(model_name={self.model_name})"


class CohereReranker(HostedDropIn):
    """Cohere's Rerank API (rerankit-cohere). Extra keyword options (``base_url``, ``timeout``,
    ``max_retries``, ...) go to the rerankit reranker."""

    rerankit_name = "cohere"
    key_env = "COHERE_API_KEY"

    def __init__(
        self,
        model_name: str = "rerank-english-v3.0",
        column: str = "text",
        top_n: Union[int, None] = None,
        return_score: str = "relevance",
        api_key: Union[str, None] = None,
        **options: Any,
    ) -> None:
        self._start(
            {"model_name": model_name, "column": column, "top_n": top_n, "return_score": return_score,
             "api_key": api_key, **options}
        )


class JinaReranker(HostedDropIn):
    """Jina's Reranker API (rerankit-jina); extra keyword options go to the rerankit reranker."""

    rerankit_name = "jina"
    key_env = "JINA_API_KEY"

    def __init__(
        self,
        model_name: str = "jina-reranker-v2-base-multilingual",
        column: str = "text",
        top_n: Union[int, None] = None,
        return_score: str = "relevance",
        api_key: Union[str, None] = None,
        **options: Any,
    ) -> None:
        self._start(
            {"model_name": model_name, "column": column, "top_n": top_n, "return_score": return_score,
             "api_key": api_key, **options}
        )


class VoyageAIReranker(HostedDropIn):
    """Voyage AI's rerank API (rerankit-voyage); ``model_name`` is required, as in LanceDB."""

    rerankit_name = "voyage"
    key_env = "VOYAGE_API_KEY"
    truncation = Option()

    def __init__(
        self,
        model_name: str,
        column: str = "text",
        top_n: Optional[int] = None,
        return_score: str = "relevance",
        api_key: Optional[str] = None,
        truncation: Optional[bool] = True,
        **options: Any,
    ) -> None:
        if truncation is not None:  # None: the API's default, which is to truncate
            options["truncation"] = truncation
        self._start(
            {"model_name": model_name, "column": column, "top_n": top_n, "return_score": return_score,
             "api_key": api_key, **options}
        )


class OpenaiReranker(HostedDropIn):
    """A chat model asked for relevance scores (rerankit-openai). Rows are never rewritten by the
    model's answer; extra keyword options (``base_url``, ...) go to the rerankit reranker.

    ``model_name`` None means the openai plugin's default, a current model with structured outputs:
    LanceDB's default, ``gpt-4-turbo-preview``, predates the strict JSON schema the scores come in.
    """

    rerankit_name = "openai"
    key_env = "OPENAI_API_KEY"

    def __init__(
        self,
        model_name: Optional[str] = None,
        column: str = "text",
        return_score: str = "relevance",
        api_key: Optional[str] = None,
        **options: Any,
    ) -> None:
        if model_name is not None:
            options["model_name"] = model_name
        self._start({"column": column, "return_score": return_score, "api_key": api_key, **options})


# -- local models ------------------------------------------------------------------------------
class CrossEncoderReranker(DropIn):
    """A local sentence-transformers cross-encoder (rerankit-crossencoder).

    ``**kwargs`` are options of the ``crossencoder`` reranker (``max_length``, ``dtype``,
    ``top_n``, ...); LanceDB's ``model_kwargs={"torch_dtype": ...}`` becomes ``dtype``.
    ``trust_remote_code`` is off unless asked for.
    """

    rerankit_name = "crossencoder"
    _named = frozenset({"model_name", "column", "device", "return_score", "trust_remote_code", "batch_size"})
    model_name = Option()
    column = Option()
    trust_remote_code = Option()
    batch_size = Option()

    def __init__(
        self,
        model_name: str = "cross-encoder/ms-marco-TinyBERT-L-6",
        column: str = "text",
        device: Union[str, None] = None,
        return_score: str = "relevance",
        trust_remote_code: bool = False,
        batch_size: int = 32,
        **kwargs: Any,
    ) -> None:
        options = _model_kwargs_to_options(dict(kwargs))
        self._start(
            {"model_name": model_name, "column": column, "device": device, "return_score": return_score,
             "trust_remote_code": trust_remote_code, "batch_size": batch_size, **options}
        )

    def __str__(self) -> str:
        return f"CrossEncoderReranker(model_name={self.model_name})"

    @property
    def device(self) -> str:
        """The device the model runs on: the one asked for, else cuda, then mps, then cpu."""
        from rerankit.local import resolve_device

        return resolve_device(self.reranker.config.device)

    @device.setter
    def device(self, value: Optional[str]) -> None:
        self.reranker = reconfigured(self.reranker, {"device": value})

    @property
    def kwargs(self) -> dict[str, Any]:
        """The options set besides LanceDB's named arguments."""
        config = self.reranker.config
        return {name: getattr(config, name) for name in sorted(config.model_fields_set - self._named)}

    @property
    def model(self) -> Any:
        """The loaded sentence-transformers ``CrossEncoder`` (loaded on first access)."""
        loaded = self.reranker.scorer.model  # type: ignore[attr-defined]
        return getattr(loaded, "model", loaded)


def _model_kwargs_to_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    model_kwargs = kwargs.pop("model_kwargs", None)
    if model_kwargs is None:
        return kwargs
    model_kwargs = dict(model_kwargs)
    dtype = model_kwargs.pop("torch_dtype", model_kwargs.pop("dtype", None))
    if model_kwargs:
        raise ConfigError(
            f"CrossEncoderReranker: model_kwargs {sorted(model_kwargs)} are not supported; the "
            "crossencoder reranker takes dtype=, max_length=, backend=, quantize= as its own options"
        )
    if dtype is not None:
        kwargs["dtype"] = str(dtype).removeprefix("torch.")
    return kwargs


class AnswerdotaiRerankers(DropIn):
    """ColBERT late interaction (rerankit-colbert's ``answerdotai`` reranker); ``**kwargs`` are
    options of that reranker (``device``, ``batch_size``, ``dtype``, ...). Only
    ``model_type="colbert"`` exists here: cross-encoders are :class:`CrossEncoderReranker`."""

    rerankit_name = "answerdotai"
    model_name = Option()
    column = Option()

    def __init__(
        self,
        model_type: str = "colbert",
        model_name: str = "answerdotai/answerai-colbert-small-v1",
        column: str = "text",
        return_score: str = "relevance",
        **kwargs: Any,
    ) -> None:
        _require(
            model_type == "colbert",
            f"model_type={model_type!r} is not available",
            "rerankit's AnswerdotaiRerankers is ColBERT only (model_type='colbert'); for "
            "cross-encoders use CrossEncoderReranker, for hosted APIs CohereReranker, JinaReranker, ...",
        )
        self._start({"model_name": model_name, "column": column, "return_score": return_score, **kwargs})

    @property
    def model_type(self) -> str:
        return "colbert"

    def __str__(self) -> str:
        return f"AnswerdotaiRerankers(model_type={self.model_type}, model_name={self.model_name})"


class ColbertReranker(AnswerdotaiRerankers):
    """ColBERT late interaction (rerankit-colbert's ``colbert`` reranker); ``**kwargs`` are
    options of that reranker (``device``, ``batch_size``, ``dtype``, ...)."""

    rerankit_name = "colbert"

    def __init__(
        self,
        model_name: str = "colbert-ir/colbertv2.0",
        column: str = "text",
        return_score: str = "relevance",
        **kwargs: Any,
    ) -> None:
        self._start({"model_name": model_name, "column": column, "return_score": return_score, **kwargs})


#: Each drop-in class, by the name of the rerankit reranker behind it (parents before children).
DROP_INS: dict[str, type[DropIn]] = {
    cls.rerankit_name: cls
    for cls in (
        RRFReranker, LinearCombinationReranker, MRRReranker, CohereReranker, JinaReranker,
        VoyageAIReranker, OpenaiReranker, CrossEncoderReranker, AnswerdotaiRerankers, ColbertReranker,
    )
}

__all__ = ["DROP_INS", "DropIn", "Option", "reconfigured"]

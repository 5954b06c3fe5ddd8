"""The remote path: an OpenAI-compatible ``POST {base_url}/embeddings`` through rerankit's HTTP layer.

OpenAI, vLLM, Infinity, text-embeddings-inference and Ollama all serve this format: the body is
``{"model", "input": [texts], "encoding_format": "float"}`` (plus ``dimensions`` when set), the
answer ``{"data": [{"index", "embedding"}, ...]}``. Pooled clients, timeouts, retries on 408, 409,
429 (honouring ``retry-after``) and 5xx, typed errors and key handling are
:class:`rerankit.http.HTTPScorer`'s; this module plans the requests (every text once, at most
``batch_size`` inputs per request, sent concurrently through :meth:`HTTPScorer.request`, so each
is counted in the reranker's ``usage``) and checks every answer: one vector per
input, each index once, every vector finite and of one length (``dimensions`` when set), or a
:class:`~rerankit.ProviderResponseError`. No torch is imported on this path.

The key: ``api_key``, else the variable named by ``api_key_env``, else ``EMBEDDING_API_KEY``;
``OPENAI_API_KEY`` is read only for OpenAI's own host, so an OpenAI key is never sent to another
server. A self-hosted server needs no key.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from typing import Any, Optional
from urllib.parse import urlparse

import numpy as np

from rerankit import AuthenticationError, ProviderResponseError
from rerankit.http import HTTPScorer, afan_out, fan_out

from .config import EmbeddingConfig

OPENAI_HOST = "api.openai.com"


class RemoteEncoder(HTTPScorer):
    """Embeds texts with an OpenAI-compatible embeddings server (used by the ``embedding`` scorer)."""

    Config = EmbeddingConfig
    provider = "embedding"
    path = "/embeddings"
    api_key_env = ("EMBEDDING_API_KEY",)
    top_n_field = None

    config: EmbeddingConfig

    def __init__(self, config: EmbeddingConfig) -> None:
        openai = (urlparse(config.base_url or "").hostname or "") == OPENAI_HOST
        if openai:
            self.api_key_env = ("OPENAI_API_KEY",)  # read by HTTPScorer's key lookup
        super().__init__(config)
        if openai and self._api_key is None:
            raise AuthenticationError(
                f"{self.provider}: no API key for {OPENAI_HOST}; pass api_key=... or set "
                f"{' or '.join(self._key_envs())}",
                provider=self.provider,
            )

    # -- requests --------------------------------------------------------------------------------
    def body(self, texts: Sequence[str]) -> dict[str, Any]:
        """The JSON body asking for ``texts``' embeddings."""
        body: dict[str, Any] = {"model": self.config.model_name, "input": list(texts), "encoding_format": "float"}
        if self.config.dimensions is not None:
            body["dimensions"] = self.config.dimensions
        return body

    def _chunks(self, texts: Sequence[str]) -> list[Sequence[str]]:
        size = self.config.texts_per_batch()
        return [texts[i : i + size] for i in range(0, len(texts), size)]

    def embed(self, texts: Sequence[str], max_concurrency: Optional[int] = None) -> np.ndarray:
        """float32 ``[len(texts), dim]``: requests of ``batch_size`` inputs, sent concurrently
        (:func:`~rerankit.http.fan_out`: the first failure cancels the rest and is raised at once)."""
        chunks = self._chunks(texts)
        if not chunks:
            return np.empty((0, self.config.dimensions or 0), dtype=np.float32)

        def one(chunk: Sequence[str]) -> np.ndarray:
            return self.read(self.request(self.body(chunk), documents=len(chunk)), len(chunk))

        limit = max_concurrency or self.config.max_concurrency
        return self._joined(fan_out(one, chunks, limit, name="rerankit-embedding"))

    async def aembed(self, texts: Sequence[str], max_concurrency: Optional[int] = None) -> np.ndarray:
        """Async twin of :meth:`embed` (:func:`~rerankit.http.afan_out`: the first failure cancels
        the other requests and awaits their cancellation)."""
        chunks = self._chunks(texts)
        if not chunks:
            return np.empty((0, self.config.dimensions or 0), dtype=np.float32)

        async def one(chunk: Sequence[str]) -> np.ndarray:
            return self.read(await self.arequest(self.body(chunk), documents=len(chunk)), len(chunk))

        return self._joined(await afan_out(one, chunks, max_concurrency or self.config.max_concurrency))

    def requests_for_inputs(self, count: int) -> int:
        """How many requests embedding ``count`` inputs takes (``batch_size`` inputs each)."""
        return -(-count // self.config.texts_per_batch())

    def _joined(self, parts: Sequence[np.ndarray]) -> np.ndarray:
        dims = {p.shape[1] for p in parts}
        if len(dims) > 1:
            raise self._bad(f"requests answered vectors of different lengths ({sorted(dims)})")
        return np.concatenate(parts)

    # -- answers ---------------------------------------------------------------------------------
    def _bad(self, problem: str) -> ProviderResponseError:
        return ProviderResponseError(f"{self.provider}: bad answer from {self.url}: {problem}", provider=self.provider)

    def read(self, data: Any, count: int) -> np.ndarray:
        """The ``count`` vectors of an answer, in input order, checked (see the module docstring)."""
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            keys = ", ".join(map(str, data)) if isinstance(data, dict) else type(data).__name__
            raise self._bad(f"expected a JSON object with a 'data' list of embeddings, got {keys}")
        items = data["data"]
        if len(items) != count:
            raise self._bad(f"{len(items)} embeddings for {count} inputs")
        rows: list[Optional[list[float]]] = [None] * count
        for pos, item in enumerate(items):
            if not isinstance(item, dict) or "embedding" not in item:
                raise self._bad(f"item {pos} of 'data' has no 'embedding': {str(item)[:80]}")
            index = item.get("index", pos)
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
                raise self._bad(f"item {pos} has index {index!r}; expected an integer in 0..{count - 1}")
            if rows[index] is not None:
                raise self._bad(f"input {index} has more than one embedding")
            rows[index] = self._vector(item["embedding"], index)
        dims = {len(r) for r in rows if r is not None}
        if len(dims) != 1:
            raise self._bad(f"embeddings of different lengths ({', '.join(map(str, sorted(dims)))})")
        (dim,) = dims
        want = self.config.dimensions
        if want is not None and dim != want:
            raise self._bad(f"{dim}-dimensional embeddings, but dimensions={want} was asked for")
        return np.asarray(rows, dtype=np.float32)

    def _vector(self, value: Any, index: int) -> list[float]:
        if isinstance(value, str):  # a server answering base64 anyway: little-endian float32
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise self._bad(f"the embedding of input {index} is a string but not base64") from None
            if len(raw) % 4:
                raise self._bad(f"the base64 embedding of input {index} is not a float32 array")
            value = np.frombuffer(raw, dtype="<f4").tolist()
        if not isinstance(value, list) or not value:
            raise self._bad(f"the embedding of input {index} is not a non-empty list of numbers")
        for x in value:
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
                raise self._bad(f"the embedding of input {index} holds {x!r}, not a finite number")
        return value

"""rerankit's HTTP layer for hosted rerankers (extra ``rerankit[http]``: httpx + tenacity).

A hosted plugin is a config model plus a request builder and a response parser::

    class AcmeConfig(HTTPConfig):
        model_name: str = "acme-rerank-1"
        base_url: str = "https://api.acme.example"

    class AcmeScorer(HTTPScorer):
        Config = AcmeConfig
        provider, path, api_key_env = "acme", "/v1/rerank", ("ACME_API_KEY",)

        def build_request(self, query, texts):
            return {"model": self.config.model_name, "query": query, "documents": texts}

        def parse_response(self, data):
            return ranked(data, "results", score_key="relevance_score")

Pooling, timeouts, retries, splitting, concurrency, answer checks and typed errors come from
:class:`HTTPScorer`; override ``auth_headers`` for a key sent other than as a Bearer token, and
``split`` (with :func:`pack`) for a per-request budget beyond ``batch_size``. Requests of a
plugin's own (another endpoint, a loop of dependent requests) go through
:meth:`HTTPScorer.request` / :meth:`HTTPScorer.arequest`, so they are retried, checked and counted
in the reranker's ``usage`` like the rest; :func:`fan_out` / :func:`afan_out` send many at once
(the first failure cancels the others). Importing this package does not import httpx; the first
request does.
"""

from __future__ import annotations

from ._config import HTTPConfig
from ._errors import error_message, safe_headers
from ._fanout import afan_out, fan_out
from ._limits import pack
from ._responses import check_ranking, ranked
from ._retry import retry_after_seconds, retryable_status
from ._scorer import HTTPScorer

__all__ = [
    "HTTPConfig",
    "HTTPScorer",
    "afan_out",
    "check_ranking",
    "error_message",
    "fan_out",
    "pack",
    "ranked",
    "retry_after_seconds",
    "retryable_status",
    "safe_headers",
]

"""rerankit.serve: any rerankit reranker behind the rerank APIs clients already speak.

Needs the extra ``rerankit[serve]`` (Starlette and uvicorn). ``rerankit serve`` starts it from the
command line; in Python::

    from rerankit.serve import create_app, load_models, run

    models = load_models("serve.toml")          # one table per served model
    run(create_app(models), port=8080)           # or: uvicorn with create_app(...) as the app

Routes: ``POST /v2/rerank`` (Cohere v2), ``POST /v1/rerank`` (Jina, vLLM, Infinity),
``POST /rerank`` (text-embeddings-inference), ``GET /v1/models``, ``GET /health`` (live),
``GET /ready`` (models loaded), ``GET /metrics`` (Prometheus), ``GET /openapi.json``. :func:`ray_app` builds the same
app as a Ray Serve deployment with N replicas.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Optional, Union

try:
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised where the extra is missing
    raise ImportError("rerankit.serve needs Starlette and uvicorn: pip install 'rerankit[serve]'") from exc

from starlette.applications import Starlette
from starlette.routing import Route

from .._reranker import Reranker
from .._serve_settings import API_KEY_ENV, Batching, Limits, ServeSettings, api_keys_from
from ._models import FUSION_FIELDS, ServedModel, build_models, read_models, split_models
from ._ray import ray_app
from ._service import ROUTES, RerankService

Models = Mapping[str, Union[ServedModel, Reranker]]


def load_models(
    source: Union[str, Path, Mapping[str, Any]], batching: Optional[Batching] = None
) -> dict[str, ServedModel]:
    """Build the models a config file (or mapping of the same shape) names: one table per served name."""
    specs = split_models(source) if isinstance(source, Mapping) else read_models(source)
    return build_models(specs, batching or Batching())


def _served(models: Models, batching: Batching) -> dict[str, ServedModel]:
    return {
        name: m if isinstance(m, ServedModel) else ServedModel(name, m, batching) for name, m in models.items()
    }


def create_service(models: Models, settings: Optional[ServeSettings] = None) -> RerankService:
    """The rerank service (routes' logic) for these models, without a web stack around it."""
    settings = settings or ServeSettings()
    return RerankService(_served(models, settings.batching), settings)


def create_app(models: Models, settings: Optional[ServeSettings] = None, *, warm_up: bool = True) -> Starlette:
    """The ASGI app serving ``models`` ({served name: ServedModel or reranker}).

    Startup creates the queues and loads local models in the background (``/ready`` answers 200
    once they are loaded); shutdown runs after the server finished its in-flight requests.
    The service is ``app.state.service`` (its ``metrics`` are read by tests and benchmarks).
    """
    service = create_service(models, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.startup(warm_up=warm_up)
        try:
            yield
        finally:
            await service.shutdown()

    routes = [Route(path, service.dispatch, methods=["POST"]) for path in ROUTES]
    routes += [
        Route("/v1/models", service.list_models, methods=["GET"]),
        Route("/health", service.health, methods=["GET"]),
        Route("/ready", service.readiness, methods=["GET"]),
        Route("/metrics", service.metrics_text, methods=["GET"]),
        Route("/openapi.json", service.openapi, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    return app


def run(
    app: Starlette,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    shutdown_timeout: float = 30.0,
    log_level: str = "info",
) -> None:
    """Serve ``app`` with uvicorn until SIGINT/SIGTERM; in-flight requests finish first
    (at most ``shutdown_timeout`` seconds)."""
    import uvicorn

    uvicorn.run(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=shutdown_timeout,
        access_log=False,
    )


__all__ = [
    "API_KEY_ENV",
    "FUSION_FIELDS",
    "Batching",
    "Limits",
    "RerankService",
    "ServeSettings",
    "ServedModel",
    "api_keys_from",
    "create_app",
    "create_service",
    "load_models",
    "ray_app",
    "run",
]

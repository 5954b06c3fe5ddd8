"""The same service as a Ray Serve deployment: N replicas, each with its own models and batching.

Ray Serve (``pip install 'ray[serve]'``) owns the HTTP proxy, routing, replica placement and
restarts; each replica builds the served models from their names and configs (hosted keys are
read from the replica's environment) and answers every path through
:meth:`RerankService.dispatch`, so its routes, limits and error bodies are those of
``rerankit serve``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, Union

from .._reranker import Reranker
from .._serve_settings import ServeSettings
from ._models import ServedModel, build_models, read_models, split_models
from ._service import RerankService


class _Replica:
    """One replica: the service, built inside the replica's process."""

    def __init__(self, specs: dict[str, Any], settings: ServeSettings) -> None:
        models = {
            name: spec if isinstance(spec, ServedModel) else ServedModel(name, spec, settings.batching)
            for name, spec in specs.items() if isinstance(spec, (ServedModel, Reranker))
        }
        if not models:
            models = build_models(specs, settings.batching)
        self.service = RerankService(models, settings)
        self.service.watch_disconnects = False  # Ray's proxy, not the client, holds the connection
        try:
            from ray import serve

            self.replica = str(serve.get_replica_context().replica_id.unique_id)
        except Exception:  # outside a replica (unit use)
            self.replica = "local"

    async def __call__(self, request: Any) -> Any:
        response = await self.service.dispatch(request)
        response.headers["x-rerankit-replica"] = self.replica
        return response


def ray_app(
    source: Union[str, Path, Mapping[str, Any]],
    settings: Optional[ServeSettings] = None,
    *,
    replicas: int = 1,
    num_cpus: float = 1,
    num_gpus: float = 0,
    name: str = "rerankit",
) -> Any:
    """A Ray Serve application serving the models of ``source``: a serve config file, a mapping of
    the same shape, or ``{served name: reranker}`` (rerankers pickle to the replicas: by name and
    config when the registry built them, so hosted keys are read from each replica's environment).

    ``replicas`` copies, each reserving ``num_cpus`` CPUs and ``num_gpus`` GPUs (a fraction shares
    a GPU). Run it with ``ray.serve.run(ray_app(...))`` on a cluster (``ray.init(address="auto")``).
    """
    from ray import serve

    if isinstance(source, Mapping) and all(isinstance(v, (Reranker, ServedModel)) for v in source.values()):
        specs: dict[str, Any] = dict(source)
    else:
        specs = split_models(source) if isinstance(source, Mapping) else read_models(source)
    deployment = serve.deployment(
        _Replica,
        name=name,
        num_replicas=replicas,
        ray_actor_options={"num_cpus": num_cpus, "num_gpus": num_gpus},
    )
    return deployment.bind(specs, settings or ServeSettings())


__all__ = ["ray_app"]

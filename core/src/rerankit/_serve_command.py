"""The ``rerankit serve`` command: its options, and starting uvicorn or Ray Serve.

Nothing of the server (Starlette, uvicorn, Ray) is imported until the command runs, so the other
commands work without the ``rerankit[serve]`` extra.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._errors import ConfigError
from ._serve_settings import Batching, Limits, ServeSettings


def add_command(commands: Any, positive_int: Any) -> None:
    """Add ``serve`` to the ``rerankit`` parser's subcommands."""
    sv = commands.add_parser(
        "serve",
        help="serve rerankers over HTTP in the Cohere, Jina/vLLM/Infinity and TEI rerank APIs",
        description="Serve the rerankers of a config file (one table per served model name: reranker = \"NAME\" "
        "plus options) or one --reranker, at POST /v2/rerank (Cohere v2), /v1/rerank (Jina, vLLM, Infinity) "
        "and /rerank (text-embeddings-inference), with GET /v1/models, /health, /ready and /metrics. "
        "Concurrent requests to a local model share forward batches. Needs: pip install 'rerankit[serve]'.",
    )
    sv.add_argument("-c", "--config", metavar="FILE", help="serve config (.toml/.json): one table per served model")
    sv.add_argument("-r", "--reranker", metavar="NAME", help="serve this one registered reranker instead")
    sv.add_argument("-s", "--set", action="append", default=[], metavar="KEY=VALUE",
                    help="an option of --reranker (VALUE read as JSON when it parses)")
    sv.add_argument("--model-name", metavar="NAME", help="the model name clients send for --reranker "
                    "(default: the reranker's name)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0: all)")
    sv.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    sv.add_argument("--api-key", action="append", metavar="KEY",
                    help="require 'Authorization: Bearer KEY' (repeatable; default: RERANKIT_SERVE_API_KEY, "
                    "comma-separated; an empty KEY is refused)")
    sv.add_argument("--no-auth", action="store_true",
                    help="serve without a key even when RERANKIT_SERVE_API_KEY is set (not with --api-key)")
    limits = sv.add_argument_group("limits")
    # the defaults are the settings' own (_serve_settings.py), never restated here
    limits.add_argument("--max-documents", type=positive_int, default=Limits.max_documents, metavar="N",
                        help="documents per request (default %(default)s)")
    limits.add_argument("--max-body-bytes", type=positive_int, default=Limits.max_body_bytes, metavar="N",
                        help="request body size (default %(default)s)")
    limits.add_argument("--max-text-chars", type=positive_int, default=Limits.max_text_chars, metavar="N",
                        help="characters per document and query (default %(default)s)")
    limits.add_argument("--timeout", type=_seconds(positive=True), default=Limits.request_timeout,
                        metavar="SECONDS", help="request timeout: past it the client gets a 504 (default %(default)s)")
    limits.add_argument("--max-queue-documents", type=positive_int, default=Limits.max_queue_documents,
                        metavar="N", help="documents waiting per model before requests get a 503 (default %(default)s)")
    limits.add_argument("--shutdown-timeout", type=_seconds(), default=30.0, metavar="SECONDS",
                        help="on SIGTERM/SIGINT, wait this long for in-flight requests (default 30)")
    batching = sv.add_argument_group("batching across requests (local models)")
    batching.add_argument("--no-batching", action="store_true", help="score each request alone")
    batching.add_argument("--batch-wait-ms", type=_seconds(), default=Batching.max_wait_ms, metavar="MS",
                          help="longest wait for other requests to join a batch (default %(default)s)")
    batching.add_argument("--max-batch-documents", type=positive_int, default=Batching.max_documents, metavar="N",
                          help="documents per merged batch (default %(default)s)")
    batching.add_argument("--threads", type=positive_int, default=ServeSettings.threads_per_model, metavar="N",
                          help="worker threads (concurrent batches) per local model (default %(default)s)")
    scale = sv.add_argument_group("scale-out (--engine ray)")
    scale.add_argument("--engine", choices=["local", "ray"], default="local",
                       help="uvicorn in this process, or Ray Serve replicas (default local)")
    scale.add_argument("--replicas", type=positive_int, default=1, metavar="N", help="Ray Serve replicas (default 1)")
    scale.add_argument("--num-cpus", type=float, default=1, metavar="C", help="CPUs per replica (default 1)")
    scale.add_argument("--num-gpus", type=float, default=0, metavar="G", help="GPUs per replica (default 0)")
    sv.set_defaults(func=run_command)


def _seconds(positive: bool = False) -> Any:
    """An argparse type: a finite number, more than 0 (``positive``) or at least 0."""
    import math

    def read(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            bound = "more than 0" if positive else "0 or more"
            raise argparse.ArgumentTypeError(f"expected a finite number, {bound}; got {text!r}")
        return value

    return read


def model_specs(args: argparse.Namespace) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """The served models the options name: ``{served name: (reranker config, serve options)}``."""
    if bool(args.config) == bool(args.reranker):
        raise ConfigError("name what to serve: --config FILE (one table per served model) or --reranker NAME")
    if args.config:
        from .serve._models import read_models

        if args.set or args.model_name:
            raise ConfigError("--set and --model-name go with --reranker; put options in the config file's tables")
        return read_models(args.config)
    options: dict[str, Any] = {"reranker": args.reranker}
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE (e.g. --set top_n=5), got {item!r}")
        try:
            options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip()] = raw
    from .serve._models import split_models

    return split_models({args.model_name or args.reranker: options}, "--reranker")


def _keys(args: argparse.Namespace, serve: Any) -> tuple[str, ...]:
    if args.no_auth and args.api_key:
        raise ConfigError("--no-auth and --api-key contradict each other; keep one")
    return () if args.no_auth else serve.api_keys_from(args.api_key)


def run_command(args: argparse.Namespace) -> int:
    """Start the server; returns when it stops (SIGINT/SIGTERM)."""
    try:
        from . import serve
    except ImportError as exc:
        raise ConfigError(str(exc)) from None
    specs = model_specs(args)
    settings = serve.ServeSettings(
        limits=serve.Limits(
            max_documents=args.max_documents, max_body_bytes=args.max_body_bytes,
            max_text_chars=args.max_text_chars, request_timeout=args.timeout,
            max_queue_documents=args.max_queue_documents,
        ),
        batching=serve.Batching(
            enabled=False if args.no_batching else None, max_wait_ms=args.batch_wait_ms,
            max_documents=args.max_batch_documents,
        ),
        api_keys=_keys(args, serve),
        threads_per_model=args.threads,
    )
    names = ", ".join(specs)
    if args.engine == "ray":
        import ray
        from ray import serve as ray_serve

        ray.init()
        ray_serve.start(http_options={"host": args.host, "port": args.port})
        app = serve.ray_app(specs, settings, replicas=args.replicas, num_cpus=args.num_cpus, num_gpus=args.num_gpus)
        print(f"rerankit serve: {names} on Ray Serve, {args.replicas} replica(s), "
              f"http://{args.host}:{args.port}", file=sys.stderr)
        ray_serve.run(app, route_prefix="/", blocking=True)
        return 0
    from .serve._models import build_models

    app = serve.create_app(build_models(specs, settings.batching), settings)
    auth = "API key required" if settings.api_keys else "no API key"
    print(f"rerankit serve: {names} at http://{args.host}:{args.port} ({auth})", file=sys.stderr)
    serve.run(app, args.host, args.port, shutdown_timeout=args.shutdown_timeout)
    return 0


__all__ = ["add_command", "model_specs", "run_command"]

"""Batch reranking on Ray Data (extra ``rerankit[ray]``): every query's candidates, on any cluster.

:func:`rerank_dataset` takes a ``ray.data.Dataset`` with one row per candidate and returns one
with the same rows reranked within each query (``_relevance_score``, ``_rank``, ``top_n`` per
query); the grouping rules are those of :mod:`rerankit.batch`, which this module only binds to
Ray. How it runs:

1. ``groupby(group_column)`` shuffles each query's rows together, and a light task packs each
   group into one row (its rows as Arrow IPC bytes), so no later step can split a group;
2. the packed rows are cut into blocks of ``batch_size`` groups, and ``map_batches`` hands them
   to a pool of actors, one block per call; each actor rebuilds the reranker once, from its
   registered name and public config (secrets are read from the actor's environment, never
   pickled), so a model loads once per actor, and reranks the whole batch in one call (a hosted
   scorer's requests go out concurrently).

A failing row fails the job with the rerankit error: Ray raises it as an instance of the same
class (``except rerankit.InputError`` catches it; ``exc.cause`` is the error the worker raised).
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional, Union

import pyarrow as pa

try:
    import ray
    import ray.data
except ImportError as exc:  # pragma: no cover - exercised by the packaging tests
    raise ImportError(f"rerankit.ray needs Ray Data ({exc}); install it with: pip install 'rerankit[ray]'") from exc

from ._errors import ConfigError, InputError, RerankitError
from ._inputs import require_column
from .batch import GROUP_FIX, GroupReranker, RerankerLike, _positive

#: The column of a packed dataset: one row per group, the group's rows as an Arrow IPC stream.
PACKED = "_rerankit_group"

Concurrency = Union[int, tuple[int, int], tuple[int, int, int]]


def rerank_dataset(
    ds: ray.data.Dataset,
    reranker: RerankerLike,
    *,
    query_column: str = "query",
    group_column: str = "query_id",
    source_column: str = "source",
    fts: Optional[ray.data.Dataset] = None,
    batch_size: int = 64,
    concurrency: Optional[Concurrency] = None,
    num_gpus: float = 0,
    max_concurrency: int = 16,
    num_partitions: Optional[int] = None,
    **map_batches_options: Any,
) -> ray.data.Dataset:
    """Rerank every group of ``ds`` (one query's candidates) on Ray Data; lazy, like any Dataset.

    The output holds each group's rows together, best first (the order of the groups is Ray's).

    ``reranker``: a built reranker, a registered name, a config mapping or a .toml/.json path,
    built here on the driver (so a bad config fails now) and rebuilt once per actor.
    ``fts``: a second dataset of full-text candidates; ``ds`` then holds the vector candidates
    and each query's two lists are fused (``source_column`` is set to "vector"/"fts"; both
    datasets take one schema, which may read their first block now).
    ``batch_size``: groups per reranker call. ``concurrency``: at most ``n`` actors (the pool
    starts with one and grows while batches wait), or ``(min, max)``. ``num_gpus``: GPUs per
    actor. ``max_concurrency``: requests in flight per actor for a hosted scorer.
    ``num_partitions``: partitions of Ray's hash shuffle by query (Ray's default, 200, when None;
    fewer suit a small cluster). Other keyword arguments go to the reranking step's
    ``map_batches`` (``num_cpus``, ``runtime_env``, ...).
    """
    groups = GroupReranker(
        reranker,
        query_column=query_column,
        group_column=group_column,
        source_column=source_column,
        max_concurrency=max_concurrency,
    )
    _positive(batch_size, "batch_size")
    blob = _portable(groups)
    if fts is None:
        checked = _prepared(ds, group_column, source_column, None, None)
    else:
        schema = _two_sided(ds, fts, source_column)
        checked = _prepared(ds, group_column, source_column, "vector", schema).union(
            _prepared(fts, group_column, source_column, "fts", schema)
        )
    packed = checked.groupby(group_column, num_partitions=num_partitions).map_groups(pack_group, batch_format="pyarrow")
    # One block per batch: a task (one actor's work) takes whole blocks, so a shuffle that made few
    # large blocks would otherwise leave all but one actor idle.
    packed = packed.repartition(target_num_rows_per_block=batch_size)
    options = dict(map_batches_options)
    if concurrency is not None:
        options.setdefault("compute", _pool(concurrency))
    if num_gpus:
        options["num_gpus"] = num_gpus
    return packed.map_batches(
        RerankWorker,
        fn_constructor_args=(blob,),
        batch_size=batch_size,
        batch_format="pyarrow",
        zero_copy_batch=True,
        **options,
    )


def _require_parquet(path: Path) -> None:
    """InputError unless ``path`` is a Parquet file, or a directory holding Parquet files."""
    import pyarrow.parquet as pq

    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and not p.name.startswith(("_", "."))  # not _SUCCESS
    )[:1]
    if not files:
        raise InputError(f"input '{path}' is an empty directory; pass a Parquet file or a directory of them")
    try:
        pq.read_metadata(files[0])
    except Exception:
        raise InputError(
            f"input '{files[0]}' is not a Parquet file; the ray engine reads Parquet only: convert it first "
            "(e.g. pyarrow.parquet.write_table(table, 'candidates.parquet'))"
        ) from None


def rerank_parquet(
    path: str,
    output: str,
    reranker: RerankerLike,
    *,
    fts_path: Optional[str] = None,
    progress: bool = True,
    **options: Any,
) -> int:
    """Read Parquet (a file or a directory), rerank with :func:`rerank_dataset`, write Parquet.

    ``output`` is a new (or empty) directory that receives one file per output block; returns the
    number of rows written. Uses the running Ray runtime, or starts one (``RAY_ADDRESS`` joins a
    cluster). A rerankit error raised on a worker is raised here as itself, without Ray's wrapping.
    """
    for given in (path, fts_path):
        if given is not None and not Path(given).exists():
            raise InputError(f"input '{given}' does not exist; pass a Parquet file or a directory of them")
        if given is not None:
            _require_parquet(Path(given))
    target = Path(output)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"output '{output}' already exists and is not an empty directory; name a new directory")
    if not ray.is_initialized():
        ray.init()
    context = ray.data.DataContext.get_current()
    shown, context.enable_progress_bars = context.enable_progress_bars, progress
    try:  # each dataset keeps a copy of the context it was made with
        fts = None if fts_path is None else ray.data.read_parquet(fts_path)
        out = rerank_dataset(ray.data.read_parquet(path), reranker, fts=fts, **options)
    finally:
        context.enable_progress_bars = shown
    try:
        out.write_parquet(output)
    except RerankitError as exc:  # Ray's RayTaskError(<the rerankit error>)
        raise _unwrapped(exc) from None
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(f).num_rows for f in target.rglob("*.parquet"))


# -- the steps of the pipeline -------------------------------------------------------------------
def pack_group(group: pa.Table) -> pa.Table:
    """One group's rows as one row (an Arrow IPC stream), so later steps move it whole."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, group.schema) as writer:
        writer.write_table(group)
    return pa.table({PACKED: pa.array([sink.getvalue().to_pybytes()], pa.large_binary())})


def unpack_groups(batch: pa.Table) -> list[pa.Table]:
    """The groups of a batch of packed rows, in order."""
    return [
        pa.ipc.open_stream(value.as_buffer()).read_all()
        for chunk in batch[PACKED].chunks
        for value in chunk
    ]


class RerankWorker:
    """A Ray Data actor: rebuilds the reranker once (on its first batch), then reranks batches.

    ``blob`` is the pickled :class:`~rerankit.batch.GroupReranker`; unpickling it rebuilds the
    reranker by name and config, reading secrets from this worker's environment.
    """

    def __init__(self, blob: bytes) -> None:
        self._blob = blob
        self._groups: Optional[GroupReranker] = None
        self._lock = threading.Lock()  # an actor may be given concurrent calls

    def __call__(self, batch: pa.Table) -> Iterator[pa.Table]:
        with _raised_as_is():
            groups = unpack_groups(batch)
            if groups:  # a shuffle partition without groups yields no block (not one without columns)
                yield self._reranker().rerank_groups(groups)

    def _reranker(self) -> GroupReranker:
        with self._lock:
            if self._groups is None:
                self._groups = ray.cloudpickle.loads(self._blob)
            return self._groups


def _check_rows(
    batch: Union[pa.Table, pa.RecordBatch],
    group_column: str,
    source_column: str,
    source: Optional[str],
    schema: Optional[pa.Schema],
) -> pa.Table:
    """Every row has a group id; with two datasets, each row is marked with its search and both
    sides take one schema (so that every block, and every output, has the same columns)."""
    with _raised_as_is():
        if isinstance(batch, pa.RecordBatch):  # a dataset made from record batches hands them on as such
            batch = pa.Table.from_batches([batch])
        nulls = require_column(batch, group_column, "ds", GROUP_FIX).null_count
        if nulls:
            raise InputError(f"ds column '{group_column}' has {nulls} null value(s); every row needs its query's id")
        if source is None:
            return batch
        if batch.schema.get_field_index(source_column) >= 0:
            raise _source_taken(source_column, "ds" if source == "vector" else "fts")
        batch = batch.append_column(source_column, pa.array([source] * batch.num_rows, pa.string()))
        return batch if schema is None else _conformed(batch, schema)


def _prepared(
    ds: ray.data.Dataset, group_column: str, source_column: str, source: Optional[str], schema: Optional[pa.Schema]
) -> ray.data.Dataset:
    return ds.map_batches(
        _check_rows,
        batch_format="pyarrow",
        batch_size=None,
        zero_copy_batch=True,
        fn_kwargs={"group_column": group_column, "source_column": source_column, "source": source, "schema": schema},
    )


def _two_sided(ds: ray.data.Dataset, fts: ray.data.Dataset, source_column: str) -> Optional[pa.Schema]:
    """The schema both datasets take: the vector side's columns, then the full-text side's others,
    then the source column; None where Ray cannot tell a schema."""
    schemas = [getattr(d.schema(), "base_schema", None) for d in (ds, fts)]
    if not all(isinstance(s, pa.Schema) for s in schemas):
        return None
    for schema, argument in zip(schemas, ("ds", "fts")):
        if schema.get_field_index(source_column) >= 0:
            raise _source_taken(source_column, argument)
    try:
        unified = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(f"ds and fts do not share their columns' types ({exc}); cast one side") from None
    return unified.append(pa.field(source_column, pa.string()))


def _conformed(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, in its order (nulls where it has none)."""
    columns = []
    for field in schema:
        i = table.schema.get_field_index(field.name)
        column = table.column(i) if i >= 0 else pa.nulls(table.num_rows, field.type)
        columns.append(column if column.type == field.type else column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _source_taken(source_column: str, argument: str) -> InputError:
    return InputError(
        f"{argument} already has a column '{source_column}'; with fts= rerank_dataset marks each row with "
        "its search there. Drop or rename it, or pass source_column= naming a free column"
    )


# -- helpers -------------------------------------------------------------------------------------
def _portable(groups: GroupReranker) -> bytes:
    """The pickled GroupReranker, refused if a secret of the reranker's config is in it."""
    try:
        blob = ray.cloudpickle.dumps(groups)  # as Ray ships functions: a class from __main__ travels by value
    except Exception as exc:
        raise ConfigError(
            f"reranker '{groups.reranker.name}' cannot be sent to Ray's workers ({exc}); build it with "
            "rerankit.get_reranker, or pass its name or config"
        ) from exc
    config = groups.reranker.config
    for name in type(config).model_fields:
        value = getattr(config, name)
        secret = getattr(value, "get_secret_value", None)
        raw = secret() if secret is not None else None
        if isinstance(raw, str):
            raw = raw.encode()
        if raw and raw in blob:
            raise ConfigError(
                f"reranker '{groups.reranker.name}' would carry its {name} to every worker inside the pickled "
                "object; build it with rerankit.get_reranker (or pass its name or config) so that each worker "
                "reads the secret from its environment, e.g. ray.init(runtime_env={'env_vars': {...}})"
            )
    return blob


def _pool(concurrency: Concurrency) -> ray.data.ActorPoolStrategy:
    """``n``: one actor at first, up to ``n`` (a fixed pool of ``n`` would hold its CPUs from the
    start, and on a cluster of ``n`` CPUs starve the shuffle that feeds it)."""
    if isinstance(concurrency, int) and not isinstance(concurrency, bool) and concurrency >= 1:
        return ray.data.ActorPoolStrategy(min_size=1, max_size=concurrency)
    if isinstance(concurrency, tuple) and len(concurrency) in (2, 3) and all(isinstance(c, int) for c in concurrency):
        sizes = dict(zip(("min_size", "max_size", "initial_size"), concurrency))
        return ray.data.ActorPoolStrategy(**sizes)
    raise ConfigError(f"concurrency must be a number of actors or a (min, max) pair; got {concurrency!r}")


@contextlib.contextmanager
def _raised_as_is() -> Iterator[None]:
    """Let a rerankit error leave this task as itself (class, message, attributes).

    Ray Data wraps a UDF's exception in a UserCodeException and loses it on the way to the
    driver, unless the task's DataContext says ``raise_original_map_exception``; that is set on
    this task's context only when a rerankit error is on its way out. The error also becomes a
    UserCodeException (:func:`_from_user_code`), so that the driver reports it as an error in
    user code, with the abbreviated trace, rather than as a failure of Ray itself.
    """
    try:
        yield
    except RerankitError as exc:
        ray.data.DataContext.get_current().raise_original_map_exception = True
        raise _from_user_code(exc) from None


_USER_CODE_TWINS: dict[type, type] = {}


def _from_user_code(exc: RerankitError) -> RerankitError:
    """The same error as an instance of a subclass of both its class and Ray's UserCodeException."""
    from ray.exceptions import UserCodeException

    cls = type(exc)
    twin = _USER_CODE_TWINS.get(cls)
    if twin is None:  # named like its class, so that tracebacks read the same
        names = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}
        twin = _USER_CODE_TWINS[cls] = type(cls.__name__, (cls, UserCodeException), names)
    error = copy.copy(exc)
    error.__class__ = twin
    return error


def _unwrapped(exc: RerankitError) -> RerankitError:
    """The error the worker raised, as its own class, without the retry note Ray Data appends."""
    cause = getattr(exc, "cause", None)
    error = copy.copy(cause if isinstance(cause, RerankitError) else exc)
    from ray.exceptions import RayError

    while issubclass(type(error), RayError):  # the twin made by _from_user_code, or Ray's RayTaskError(...)
        error.__class__ = next(c for c in type(error).__bases__ if issubclass(c, RerankitError))
    message = str(error.args[0]) if error.args else str(error)
    error.args = (message.split("\nFailed to apply UDF transform", 1)[0], *error.args[1:])
    return error


__all__ = ["rerank_dataset", "rerank_parquet"]

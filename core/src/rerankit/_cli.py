"""The ``rerankit`` command: list installed rerankers, rerank a results file, evaluate, tune, run the demo.

    rerankit plugins
    rerankit rerank --reranker rrf --query "fuse rankings" --input results.parquet --top-n 5
    rerankit rerank --config reranker.toml --set top_n=3 --query "..." --input in.jsonl --output out.csv
    rerankit eval cranfield --reranker rrf --config recipe.toml --output results.json
    rerankit tune path/to/beir-collection cranfield --output recipe.toml
    rerankit calibrate cranfield --reranker embedding --method isotonic --output calibrated.toml --plot rel.png
    rerankit rerank --engine ray --reranker cohere --input candidates.parquet --output reranked/
    rerankit demo
    rerankit serve --config serve.toml --port 8080
    rerankit export embedding sentence-transformers/all-MiniLM-L6-v2 --backend onnx --out minilm-onnx

Errors the user can fix (any :class:`~rerankit.RerankitError`, unreadable files, bad options) are
one line on stderr and exit code 1; usage mistakes exit with 2. Nothing heavy is imported until a
command needs it: ``plugins`` and ``rerank`` never import lancedb or torch.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import pyarrow as pa

from ._errors import RerankitError
from ._version import __version__

PROG = "rerankit"


class UsageError(Exception):
    """A mistake in the command line itself (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr, like every other error here."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (exposed for documentation and tests)."""
    parser = _Parser(
        prog=PROG, description="Pluggable reranking: list rerankers, rerank files, evaluate and tune, run the demo."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log what rerankit does (retries, plugins)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    plugins = commands.add_parser("plugins", help="list installed rerankers and plugins that failed to load")
    plugins.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    plugins.set_defaults(func=_cmd_plugins)

    rerank = commands.add_parser(
        "rerank",
        help="rerank the rows of a file for a query",
        description="Rerank the rows of a .jsonl, .csv, .parquet or Arrow (.arrow/.feather/.ipc) file. "
        "Writes the rows with _relevance_score, best first, to --output (format from its extension) "
        "or as a table on the terminal.",
    )
    rerank.add_argument(
        "-r", "--reranker", metavar="NAME", help="registered reranker (see 'rerankit plugins')"
    )
    rerank.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help='reranker config, .toml or .json (reranker = "NAME" plus options)',
    )
    rerank.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a config option; VALUE is read as JSON when it parses (3, 0.5, true, null), else as text",
    )
    rerank.add_argument("-q", "--query", help="the query text (with --engine ray, each row's --query-column)")
    rerank.add_argument("-i", "--input", required=True, metavar="FILE", help="results to rerank")
    rerank.add_argument(
        "--fts-input",
        metavar="FILE",
        help="full-text results: --input is then the vector results and both are fused (rerank_hybrid)",
    )
    rerank.add_argument(
        "--input-format", choices=["jsonl", "csv", "parquet", "arrow"], help="override the extension"
    )
    rerank.add_argument("--column", help="column holding the text (config option 'column'; default text)")
    rerank.add_argument("-n", "--top-n", type=_positive_int, metavar="N", help="keep the best N rows")
    rerank.add_argument(
        "-o", "--output", metavar="FILE", help="write here ('-' for stdout) instead of a table"
    )
    rerank.add_argument(
        "--format",
        choices=["jsonl", "csv", "parquet", "arrow", "table"],
        help="output format (default: from --output's extension, else a table)",
    )
    batch = rerank.add_argument_group(
        "many queries at once (--engine ray)",
        "Rerank every query's candidates of a Parquet file or directory on Ray Data (one row per candidate, "
        "each query's rows reranked together) and write Parquet files to the --output directory. Starts a "
        "local Ray runtime, or joins the cluster named by RAY_ADDRESS.",
    )
    batch.add_argument("--engine", choices=["local", "ray"], default="local", help="where to rerank (default local)")
    batch.add_argument("--query-column", default="query", metavar="NAME", help="column of each query's text")
    batch.add_argument("--group-column", default="query_id", metavar="NAME", help="column of each query's id")
    batch.add_argument("--batch-size", type=_positive_int, default=64, metavar="N", help="queries per reranker call")
    batch.add_argument("--concurrency", type=_positive_int, metavar="N", help="at most N reranking actors")
    batch.add_argument("--num-gpus", type=float, default=0, metavar="G", help="GPUs per actor (default 0)")
    batch.add_argument("--no-progress", action="store_true", help="no progress bars")
    rerank.set_defaults(func=_cmd_rerank)

    demo = commands.add_parser(
        "demo",
        help="hybrid search on Cranfield in LanceDB, fused by rerankit, scored by nDCG@10",
        description="A preset of 'rerankit eval cranfield': index the bundled Cranfield collection in an "
        "embedded LanceDB (MiniLM-L6 vectors and a full-text index, cached), run vector, full-text and "
        "hybrid search fused by rerankit's rrf, linear and mrr, and print nDCG@10 beside LanceDB's "
        "reference figures.",
    )
    demo.add_argument(
        "--cache-dir", metavar="DIR", help="where the index is cached (default: ~/.cache/rerankit/eval)"
    )
    demo.add_argument(
        "--queries", type=_positive_int, metavar="N", help="evaluate only the first N judged queries"
    )
    demo.add_argument(
        "--docs", type=_positive_int, metavar="N", help="index only the first N documents (quick check)"
    )
    demo.add_argument("--example", metavar="QUERY_ID", help="query whose fused results are shown (default 7)")
    demo.add_argument("--top", type=_positive_int, default=5, metavar="N", help="rows shown for the example")
    demo.add_argument("--rebuild", action="store_true", help="rebuild the cached index")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.set_defaults(func=_cmd_demo)

    from .eval._commands import add_commands

    add_commands(commands, _positive_int)  # eval, tune, calibrate

    from ._serve_command import add_command as add_serve

    add_serve(commands, _positive_int)  # serve

    from ._export_command import add_command as add_export

    add_export(commands)  # export
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        return _fail(str(exc), 2)
    except RerankitError as exc:
        return _fail(str(exc), 1)
    except (OSError, ImportError) as exc:
        return _fail(f"{exc}", 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


# -- commands ------------------------------------------------------------------------------------
def _cmd_plugins(args: argparse.Namespace) -> int:
    from ._registry import list_rerankers

    logger = logging.getLogger("rerankit")
    level = logger.level
    logger.setLevel(logging.ERROR)  # load failures are rows of the table, not warnings
    try:
        entries = list_rerankers()
    finally:
        logger.setLevel(level)
    if args.json:
        for e in entries:
            row = {
                "name": e.name,
                "kind": e.kind,
                "package": e.distribution,
                "version": e.version,
                "status": e.status,
                "error": e.error,
            }
            print(json.dumps(row))
        return 0
    rows = [
        [
            e.name,
            e.kind or "-",
            e.distribution or "-",
            e.version or "-",
            "ok" if e.status == "ok" else f"error: {e.error}",
        ]
        for e in entries
    ]
    print(_format_table(["NAME", "KIND", "PACKAGE", "VERSION", "STATUS"], rows, right=()))
    broken = sum(e.status != "ok" for e in entries)
    if broken:
        print(
            f"\n{broken} plugin(s) failed to load; rerankers they provide are unavailable.", file=sys.stderr
        )
    return 0


def _cmd_rerank(args: argparse.Namespace) -> int:
    from ._files import format_of, read_table, write_table
    from ._registry import get_reranker

    if args.engine == "ray":
        return _rerank_on_ray(args)
    if args.query is None:
        raise UsageError("--query is required (--engine ray reads each row's query from --query-column instead)")
    name, options = _reranker_options(args)
    out_format = args.format or (format_of(args.output) if args.output and args.output != "-" else "table")
    if args.output == "-" and out_format == "table":
        raise UsageError("--output - needs --format jsonl or csv")
    reranker = get_reranker(name, **options)
    try:
        results = read_table(args.input, args.input_format)
        if args.fts_input:
            fts = read_table(args.fts_input, args.input_format)
            out = reranker.rerank_hybrid(args.query, results, fts)
        else:
            out = reranker.rerank(args.query, results)
    finally:
        _log_usage(reranker)
        close = getattr(reranker, "close", None)
        if close is not None:
            close()
    if out_format == "table":
        text = _render_results(out)
        if args.output and args.output != "-":
            from pathlib import Path

            Path(args.output).write_text(text + "\n", encoding="utf-8")
        else:
            print(text)
    else:
        write_table(out, args.output, out_format)
    return 0


def _rerank_on_ray(args: argparse.Namespace) -> int:
    from ._registry import get_reranker

    if args.query is not None:
        raise UsageError("--engine ray reads each row's query from --query-column; drop --query")
    if not args.output or args.output == "-":
        raise UsageError("--engine ray needs --output DIR: the Parquet files are written there")
    for flag, fmt in (("--input-format", args.input_format), ("--format", args.format)):
        if fmt not in (None, "parquet"):
            raise UsageError(f"--engine ray reads and writes Parquet; {flag} {fmt} is not supported")
    name, options = _reranker_options(args)
    reranker = get_reranker(name, **options)
    from .ray import rerank_parquet

    rows = rerank_parquet(
        args.input,
        args.output,
        reranker,
        fts_path=args.fts_input,
        query_column=args.query_column,
        group_column=args.group_column,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        num_gpus=args.num_gpus,
        progress=not args.no_progress,
    )
    print(f"{PROG}: wrote {rows} row{'s' if rows != 1 else ''} to {args.output}", file=sys.stderr)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .demo import run_demo

    run_demo(
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        max_queries=args.queries,
        max_docs=args.docs,
        example=args.example,
        top=args.top,
        rebuild=args.rebuild,
        progress=not args.no_progress,
    )
    return 0


# -- helpers -------------------------------------------------------------------------------------
def _reranker_options(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The reranker's name and options: config file, then --set, then --column/--top-n."""
    options: dict[str, Any] = {}
    name = args.reranker
    if args.config:
        from pathlib import Path

        from ._registry import read_config_file, split_config

        configured, options = split_config(read_config_file(Path(args.config)))
        name = name or configured
    if not name:
        raise UsageError('name a reranker with --reranker NAME or a --config file holding reranker = "NAME"')
    for item in args.set:
        key, value = _parse_set(item)
        options[key] = value
    if args.column is not None:
        options["column"] = args.column
    if args.top_n is not None:
        options["top_n"] = args.top_n
    return str(name), options


def _parse_set(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"--set expects KEY=VALUE (e.g. --set top_n=5), got {item!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _render_results(table: pa.Table, width: int = 48) -> str:
    """A readable table of results: a rank column, then every column (long text clipped)."""
    headers = ["#", *table.column_names]
    columns = [table[name].to_pylist() for name in table.column_names]
    rows = [[str(i + 1), *(_cell(col[i], width) for col in columns)] for i in range(table.num_rows)]
    numeric = {0} | {
        i + 1
        for i, f in enumerate(table.schema)
        if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
    }
    text = _format_table(headers, rows, right=numeric)
    return text + f"\n({table.num_rows} row{'s' if table.num_rows != 1 else ''})"


def _cell(value: Any, width: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return f"[{len(value)} values]"
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _format_table(headers: list[str], rows: list[list[str]], right: Sequence[int] | set[int]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _log_usage(reranker: object) -> None:
    """``--verbose``: what the call cost (requests, documents, billed units, cache, rate-limit waits)."""
    usage = getattr(reranker, "usage", None)
    counters = getattr(usage, "counters", None)
    if counters is not None:
        shown = " ".join(f"{k}={v:g}" for k, v in counters().items() if v)
        logging.getLogger("rerankit").info("usage: %s", shown or "nothing spent")


def _setup_logging(verbose: bool) -> None:
    logger = logging.getLogger("rerankit")
    if not any(getattr(h, "_rerankit_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_LogFormatter())
        handler._rerankit_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


class _LogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{PROG}: {record.levelname.lower()}: {record.getMessage()}"


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
    return code


__all__ = ["build_parser", "main"]

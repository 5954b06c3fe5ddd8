"""The ``rerankit eval`` and ``rerankit tune`` commands: their options and what they print.

Only the CLI writes to the terminal: the table and summaries go to stdout, progress bars and
index messages to stderr. Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._collection import EvalError
from ._metrics import DEFAULT_METRICS
from ._search import RETRIEVERS


def add_commands(commands: Any, positive_int: Any) -> None:
    """Add ``eval`` and ``tune`` to the ``rerankit`` parser's subcommands."""
    ev = commands.add_parser(
        "eval",
        help="measure retrievers and rerankers on a collection's judged queries (ir-measures)",
        description="Search a BEIR-layout collection (corpus.jsonl, queries.jsonl, qrels/test.tsv) or a bundled "
        "one ('cranfield') indexed once in an embedded LanceDB (cached), rerank the same candidates with "
        "each reranker, and print each metric, p50/p95 rerank latency and the number of queries per pipeline. "
        "Fusion rerankers fuse the hybrid retriever's vector and full-text lists; scorers rerank each "
        "retriever's list (hybrid: the rrf-fused list); 'none' keeps the retriever's order.",
    )
    ev.add_argument("collection", metavar="COLLECTION", help="a BEIR-layout folder, or 'cranfield' (bundled)")
    ev.add_argument(
        "--retriever",
        action="append",
        choices=RETRIEVERS,
        help="first stage, repeatable (default: bm25, vector and hybrid)",
    )
    ev.add_argument(
        "--candidates", type=positive_int, default=100, metavar="K", help="candidates per search (default 100)"
    )
    ev.add_argument("-r", "--reranker", action="append", default=[], metavar="NAME",
                    help="a registered reranker or 'none', repeatable (default: none)")
    ev.add_argument("-c", "--config", action="append", default=[], metavar="FILE",
                    help="a reranker config file (.toml/.json, e.g. from 'rerankit tune'), repeatable")
    ev.add_argument("--metrics", default=",".join(DEFAULT_METRICS), metavar="LIST",
                    help=f"ir-measures names, comma-separated (default {','.join(DEFAULT_METRICS)})")
    ev.add_argument("--queries", type=positive_int, metavar="N", help="evaluate only the first N judged queries")
    ev.add_argument("-o", "--output", metavar="FILE", help="also write the results as JSON records")
    ev.add_argument("--plot", metavar="PNG", help="also draw the results as a bar chart (matplotlib)")
    _index_options(ev)
    ev.set_defaults(func=run_eval_command)

    tu = commands.add_parser(
        "tune",
        help="choose fusion settings by cross-validated nDCG@10 and write them as a config file",
        description="Fuse the vector and full-text candidates of the judged queries of one or more collections "
        "with a grid of settings (method, weights, K, score normalization), score each by nDCG@10 "
        "(each collection counting alike), estimate how well the choice generalizes by k-fold "
        "cross-validation over queries, and write the best setting as a config that from_config, "
        "--config and to_lancedb(path) read.",
    )
    tu.add_argument("collections", nargs="+", metavar="COLLECTION", help="BEIR-layout folders or 'cranfield'")
    tu.add_argument("--method", choices=["rrf", "linear", "mrr", "all"], default="all",
                    help="fusion methods to try (default all)")
    tu.add_argument("-o", "--output", metavar="FILE", help="write the recipe here (.toml or .json); else print it")
    tu.add_argument("--folds", type=positive_int, default=5, metavar="K", help="cross-validation folds (default 5)")
    tu.add_argument("--seed", type=_seed, default=0, help="shuffles the queries into folds (default 0)")
    tu.add_argument(
        "--candidates", type=positive_int, default=100, metavar="K", help="candidates per search (default 100)"
    )
    tu.add_argument("--queries", type=positive_int, metavar="N", help="use only the first N judged queries of each")
    tu.add_argument("--top", type=positive_int, default=10, metavar="N", help="settings shown (default 10)")
    _index_options(tu)
    tu.set_defaults(func=run_tune_command)

    ca = commands.add_parser(
        "calibrate",
        help="fit a reranker's calibration (scores to probabilities of relevance) on judged queries",
        description="Score the first-stage candidates of the judged queries of one or more collections with a "
        "scoring reranker, label each candidate relevant when its judgment grade is at least --relevant "
        "(unjudged: not relevant), fit a calibration (platt or isotonic) cross-validated over queries, report "
        "the expected calibration error (10 bins), Brier score and precision/recall at --threshold before and "
        "after on held-out queries, and write the reranker with its calibration as a config from_config reads.",
    )
    ca.add_argument("collections", nargs="+", metavar="COLLECTION", help="BEIR-layout folders or 'cranfield'")
    which = ca.add_mutually_exclusive_group(required=True)
    which.add_argument("-r", "--reranker", metavar="NAME", help="a registered scoring reranker (its defaults)")
    which.add_argument("-c", "--config", metavar="FILE", help="a reranker config file (.toml/.json)")
    ca.add_argument("--method", choices=["platt", "isotonic"], default="platt", help="the map to fit (default platt)")
    ca.add_argument("--relevant", type=int, default=1, metavar="GRADE",
                    help="the lowest judgment grade counted relevant (default 1: any positive grade)")
    ca.add_argument("--retriever", choices=RETRIEVERS, default="bm25", help="first stage (default bm25)")
    ca.add_argument(
        "--candidates", type=positive_int, default=100, metavar="K", help="candidates per query (default 100)"
    )
    ca.add_argument("--folds", type=positive_int, default=5, metavar="K", help="cross-validation folds (default 5)")
    ca.add_argument("--seed", type=_seed, default=0, help="shuffles the queries into folds (default 0)")
    ca.add_argument("--queries", type=positive_int, metavar="N", help="use only the first N judged queries of each")
    ca.add_argument("--threshold", type=float, default=0.5, metavar="P",
                    help="the min_score whose precision and recall are reported (default 0.5)")
    ca.add_argument("-o", "--output", metavar="FILE", help="write the config here (.toml or .json); else print it")
    ca.add_argument("--plot", metavar="PNG", help="also draw the reliability diagram (matplotlib)")
    _index_options(ca)
    ca.set_defaults(func=run_calibrate_command)


def _index_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embedding-model", metavar="PATH",
                        help="a sentence-transformers model folder (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--cache-dir", metavar="DIR", help="where indexes are cached (default: ~/.cache/rerankit/eval)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached index")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _index_options_of(args: argparse.Namespace) -> dict[str, Any]:
    return {"embedding_model": args.embedding_model, "cache_dir": args.cache_dir, "rebuild": args.rebuild,
            "progress": not args.no_progress, "log": _log}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 2**32 - 1, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 2**32 - 1, got {value}")
    return value


def check_output(path: str | None, flag: str, suffixes: tuple[str, ...] = ()) -> None:
    """Refuse an output path before the run, not after it: its folder must exist and, when
    ``suffixes`` are given, its extension must be one of them."""
    if not path:
        return
    target = Path(path)
    if suffixes and target.suffix.lower() not in suffixes:
        raise EvalError(f"{flag} {path}: the file name must end in {' or '.join(suffixes)}")
    if target.is_dir():
        raise EvalError(f"{flag} {path} is a directory; give a file name inside it")
    folder = target.parent
    if not folder.is_dir():
        raise EvalError(f"{flag} {path}: the directory {folder} does not exist; create it first")


def run_eval_command(args: argparse.Namespace) -> int:
    from ._index import Index
    from ._report import plot, render, write_json
    from ._runner import run_eval

    check_output(args.output, "--output")
    check_output(args.plot, "--plot")

    def on_index(index: Index) -> None:
        state = f"built in {index.seconds:.1f} s" if index.built else "loaded from the cache"
        _log(f"index {state}: {index.path}")

    run = run_eval(
        args.collection,
        retrievers=args.retriever or list(RETRIEVERS),
        rerankers=[*args.reranker, *(Path(c) for c in args.config)],
        candidates=args.candidates,
        metrics=args.metrics,
        queries=args.queries,
        on_index=on_index,
        **_index_options_of(args),
    )
    table = run.table
    print(f"{run.collection.name}: {len(run.queries)} judged queries, {args.candidates} candidates per search")
    print(render(table))
    if args.output:
        write_json(table, args.output)
        print(f"results written to {args.output}")
    if args.plot:
        plot(table, args.plot, title=f"{run.collection.name}, {len(run.queries)} queries")
        print(f"chart written to {args.plot}")
    return 0


def run_tune_command(args: argparse.Namespace) -> int:
    from ._tune import tune

    check_output(args.output, "--output", (".toml", ".json"))  # what from_config reads
    result = tune(
        args.collections,
        method=args.method,
        folds=args.folds,
        seed=args.seed,
        candidates=args.candidates,
        queries=args.queries,
        top=args.top,
        **_index_options_of(args),
    )
    print(summary(result))
    if args.output:
        result.write(args.output)
        print(f"recipe written to {args.output}: {result.best.label}")
    else:
        print("\n" + result.recipe(), end="")
    return 0


def run_calibrate_command(args: argparse.Namespace) -> int:
    from ._calibrate import calibrate

    check_output(args.output, "--output", (".toml", ".json"))
    check_output(args.plot, "--plot")
    result = calibrate(
        args.collections,
        args.reranker if args.reranker else Path(args.config),
        method=args.method,
        relevant=args.relevant,
        retriever=args.retriever,
        candidates=args.candidates,
        folds=args.folds,
        seed=args.seed,
        queries=args.queries,
        threshold=args.threshold,
        **_index_options_of(args),
    )
    print(calibration_summary(result))
    if args.output:
        result.write(args.output)
        print(f"config written to {args.output}")
    else:
        print("\n" + result.recipe(), end="")
    if args.plot:
        names = ", ".join(n for n, _ in result.collections)
        result.plot(args.plot, title=f"{result.config['reranker']} on {names}, {args.retriever} top {args.candidates}")
        print(f"reliability diagram written to {args.plot}")
    return 0


def calibration_summary(result: Any) -> str:
    """ECE, Brier and precision/recall at the threshold: raw scores, then held-out probabilities."""
    names = ", ".join(f"{n} ({q} queries)" for n, q in result.collections)
    t = f"{result.threshold:g}"
    lines = [
        f"calibrated '{result.config['reranker']}' on {names}: {result.retriever} top {result.candidates}, "
        f"{result.scored} candidates scored, {result.positives} relevant (grade >= {result.relevant})",
        f"{result.folds}-fold cross-validation over queries; each fold's probabilities come from a "
        f"{result.method} fit on the other folds",
        "",
    ]
    head = f"{'':<22}  {'ECE':>6}  {'Brier':>6}  {'P@' + t:>8}  {'R@' + t:>8}  {'kept':>6}"
    lines += [head, "-" * len(head)]
    for label, q in (("raw score", result.before), (f"{result.method} (held out)", result.after)):
        lines.append(
            f"{label:<22}  {q.ece:6.4f}  {q.brier:6.4f}  {q.precision:8.3f}  {q.recall:8.3f}  {q.kept:>6}"
        )
    return "\n".join(lines)


def summary(result: Any) -> str:
    """The top settings with their fold scores, then each fold's held-out score."""
    folds = len(result.folds)
    names = ", ".join(f"{n} ({q} queries)" for n, q in result.collections)
    lines = [f"tuned on {names}: {result.settings} settings, {folds}-fold cross-validation by nDCG@10", ""]
    width = max(len(s.label) for s, _, _ in result.top)
    fold_heads = "  ".join(f"{'fold ' + str(f + 1):>6}" for f in range(folds))
    head = f"{'#':>2}  {'setting':<{width}}  {'all':>5}  {fold_heads}"
    lines += [head, "-" * len(head)]
    for i, (setting, score, per_fold) in enumerate(result.top, 1):
        cells = "  ".join(f"{v:6.3f}" for v in per_fold)
        lines.append(f"{i:>2}  {setting.label:<{width}}  {score:5.3f}  {cells}")
    lines += ["", "cross-validation: each fold's setting is chosen on the other folds and scored on this one"]
    width = max(len(f.winner.label) for f in result.folds)
    head = f"{'fold':>4}  {'chosen on the other folds':<{width}}  {'train':>6}  {'held out':>8}  {'rrf default':>11}"
    lines += [head, "-" * len(head)]
    for i, f in enumerate(result.folds, 1):
        lines.append(f"{i:>4}  {f.winner.label:<{width}}  {f.train:6.3f}  {f.held_out:8.3f}  {f.baseline:11.3f}")
    lines += [
        "",
        f"held-out nDCG@10: {result.held_out:.3f} (rrf with defaults: {result.baseline_held_out:.3f})",
        f"chosen on all queries: {result.best.label} (nDCG@10 {result.best_score:.3f})",
    ]
    return "\n".join(lines)

"""What an LLM rerank of 100 documents costs in tokens, with rerankit-openai's default prompt.

The reranker runs for real against a local fake chat-completions server (rerankit.testing.chat), so
the requests counted are exactly the ones it would send; their messages are counted with OpenAI's
o200k_base encoding (the GPT-4o / GPT-5 family's), read offline from the ``bpe-openai`` package,
plus OpenAI's chat framing (3 tokens per message, 3 to prime the reply). Two things are estimates
and printed apart: the strict JSON schema, which OpenAI adds to the prompt in a form it does not
publish (counted here as its JSON text), and the answer, counted as the compact JSON a model
writes (``{"d1":7,"d2":0,...}``; with one decimal per score as a second figure).

Compared, for the same 100 Cranfield documents per query:
  - ``scores`` (the default: windows of 20, a score per label),
  - ``yes_no`` (one request per document, one answer token),
  - ``listwise`` (windows of 20 sliding by 10 from the end to the front, one after another; the
    answer an array of labels under the schema, ``{"ranking":["[3]","[1]",...]}``, or RankGPT's
    text ``[3] > [1] > ...`` with ``answer_format="text"``),
  - the LanceDB-style request: every document in one prompt as a Python list, and an answer that
    echoes every document's text back with its score (the answer shape LanceDB's OpenaiReranker asks for).

Sequential round trips, what latency scales with, are measured: the fake server answers every
request after ``--latency`` seconds (0.3 by default) and the first query's rerank is timed; round
trips = elapsed / latency, rounded down (default ``max_concurrency=8``: ``scores`` sends its 5
windows at once, ``yes_no`` its 100 requests 8 at a time, ``listwise`` its windows in sequence).

    .venv/bin/python benchmarks/openai_tokens.py [--queries 10] [--docs 100] [--window 20] [--latency 0.3]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from collections.abc import Callable
from statistics import mean
from typing import Any

import rerankit
from rerankit.eval import Collection, load_collection
from rerankit.testing import FakeRerankServer
from rerankit.testing.chat import ChatDialect, ChatReply

#: gpt-5.4-mini list prices per million tokens (input, output), USD, when this was written.
PRICE = (0.75, 4.50)
_WORD = re.compile(r"\w+")


def encoder() -> tuple[Callable[[str], int], str]:
    try:
        import bpe_openai
    except ImportError:  # documented fallback: ~4 characters per token for English text
        return (lambda text: max(1, round(len(text) / 4))), "chars/4 approximation (bpe-openai not installed)"
    enc = bpe_openai.get_encoding("o200k_base")
    return (lambda text: len(enc.encode(text))), "o200k_base (bpe-openai)"


def candidates(collection: Collection, query: str, k: int) -> list[str]:
    """The k documents sharing most words with the query (a stand-in for a first-stage search)."""
    q = set(_WORD.findall(query.lower()))
    docs = collection.contents
    order = sorted(range(len(docs)), key=lambda i: (-len(q & set(_WORD.findall(docs[i].lower()))), i))
    return [docs[i] for i in order[:k]]


def compact_answer(labels: list[str], decimals: bool) -> str:
    values = [(7.5 if decimals else 7) if i % 3 == 0 else (2.5 if decimals else 2) for i in range(len(labels))]
    return json.dumps(dict(zip(labels, values)), separators=(",", ":"))


def chat_tokens(count: Callable[[str], int], messages: list[dict[str, Any]]) -> int:
    return sum(count(m["content"]) + 3 for m in messages) + 3


def ranking_answer(labels: list[str], text: bool) -> str:
    """A listwise answer: the labels in an order (here reversed), as compact JSON or as text."""
    order = labels[::-1]
    return " > ".join(order) if text else json.dumps({"ranking": order}, separators=(",", ":"))


def model(body: dict[str, Any]) -> ChatReply:
    """A fake that answers every label (or yes), so the reranker completes and its requests are kept."""
    if body.get("logprobs"):
        return ChatReply(content="Yes", finish_reason="length")
    fmt = body.get("response_format")
    if fmt is None or fmt["json_schema"]["name"] == "relevance_ranking":
        user = body["messages"][1]["content"]
        labels = re.findall(r'^"(\[\d+\])":', user, re.MULTILINE)
        return ChatReply(content=ranking_answer(labels, text=fmt is None))
    labels = list(fmt["json_schema"]["schema"]["properties"])
    return ChatReply(content=compact_answer(labels, False))


def measure(server: FakeRerankServer, count: Callable[[str], int], query: str, docs: list[str],
            **options: Any) -> dict[str, float]:
    server.reset()
    reranker = rerankit.get_reranker("openai", api_key="k", base_url=server.url + "/v1", **options)
    reranker.rerank(query, docs)
    prompt = schema = completion = completion_dec = 0
    for seen in server.seen:
        body = seen.body
        prompt += chat_tokens(count, body["messages"])
        fmt = body.get("response_format")
        if options.get("method") == "listwise":
            labels = re.findall(r'^"(\[\d+\])":', body["messages"][1]["content"], re.MULTILINE)
            if fmt is not None:
                schema += count(json.dumps(fmt["json_schema"]["schema"], separators=(",", ":")))
            answer = count(ranking_answer(labels, text=fmt is None))
            completion += answer
            completion_dec += answer
            continue
        if fmt is None:
            completion += 1
            completion_dec += 1
            continue
        schema += count(json.dumps(fmt["json_schema"]["schema"], separators=(",", ":")))
        labels = list(fmt["json_schema"]["schema"]["properties"])
        completion += count(compact_answer(labels, False))
        completion_dec += count(compact_answer(labels, True))
    return {"requests": len(server.seen), "prompt": prompt, "schema": schema,
            "completion": completion, "completion_decimals": completion_dec}


def round_trips(server: FakeRerankServer, latency: float, query: str, docs: list[str], **options: Any) -> int:
    """Sequential round trips of one rerank: its time with ``latency`` added to every answer."""
    server.reset()
    server.latency = latency
    reranker = rerankit.get_reranker("openai", api_key="k", base_url=server.url + "/v1", **options)
    try:
        started = time.perf_counter()
        reranker.rerank(query, docs)
        return math.floor((time.perf_counter() - started) / latency)
    finally:
        server.latency = 0.0


def lancedb_style(count: Callable[[str], int], system_tokens: int, query: str, docs: list[str]) -> dict[str, float]:
    prompt = system_tokens + count(f"Query: {query} Docs: {docs}") + 3 + 3 + 3
    answer = json.dumps({"documents": [{"content": d, "relevance_score": 0.5} for d in docs]})
    return {"requests": 1, "prompt": prompt, "schema": 0, "completion": count(answer),
            "completion_decimals": count(answer)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per answer when timing round trips")
    args = parser.parse_args()

    count, how = encoder()
    collection = load_collection("cranfield")
    queries = [text for _, text in collection.judged()[: args.queries]]
    methods: dict[str, dict[str, Any]] = {
        "scores": {"window_size": args.window},
        "yes_no": {"method": "yes_no"},
        "listwise": {"method": "listwise", "window_size": args.window},
        "listwise, text": {"method": "listwise", "window_size": args.window, "answer_format": "text"},
    }
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in [*methods, "lancedb-style"]}
    trips: dict[str, float] = {"lancedb-style": 1}
    with FakeRerankServer(ChatDialect(model), api_key="k") as server:
        for query in queries:
            docs = candidates(collection, query, args.docs)
            for name, options in methods.items():
                rows[name].append(measure(server, count, query, docs, **options))
                if name == "scores":
                    system = server.seen[0].body["messages"][0]["content"]
            rows["lancedb-style"].append(lancedb_style(count, count(system), query, docs))
        first = candidates(collection, queries[0], args.docs)
        for name, options in methods.items():
            trips[name] = round_trips(server, args.latency, queries[0], first, **options)
    picked = [candidates(collection, q, args.docs) for q in queries]
    doc_tokens = mean(sum(count(d) for d in docs) for docs in picked)
    cut = mean(sum(len(d) > 4000 for d in docs) for docs in picked)

    print(f"# Tokens to rerank {args.docs} Cranfield documents (title + text), mean of {len(queries)} queries")
    print(f"tokenizer: {how}; the documents alone: {doc_tokens:,.0f} tokens; "
          f"documents cut by max_doc_chars=4000: {cut:.1f}")
    print()
    print("| method | requests | sequential round trips | prompt | + schema (est.) | answer (est.) | total "
          "| USD at gpt-5.4-mini prices* |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    totals = {}
    for name, runs in rows.items():
        m = {k: mean(r[k] for r in runs) for k in runs[0]}
        total = m["prompt"] + m["schema"] + m["completion"]
        totals[name] = total
        usd = ((m["prompt"] + m["schema"]) * PRICE[0] + m["completion"] * PRICE[1]) / 1e6
        answer = f"{m['completion']:,.0f}"
        if m["completion_decimals"] != m["completion"]:
            answer += f" ({m['completion_decimals']:,.0f} with decimals)"
        label = f"`{name.split(',')[0]}`" + {
            "scores": f" (window {args.window})",
            "listwise": f" (window {args.window}, step {args.window // 2})",
            "listwise, text": " (answer_format='text')",
        }.get(name, "")
        print(f"| {label} | {m['requests']:.0f} | {trips[name]:.0f} | {m['prompt']:,.0f} | {m['schema']:,.0f} | "
              f"{answer} | {total:,.0f} | {usd:.4f} |")
    print()
    print("ratios of total tokens against scores: " + ", ".join(
        f"{name} {totals[name] / totals['scores']:.2f}x" for name in totals if name != "scores"))
    print(f"round trips timed on the first query with {args.latency}s per answer (max_concurrency=8)")
    print("lancedb-style: our system prompt's tokens stand in for its own; its answer echoes each document")
    print(f"* ${PRICE[0]}/M input, ${PRICE[1]}/M output tokens (list prices when written; check current ones)")


if __name__ == "__main__":
    main()

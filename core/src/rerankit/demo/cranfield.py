"""The Cranfield collection shipped with rerankit (see cranfield/README.md for its provenance)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "cranfield"


@dataclass(frozen=True)
class Collection:
    """Documents, queries and graded judgments of one test collection."""

    doc_ids: list[str]
    titles: list[str]
    texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]
    fingerprint: str

    @property
    def contents(self) -> list[str]:
        """What is embedded and indexed for full-text search: title, a line break, then the text."""
        return [f"{title}\n{text}" for title, text in zip(self.titles, self.texts, strict=True)]

    def judged(self) -> list[tuple[str, str]]:
        """``(query id, text)`` of every query with at least one relevant document, in file order."""
        return [
            (qid, text)
            for qid, text in zip(self.query_ids, self.query_texts, strict=True)
            if any(g > 0 for g in self.qrels.get(qid, {}).values())
        ]


def load(data_dir: Path = DATA_DIR, max_docs: int | None = None) -> Collection:
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/test.tsv`` (the first ``max_docs`` documents)."""
    digest = hashlib.sha256()
    files = [data_dir / "corpus.jsonl", data_dir / "queries.jsonl", data_dir / "qrels" / "test.tsv"]
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"demo data file {path} is missing; reinstall rerankit")
        digest.update(path.read_bytes())
    docs = [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines() if line.strip()]
    if max_docs is not None:
        docs = docs[:max_docs]
        digest.update(f"max_docs={max_docs}".encode())
    queries = [json.loads(line) for line in files[1].read_text(encoding="utf-8").splitlines() if line.strip()]
    qrels: dict[str, dict[str, int]] = {}
    for line in files[2].read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            qid, doc, grade = line.split("\t")
            qrels.setdefault(qid, {})[doc] = int(grade)
    return Collection(
        doc_ids=[str(d["_id"]) for d in docs],
        titles=[d.get("title") or "" for d in docs],
        texts=[d.get("text") or "" for d in docs],
        query_ids=[str(q["_id"]) for q in queries],
        query_texts=[q["text"] for q in queries],
        qrels=qrels,
        fingerprint=digest.hexdigest(),
    )

"""Test collections in the BEIR layout, checked on load: documents, queries and graded judgments.

A collection is a folder holding ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/test.tsv`` (``query-id``, ``corpus-id``, ``score``, tab-separated,
header optional), or the name of a collection bundled with rerankit (:data:`BUNDLED`). Anything
that would make the figures wrong (a judgment naming an unknown query or document, an empty
corpus, a repeated id) is an :class:`EvalError` naming the file, the line and the fix.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from rerankit import RerankitError

#: Collections shipped inside the package, usable offline by name.
BUNDLED: dict[str, Path] = {"cranfield": Path(__file__).resolve().parent / "cranfield"}
FILES = ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv")


class EvalError(RerankitError):
    """An evaluation cannot run: an unusable collection, option, cache or missing dependency."""


@dataclass(frozen=True)
class Collection:
    """Documents, queries and graded judgments (``qrels[query][doc] = grade``) of one collection."""

    name: str
    source: str
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


def load_collection(source: str | os.PathLike[str], *, max_docs: int | None = None) -> Collection:
    """Read a BEIR-layout folder, or a bundled collection by name (a folder of that name wins).

    ``max_docs`` keeps only the first documents (a quick check; judgments of the others stay, so
    figures are then not comparable).
    """
    folder = Path(source)
    if folder.is_dir():
        name, label = folder.resolve().name, str(folder.resolve())
    elif isinstance(source, str) and source in BUNDLED:
        folder, name, label = BUNDLED[source], source, source
    else:
        raise EvalError(
            f"no collection at '{source}': not a folder, and not a bundled collection "
            f"(bundled: {', '.join(sorted(BUNDLED))}); pass a BEIR-layout folder ({', '.join(FILES)})"
        )
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise EvalError(
            f"{folder} has no {' and no '.join(missing)}; a BEIR-layout collection holds "
            f"{', '.join(FILES)}"
        )
    digest = hashlib.sha256()
    raw = {}
    for f in FILES:
        raw[f] = (folder / f).read_bytes()
        digest.update(raw[f])
    docs = _records(folder / FILES[0], raw[FILES[0]])
    if not docs:
        raise EvalError(f"{folder / FILES[0]} holds no documents; a collection needs at least one")
    queries = _records(folder / FILES[1], raw[FILES[1]])
    doc_ids = _ids(folder / FILES[0], docs)
    query_ids = _ids(folder / FILES[1], queries)
    query_texts = []
    for line, record in queries:
        if not isinstance(record.get("text"), str):
            raise EvalError(f"{folder / FILES[1]} line {line}: the query has no text; add a \"text\" field")
        query_texts.append(record["text"])
    qrels = _qrels(folder / FILES[2], raw[FILES[2]], set(query_ids), set(doc_ids))
    if max_docs is not None:
        docs, doc_ids = docs[:max_docs], doc_ids[:max_docs]
        digest.update(f"max_docs={max_docs}".encode())
    return Collection(
        name=name,
        source=label,
        doc_ids=doc_ids,
        titles=[str(d.get("title") or "") for _, d in docs],
        texts=[str(d.get("text") or "") for _, d in docs],
        query_ids=query_ids,
        query_texts=query_texts,
        qrels=qrels,
        fingerprint=digest.hexdigest(),
    )


def _utf8(path: Path, data: bytes) -> str:
    """The file's text, or EvalError naming the line that is not UTF-8 and the fix."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise EvalError(
            f"{path} line {line} is not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8 "
            f"(e.g. iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix})"
        ) from None


def _records(path: Path, data: bytes) -> list[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of a JSON-lines file."""
    out = []
    for number, line in enumerate(_utf8(path, data).splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{path} line {number} is not valid JSON ({exc.msg}); one object a line") from None
        if not isinstance(record, dict):
            raise EvalError(f"{path} line {number} is not a JSON object; one object a line")
        out.append((number, record))
    return out


def _ids(path: Path, records: list[tuple[int, dict]]) -> list[str]:
    seen: dict[str, int] = {}
    for line, record in records:
        if record.get("_id") in (None, ""):
            raise EvalError(f"{path} line {line} has no \"_id\"; give every record an id")
        key = str(record["_id"])
        if key in seen:
            raise EvalError(f"{path} repeats the id '{key}' (lines {seen[key]} and {line}); ids must be unique")
        seen[key] = line
    return list(seen)


def _qrels(path: Path, data: bytes, queries: set[str], docs: set[str]) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    unknown_q: list[str] = []
    unknown_d: list[str] = []
    for number, line in enumerate(_utf8(path, data).splitlines(), 1):
        if not line.strip():
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != 3:
            raise EvalError(
                f"{path} line {number}: expected query-id<TAB>corpus-id<TAB>score, got {len(fields)} field(s)"
            )
        qid, doc, grade = (f.strip() for f in fields)
        try:
            number_value = float(grade)
        except ValueError:
            if number == 1:
                continue  # the header
            raise EvalError(f"{path} line {number}: the score '{grade}' is not a number") from None
        if not math.isfinite(number_value) or number_value != int(number_value):
            raise EvalError(
                f"{path} line {number}: the score '{grade}' is not a whole number; relevance grades are "
                "integers (0 not relevant, 1, 2, ... more relevant)"
            )
        value = int(number_value)
        earlier = qrels.get(qid, {}).get(doc)
        if earlier is not None and earlier != value:
            raise EvalError(
                f"{path} line {number}: query '{qid}' judges document '{doc}' {value} here but {earlier} "
                "on an earlier line; keep one judgment per pair"
            )
        if qid not in queries:
            unknown_q.append(qid)
        if doc not in docs:
            unknown_d.append(doc)
        qrels.setdefault(qid, {})[doc] = value
    for kind, unknown, holder in (("query", unknown_q, "queries.jsonl"), ("document", unknown_d, "corpus.jsonl")):
        if unknown:
            distinct = list(dict.fromkeys(unknown))
            raise EvalError(
                f"{path} judges {len(distinct)} {kind} id(s) that {holder} does not hold "
                f"(e.g. '{distinct[0]}'); fix the ids or add the missing {kind}s"
            )
    return qrels

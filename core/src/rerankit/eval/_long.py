"""A long-document collection made from a short one: each document hidden among unrelated ones.

Rerankers see a window (256 to 512 tokens for most local models); real documents are longer, and
the part that answers a query can sit anywhere in them. :func:`make_long_documents` turns a
BEIR-layout collection of short documents into one where that is so, keeping its judgments: each
document becomes one long document, itself plus a few *filler* documents drawn with a fixed seed
from those judged relevant to no query (so the long document is relevant exactly where the
original was), the original placed first, last or anywhere between, by the seed. The result is a
BEIR-layout folder that ``rerankit eval`` reads like any other.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from ._collection import Collection, EvalError, load_collection

#: Separates the parts of a long document (a paragraph break: passages prefer to cut there).
SEPARATOR = "\n\n"
#: The prefix of a long document's id: ``long-<original id>``.
PREFIX = "long-"


def make_long_documents(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    others: tuple[int, int] = (3, 6),
    seed: int = 0,
) -> Collection:
    """Write the long-document version of ``source`` into the folder ``target``; return it loaded.

    ``source`` is a BEIR-layout folder or a bundled collection's name. For each of its documents,
    in file order, the seed draws how many fillers join it (``others``: the least and the most,
    inclusive), which ones (never itself, only documents relevant to no query) and the original's
    position among them (0 = first, the filler count = last). A part is the document's title, a
    line break and its text (its text alone when it has no title); parts are joined by a blank line.

    The long document ``long-<id>`` has an empty title; its ``metadata`` records ``original`` (the
    id), ``parts`` (the ids in order), ``position`` (the original's index in ``parts``) and
    ``start``/``end`` (the original part's character offsets in ``text``). Queries are copied;
    every judgment of a document is carried over to its long document. The same source, ``others``
    and ``seed`` always give the same files.
    """
    low, high = others
    if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high):
        raise EvalError(
            f"others={others!r} must be two whole numbers (least, most) with 0 <= least <= most, "
            "e.g. others=(3, 6)"
        )
    collection = load_collection(source)
    relevant = {doc for judged in collection.qrels.values() for doc, grade in judged.items() if grade > 0}
    fillers = [doc for doc in collection.doc_ids if doc not in relevant]
    is_filler = set(fillers)
    if len(fillers) < high + 1:
        raise EvalError(
            f"{collection.source} has {len(fillers)} document(s) judged relevant to no query; "
            f"others={others!r} needs at least {high + 1} to draw fillers from; lower the most "
            "fillers (others=(least, most)) or use a larger collection"
        )
    parts = {
        doc: f"{title}\n{text}" if title else text
        for doc, title, text in zip(collection.doc_ids, collection.titles, collection.texts, strict=True)
    }
    rng = random.Random(f"rerankit-long-documents:{seed}")
    folder = Path(target)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as out:
        for doc in collection.doc_ids:
            count = rng.randint(low, high)
            chosen = rng.sample([d for d in fillers if d != doc] if doc in is_filler else fillers, count)
            position = rng.randint(0, count)
            order = [*chosen[:position], doc, *chosen[position:]]
            start = sum(len(parts[d]) + len(SEPARATOR) for d in order[:position])
            record = {
                "_id": PREFIX + doc,
                "title": "",
                "text": SEPARATOR.join(parts[d] for d in order),
                "metadata": {"original": doc, "parts": order, "position": position, "start": start,
                             "end": start + len(parts[doc])},
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as out:
        for qid, text in zip(collection.query_ids, collection.query_texts, strict=True):
            out.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    with (folder / "qrels" / "test.tsv").open("w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        for qid, judged in collection.qrels.items():
            for doc, grade in judged.items():
                out.write(f"{qid}\t{PREFIX}{doc}\t{grade}\n")
    return load_collection(folder)

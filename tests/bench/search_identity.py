"""Same results before and after a change of the search path, on LoCoMo (issue #17).

A change that only makes ``Memory.search`` cheaper (ids first, one snapshot, a shorter
call path) must return the same ids, in the same order, with the same scores, explain
signals and matched windows. This check proves it on real text: the LoCoMo turns are
ingested once into a sqlite file, then each build of memplane (the base commit's
``core/src`` on ``PYTHONPATH``, and this checkout) answers every question of the set
against that same file in several configurations, and the two dumps must be equal,
float for float.

    # 1. embed and ingest once (--embedder minilm_onnx needs contrib/minilm-onnx)
    python -m tests.bench.search_identity prepare --dir /tmp/ident --embedder minilm_onnx
    # 2. dump the answers of each build
    PYTHONPATH=<base>/core/src python -m tests.bench.search_identity dump --dir /tmp/ident --out base.json
    python -m tests.bench.search_identity dump --dir /tmp/ident --out new.json
    # 3. compare: exit status 1 and the first differences when they differ
    python -m tests.bench.search_identity compare base.json new.json

The embeddings are stored beside the database (``vectors.npz``), so a dump embeds
nothing and both builds see the same query vectors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tests.bench import locomo_data
from tests.bench.memplane_side import TableEmbedder, TimedScriptedLLM
from tests.bench.vectors import VectorTable

#: configurations each question is searched with: (name, search settings, call arguments)
VARIANTS: tuple[tuple[str, dict[str, Any], dict[str, Any]], ...] = (
    ("default", {}, {"limit": 30, "explain": True}),
    ("vector_only", {}, {"limit": 10, "hybrid": False, "explain": True}),
    ("rrf", {"fusion": "rrf"}, {"limit": 10, "explain": True}),
    ("weighted", {"fusion": "weighted"}, {"limit": 10}),
    ("recency_newer_first", {"recency_weight": 0.2, "newer_first_margin": 0.05}, {"limit": 10, "explain": True}),
    ("threshold", {}, {"limit": 30, "threshold": 0.55}),
)


def _texts(convs: list[locomo_data.Conversation]) -> list[str]:
    seen = dict.fromkeys(t.memory_text for c in convs for t in c.turns)
    seen.update(dict.fromkeys(q.question for c in convs for q in c.questions))
    return list(seen)


def prepare(directory: Path, data: Path, embedder_name: str) -> None:
    from memplane import Memory
    from memplane.plugins.registry import create_provider
    from memplane.providers.base import Embedder
    from memplane.stores.sqlite import SQLiteStore

    convs = locomo_data.load(data)
    texts = _texts(convs)
    embedder = create_provider("embedders", embedder_name)
    assert isinstance(embedder, Embedder)
    vectors = []
    for start in range(0, len(texts), 64):
        vectors.extend(embedder.embed(texts[start : start + 64]))
        print(f"embedded {min(start + 64, len(texts))}/{len(texts)}", end="\r", file=sys.stderr)
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / "vectors.npz", texts=np.asarray(texts, dtype=object),
             vectors=np.asarray(vectors, dtype=np.float32))
    table = _table(directory)
    store = SQLiteStore({"path": str(directory / "locomo.db")})
    with Memory(llm=TimedScriptedLLM(), embedder=TableEmbedder(table), vector_store=store) as memory:
        for conv in convs:
            batch = [{"role": "user", "content": t.memory_text, "observed_at": t.observed_at,
                      "metadata": {"dia_id": t.dia_id, "session": t.session}} for t in conv.turns]
            for start in range(0, len(batch), 100):
                memory.add(batch[start : start + 100], user_id=conv.sample_id, infer=False)
    print(f"\ningested {sum(len(c.turns) for c in convs)} turns of {len(convs)} conversations",
          file=sys.stderr)


def _table(directory: Path) -> VectorTable:
    saved = np.load(directory / "vectors.npz", allow_pickle=True)
    table = VectorTable(int(saved["vectors"].shape[1]))
    table.put(list(saved["texts"]), saved["vectors"])
    return table


def _answers(hits: Any) -> list[list[Any]]:
    return [[h.record.id, h.score, dict(sorted(h.signals.items())), h.match] for h in hits]


def dump(directory: Path, data: Path, out: Path) -> None:
    from memplane import Memory, MemoryConfig
    from memplane.stores.sqlite import SQLiteStore

    convs = locomo_data.load(data)
    table = _table(directory)
    result: dict[str, Any] = {}
    store = SQLiteStore({"path": str(directory / "locomo.db")})
    try:
        for name, settings, kwargs in VARIANTS:
            config = MemoryConfig.model_validate({"search": settings})
            with Memory(config, llm=TimedScriptedLLM(), embedder=TableEmbedder(table),
                        vector_store=store) as memory:
                for conv, i, question in _questions(convs):
                    hits = memory.search(question.question, user_id=conv.sample_id, **kwargs)
                    result[f"{name}/{conv.sample_id}/{i}"] = _answers(hits)
        memory = Memory(llm=TimedScriptedLLM(), embedder=TableEmbedder(table), vector_store=store)
        for conv, i, question in _questions(convs):
            # a metadata filter (the sqlite store's filtered path) and a time window
            first = question.evidence[0]
            middle = conv.turns[len(conv.turns) // 2].observed_at
            filtered = memory.search(question.question, user_id=conv.sample_id, limit=10,
                                     filters={"dia_id": {"ne": first}}, explain=True)
            window = memory.search(question.question, user_id=conv.sample_id, limit=10,
                                   as_of=middle, max_age_days=60, explain=True)
            result[f"filtered/{conv.sample_id}/{i}"] = _answers(filtered)
            result[f"window/{conv.sample_id}/{i}"] = _answers(window)
    finally:
        store.close()
    out.write_text(json.dumps(result, sort_keys=True))
    total = sum(len(v) for v in result.values())
    print(f"{len(result)} searches, {total} hits -> {out}", file=sys.stderr)


def _questions(convs: list[locomo_data.Conversation],
               ) -> Iterator[tuple[locomo_data.Conversation, int, locomo_data.Question]]:
    for conv in convs:
        for i, question in enumerate(conv.questions):
            yield conv, i, question


def compare(a: Path, b: Path) -> int:
    left, right = json.loads(a.read_text()), json.loads(b.read_text())
    if left.keys() != right.keys():
        print(f"different searches: {sorted(left.keys() ^ right.keys())[:5]}")
        return 1
    differing = [k for k in sorted(left) if left[k] != right[k]]
    hits = sum(len(v) for v in left.values())
    print(f"{len(left)} searches, {hits} hits compared: {len(differing)} differ")
    for key in differing[:5]:
        print(f"  {key}:\n    {left[key][:3]}\n    {right[key][:3]}")
    return 1 if differing else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--data", default=None)
    p.add_argument("--embedder", default="minilm_onnx")
    d = sub.add_parser("dump")
    d.add_argument("--dir", type=Path, required=True)
    d.add_argument("--data", default=None)
    d.add_argument("--out", type=Path, required=True)
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare(args.dir, locomo_data.data_path(args.data), args.embedder)
    elif args.command == "dump":
        dump(args.dir, locomo_data.data_path(args.data), args.out)
    else:
        return compare(args.a, args.b)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


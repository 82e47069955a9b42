"""Batch ``add`` against one ``add`` per message, in the same run (issue #16).

A backfill of one conversation, every turn verbatim (``infer=False``) with its own
id (metadata) and ``observed_at``: either one ``add([...])`` call whose messages carry
their own fields (one embedding call in batches, one store apply in one transaction),
or one ``add`` per turn. Each round builds a fresh SQLite store for each mode; the
modes alternate so load changes hit both alike. Reports the median seconds per mode
and their ratio, and checks both stores end up with the same records (a text the
conversation repeats is one memory, the first turn's, either way).

    python -m tests.bench.retrieval_batch_add                        # minilm_onnx, 150 assist turns
    python -m tests.bench.retrieval_batch_add --set multilingual     # short turns
    python -m tests.bench.retrieval_batch_add --embedder hashing     # the store and pipeline alone
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

EVALSETS = Path(__file__).resolve().parent / "evalsets"


def turns(count: int, evalset: str = "assist") -> list[dict[str, Any]]:
    """The first ``count`` turns of seed 1 of ``evalset`` (``assist``: half the turns
    are answers of 150-550 words; ``multilingual``: short chat turns)."""
    raw = json.loads((EVALSETS / f"{evalset}-1.json").read_text(encoding="utf-8"))
    out = []
    for conv in raw["conversations"]:
        for t in conv["turns"]:
            out.append({"role": t["role"], "content": t["text"], "metadata": {"turn": t["id"]},
                        "observed_at": datetime.fromisoformat(t["observed_at"])})
    return out[:count]


def make_embedder(name: str, batch_size: int) -> Any:
    if name == "hashing":
        from memplane.embedders.hashing import HashingEmbedder

        return HashingEmbedder({"dimension": 384})
    from memplane_minilm_onnx.embedder import MiniLMOnnxEmbedder

    return MiniLMOnnxEmbedder(batch_size=batch_size)


def run(mode: str, messages: list[dict[str, Any]], embedder: Any, folder: Path) -> tuple[float, list[Any]]:
    from memplane.llms.scripted import ScriptedLLM
    from memplane.memory import Memory
    from memplane.plugins.hooks import PluginManager
    from memplane.stores.sqlite import SQLiteStore

    store = SQLiteStore({"path": str(folder / f"{mode}.db")})
    with Memory(llm=ScriptedLLM(), embedder=embedder, vector_store=store,
                plugins=PluginManager(autoload=False)) as memory:
        t0 = time.perf_counter()
        if mode == "batch":
            memory.add(messages, user_id="u", infer=False)
        else:
            for m in messages:
                memory.add(m, user_id="u", infer=False)
        elapsed = time.perf_counter() - t0
        records = sorted((r.metadata["turn"], r.text, r.observed_at)
                         for r in memory.get_all(user_id="u", limit=10_000).records)
    store.close()
    return elapsed, records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--set", default="assist", choices=["assist", "multilingual"])
    parser.add_argument("--batch-size", type=int, default=32, help="minilm_onnx texts per forward pass")
    parser.add_argument("--embedder", default="minilm_onnx", choices=["minilm_onnx", "hashing"])
    args = parser.parse_args(argv)
    messages = turns(args.turns, args.set)
    embedder = make_embedder(args.embedder, args.batch_size)
    embedder.embed(["warm up"], purpose="document")  # load the model outside the timing
    times: dict[str, list[float]] = {"batch": [], "one_by_one": []}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="memplane-batch-") as tmp:
            results = {}
            for mode in ("batch", "one_by_one") if len(times["batch"]) % 2 == 0 else ("one_by_one", "batch"):
                elapsed, records = run(mode, messages, embedder, Path(tmp))
                times[mode].append(elapsed)
                results[mode] = records
            # a text repeated in the conversation is one memory (the first turn's) either way
            distinct = len({m["content"] for m in messages})
            assert results["batch"] == results["one_by_one"] and len(results["batch"]) == distinct
    batch, single = statistics.median(times["batch"]), statistics.median(times["one_by_one"])
    print(json.dumps({
        "embedder": args.embedder, "batch_size": args.batch_size, "set": args.set, "turns": len(messages), "rounds": args.rounds,
        "batch_s": round(batch, 3), "one_by_one_s": round(single, 3),
        "one_by_one_over_batch": round(single / batch, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }, indent=1))


if __name__ == "__main__":
    main()

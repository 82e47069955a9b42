"""What search scores mean with the default embedder: the quickstart's memories and
four questions, the right memory's score and rank beside the best wrong one.

    python -m tests.bench.score_meaning              # minilm_onnx (the default)
    python -m tests.bench.score_meaning hashing      # any installed embedder

Runs on the embedded defaults (sqlite in a temporary folder, the `rules` LLM);
docs/configuration.md#what-search-scores-mean quotes its output.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from memplane.memory import Memory

USER = "alice"
ADDS = [
    "I prefer Python for data analysis.",
    "I switched to TypeScript for data analysis.",
    "I live in Lisbon.", "I have a dog named Pixel.", "I like green tea.",
    "My sister is Anna.", "I work as a nurse.",
]
#: question -> words of the memory that answers it
QUESTIONS = {
    "Which language does Alice use?": "TypeScript",
    "What programming language for data analysis?": "TypeScript",
    "Where does Alice live?": "Lisbon",
    "What pet does she have?": "dog",
}


def main(embedder: str = "minilm_onnx") -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = {"llm": "rules", "embedder": embedder,
                  "vector_store": {"provider": "sqlite", "config": {"path": str(Path(folder) / "m.db")}}}
        with Memory(config) as memory:
            for text in ADDS:
                memory.add(text, user_id=USER)
            total = len(memory.get_all(user_id=USER).records)
            print(f"embedder {embedder}: {total} memories")
            print("| query | right memory: score (rank) | best wrong memory |")
            print("|---|---|---|")
            for question, answer in QUESTIONS.items():
                hits = memory.search(question, user_id=USER, limit=total)
                rank = next(i for i, h in enumerate(hits) if answer in h.text)
                wrong = max((h for h in hits if answer not in h.text), key=lambda h: h.score)
                print(f"| {question} | \"{hits[rank].text}\": {hits[rank].score:.3f} "
                      f"({rank + 1} of {len(hits)}) | \"{wrong.text}\": {wrong.score:.3f} |")


if __name__ == "__main__":
    main(*sys.argv[1:2])

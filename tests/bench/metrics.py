"""Retrieval metrics: recall@k and hit@k per question, averaged per category."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

KS = (5, 10, 30)


def recall_at(retrieved: Sequence[str], evidence: Iterable[str], k: int) -> float:
    """Fraction of the evidence turns among the first k retrieved."""
    wanted = set(evidence)
    return len(wanted.intersection(retrieved[:k])) / len(wanted) if wanted else 0.0


def hit_at(retrieved: Sequence[str], evidence: Iterable[str], k: int) -> float:
    """1.0 when any evidence turn is among the first k retrieved."""
    return 1.0 if set(evidence).intersection(retrieved[:k]) else 0.0


class RetrievalScores:
    """Collects per-question scores and reports means per category and overall."""

    def __init__(self, categories: dict[int, str]) -> None:
        self.categories = categories
        self._rows: dict[str, list[dict[str, float]]] = defaultdict(list)

    def add(self, category: int, retrieved: Sequence[str], evidence: Sequence[str]) -> None:
        row = {}
        for k in KS:
            row[f"recall@{k}"] = recall_at(retrieved, evidence, k)
            row[f"hit@{k}"] = hit_at(retrieved, evidence, k)
        self._rows[self.categories[category]].append(row)
        self._rows["overall"].append(row)

    def summary(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for group in ["overall", *self.categories.values()]:
            rows = self._rows.get(group, [])
            means = {key: round(sum(r[key] for r in rows) / len(rows), 4) for key in rows[0]} if rows else {}
            out[group] = {**means, "questions": len(rows)}
        return out

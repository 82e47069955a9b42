"""The sqlite keyword query names the probed rows (by range or list) instead of AND-ing
the scope's FTS term; each form must return what the scope-term form returns."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from memplane.models import Change, MemoryRecord, Scope
from memplane.stores.sqlite import SQLiteStore, fts
from memplane.stores.sqlite import keyword_search as ks

WORDS = ["ferry", "opera", "walrus", "lantern", "quartz", "kayak", "tea", "chess"]
QUERIES = ["ferry opera", "walrus", "lantern quartz kayak", "tea chess ferry", "opera tea"]


def _scope_term_form(postings: dict[str, set[int]], scope: Scope,
                     scope_rows: int) -> tuple[str, str, list[int]]:
    """The query as it was before: the scope's FTS term AND the words."""
    return fts.match_expression(list(postings), scope) or "", "", []


def _write(store: SQLiteStore, rows: list[tuple[str, str]]) -> None:
    changes = []
    for i, (user, text) in enumerate(rows):
        record = MemoryRecord(text=text, scope=Scope(user_id=user))
        changes.append(Change(record=record, vector=[1.0, float(i % 7), 0.5, 0.25]))
    store.apply(changes)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore({"path": str(tmp_path / "kw.db"), "common_term_share": 1.0})
    store.open(4)
    rows = []
    for i in range(3600):
        # "dense" owns the last block of rows; "wide" one row in five before it, "sparse"
        # one in forty, other tenants in between; "tea" is in every row, so a query with
        # it matches all of a scope's rows (more than the 500 a list may name)
        words = " ".join(WORDS[j] for j in range(len(WORDS)) if (i * 7 + j) % (j + 2) == 0)
        if i >= 3000:
            user = "dense"
        else:
            user = "wide" if i % 5 == 0 else "sparse" if i % 40 == 1 else f"other{i % 3}"
        rows.append((user, f"row {i} tea {words}"))
    _write(store, rows)
    return store


def test_every_form_of_the_keyword_query_returns_the_scope_term_answer(
        store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    forms: Counter[str] = Counter()
    real = ks._candidates

    def noting(postings: dict[str, set[int]], scope: Scope, scope_rows: int) -> tuple[str, str, list[int]]:
        expression, rowids, params = real(postings, scope, scope_rows)
        forms["between" if "BETWEEN" in rowids else "list" if rowids else "scope term"] += 1
        return expression, rowids, params

    answers = {}
    monkeypatch.setattr(ks, "_candidates", noting)
    for user in ("dense", "wide", "sparse", "other1"):
        for query in QUERIES:
            for limit in (3, 50, 1000):
                hits = store.keyword_search(query, Scope(user_id=user), limit=limit)
                answers[user, query, limit] = [(h.id, h.score) for h in hits]
    assert set(forms) == {"between", "list", "scope term"}, forms  # each form was used
    monkeypatch.setattr(ks, "_candidates", _scope_term_form)
    for (user, query, limit), got in answers.items():
        want = [(h.id, h.score) for h in store.keyword_search(query, Scope(user_id=user), limit=limit)]
        assert got == want, (user, query, limit)
    assert all(answers[user, "tea chess ferry", 50] for user in ("dense", "wide", "sparse", "other1"))

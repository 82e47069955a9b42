"""Keyword search of the SQLite store: FTS5 candidates, scored by :mod:`fts`."""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from memplane.models import Scope, SearchHit
from memplane.providers.base import LightHit
from memplane.stores.sqlite import fts
from memplane.stores.sqlite.codec import record_from_row
from memplane.stores.sqlite.light import LIGHT_COLUMNS, light_hit
from memplane.stores.sqlite.sql import CHUNK, COLUMNS, marks


def keyword_hits(conn: sqlite3.Connection, tokens: list[str], scope: Scope, scope_rows: int,
                 common_term_share: float, where: str, params: list[Any],
                 limit: int, probes: ProbeCache | None = None) -> list[SearchHit]:
    """The best ``limit`` rows holding distinctive query tokens, inside ``where``."""
    ranked = keyword_ranked(conn, tokens, scope, scope_rows, common_term_share, where, params,
                            limit, COLUMNS, probes)
    return [SearchHit(record=record_from_row(row), score=score) for score, row in ranked]


def keyword_light(conn: sqlite3.Connection, tokens: list[str], scope: Scope, scope_rows: int,
                  common_term_share: float, where: str, params: list[Any],
                  limit: int, probes: ProbeCache | None = None) -> list[LightHit]:
    """:func:`keyword_hits` as light hits: the same rows, order and scores, no records."""
    ranked = keyword_ranked(conn, tokens, scope, scope_rows, common_term_share, where, params,
                            limit, LIGHT_COLUMNS, probes)
    return [light_hit(row, score) for score, row in ranked]


def keyword_ranked(conn: sqlite3.Connection, tokens: list[str], scope: Scope, scope_rows: int,
                   common_term_share: float, where: str, params: list[Any], limit: int,
                   columns: str, probes: ProbeCache | None = None) -> list[tuple[float, Sequence[Any]]]:
    """Scores and rows (``columns``, after the seq) of the best ``limit`` matches, best first."""
    postings = distinctive(conn, tokens, scope, scope_rows, common_term_share, probes)
    if not postings:
        return []  # only words most of the scope holds: no keyword evidence
    expression, rowids, by_rowid = _candidates(postings, scope, scope_rows)
    rows = conn.execute(
        # bm25 picks the candidates; the scope column weighs nothing in it
        f"SELECT r.seq, {columns} FROM records_fts "
        f"JOIN records r ON r.seq = records_fts.rowid "
        f"WHERE records_fts MATCH ?{rowids} AND {where} "
        f"ORDER BY bm25(records_fts, 1.0, 0.0), r.seq LIMIT ?",
        [expression, *by_rowid, *params, limit],
    ).fetchall()
    weights = {token: fts.idf(scope_rows, len(seqs)) for token, seqs in postings.items()}
    scored = [
        (sum(w for token, w in weights.items() if row[0] in postings[token]), row)
        for row in rows
    ]
    scored.sort(key=lambda pair: -pair[0])  # stable: bm25 order breaks ties
    return [(fts.relevance_to_score(weight), row[1:]) for weight, row in scored]


def _candidates(postings: dict[str, AbstractSet[int]], scope: Scope,
                scope_rows: int) -> tuple[str, str, list[int]]:
    """The MATCH expression and a rowid condition (SQL, parameters) for the main query.

    The probes found every row of the scope holding a kept token, so the main query
    may name those rows instead of AND-ing the scope's own FTS term, whose posting list
    is the whole scope (0.2 of a 0.24 ms query at 10k rows). Either way the rows are the
    same and so is bm25 (the scope column weighs 0): by their range when it is dense
    with the scope's rows (one FTS5 seek), by their list when they are few and spread
    out (other tenants in between), else with the scope term as before."""
    found = sorted(set().union(*postings.values()))
    if found[-1] - found[0] < 4 * max(scope_rows, 1):
        return fts.text_expression(list(postings)), " AND records_fts.rowid BETWEEN ? AND ?", [
            found[0], found[-1]]
    if len(found) <= CHUNK:
        return (fts.text_expression(list(postings)),
                f" AND records_fts.rowid IN ({marks(len(found))})", found)
    return fts.match_expression(list(postings), scope) or "", "", []


def distinctive(conn: sqlite3.Connection, tokens: list[str], scope: Scope,
                scope_rows: int, share: float,
                probes: ProbeCache | None = None) -> dict[str, AbstractSet[int]]:
    """The query tokens that are not common in the scope (see ``fts`` on why), each
    with the rows of the scope that hold it. ``probes``: answers of earlier searches
    in the same database state, reused (see :class:`ProbeCache`)."""
    most = fts.common_term_limit(scope_rows, share) if share < 1.0 else None
    state = probes.state(conn) if probes is not None else None
    kept: dict[str, AbstractSet[int]] = {}
    for token in tokens:
        key = (tuple(scope.items()), token, most)
        known = probes.get(key, state) if probes is not None and state is not None else None
        if known is not None:
            (found,) = known
        else:
            found = _probe(conn, token, scope, most)
            if probes is not None and state is not None:
                probes.put(key, state, found)
        if found:
            kept[token] = found
    return kept


def _probe(conn: sqlite3.Connection, token: str, scope: Scope, most: int | None) -> frozenset[int] | None:
    """The scope's rows holding ``token``; None when more than ``most`` do (common)."""
    expression = fts.term_expression(token, scope)
    # one query a token: its rows, at most one past the common-term limit (more
    # than the limit means common: skipped, as a separate count would decide)
    if most is None:
        found = conn.execute("SELECT rowid FROM records_fts WHERE records_fts MATCH ?",
                             [expression]).fetchall()
    else:
        found = conn.execute("SELECT rowid FROM records_fts WHERE records_fts MATCH ? LIMIT ?",
                             [expression, most + 1]).fetchall()
        if len(found) > most:
            return None
    return frozenset(seq for (seq,) in found)


#: a probe's answer: the rows holding the token (possibly none), None when common
Probe = frozenset[int] | None
ProbeKey = tuple[tuple[tuple[str, str], ...], str, int | None]


class ProbeCache:
    """The answers of the per-token probes (a scope's rows holding a query word, or
    "common"), kept for the database state they were read in.

    Queries repeat their words ("what", "did", "when"), and a probe costs an FTS5 query
    (about 25 us at 1k rows, a quarter of a keyword search). Every write transaction,
    from any process, bumps ``state.generation`` and a reset bumps ``epoch``; an answer
    is reused only when the search's snapshot has the very generation and epoch it was
    read in, so it is exactly what the probe would return. Bounded: at most
    ``entries`` answers of at most ``max_rows`` rows each (larger ones are not kept),
    least recently used dropped first; about 512 x 512 row numbers (~20 MB) at worst."""

    def __init__(self, entries: int = 512, max_rows: int = 512) -> None:
        self._entries = entries
        self._max_rows = max_rows
        self._answers: OrderedDict[ProbeKey, tuple[tuple[int, int], Probe]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def state(conn: sqlite3.Connection) -> tuple[int, int] | None:
        """The snapshot's (generation, epoch); call inside the search's read transaction."""
        row = conn.execute("SELECT generation, epoch FROM state WHERE id = 1").fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def get(self, key: ProbeKey, state: tuple[int, int]) -> tuple[Probe] | None:
        """The answer read in ``state`` (in a 1-tuple: None is an answer), else None."""
        with self._lock:
            found = self._answers.get(key)
            if found is None or found[0] != state:
                return None
            self._answers.move_to_end(key)
            return (found[1],)

    def put(self, key: ProbeKey, state: tuple[int, int], answer: Probe) -> None:
        if answer is not None and len(answer) > self._max_rows:
            return
        with self._lock:
            self._answers[key] = (state, answer)
            self._answers.move_to_end(key)
            while len(self._answers) > self._entries:
                self._answers.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()

"""Keyword search of the SQLite store: FTS5 candidates, scored by :mod:`fts`."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from memplane.models import Scope, SearchHit
from memplane.providers.base import LightHit
from memplane.stores.sqlite import fts
from memplane.stores.sqlite.codec import record_from_row
from memplane.stores.sqlite.light import LIGHT_COLUMNS, light_hit
from memplane.stores.sqlite.sql import CHUNK, COLUMNS, marks


def keyword_hits(conn: sqlite3.Connection, tokens: list[str], scope: Scope, scope_rows: int,
                 common_term_share: float, where: str, params: list[Any],
                 limit: int) -> list[SearchHit]:
    """The best ``limit`` rows holding distinctive query tokens, inside ``where``."""
    ranked = keyword_ranked(conn, tokens, scope, scope_rows, common_term_share, where, params,
                            limit, COLUMNS)
    return [SearchHit(record=record_from_row(row), score=score) for score, row in ranked]


def keyword_light(conn: sqlite3.Connection, tokens: list[str], scope: Scope, scope_rows: int,
                  common_term_share: float, where: str, params: list[Any],
                  limit: int) -> list[LightHit]:
    """:func:`keyword_hits` as light hits: the same rows, order and scores, no records."""
    ranked = keyword_ranked(conn, tokens, scope, scope_rows, common_term_share, where, params,
                            limit, LIGHT_COLUMNS)
    return [light_hit(row, score) for score, row in ranked]


def keyword_ranked(conn: sqlite3.Connection, tokens: list[str], scope: Scope, scope_rows: int,
                   common_term_share: float, where: str, params: list[Any], limit: int,
                   columns: str) -> list[tuple[float, Sequence[Any]]]:
    """Scores and rows (``columns``, after the seq) of the best ``limit`` matches, best first."""
    postings = distinctive(conn, tokens, scope, scope_rows, common_term_share)
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


def _candidates(postings: dict[str, set[int]], scope: Scope,
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
                scope_rows: int, share: float) -> dict[str, set[int]]:
    """The query tokens that are not common in the scope (see ``fts`` on why), each
    with the rows of the scope that hold it."""
    most = fts.common_term_limit(scope_rows, share) if share < 1.0 else None
    kept: dict[str, set[int]] = {}
    for token in tokens:
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
                continue
        if found:
            kept[token] = {seq for (seq,) in found}
    return kept

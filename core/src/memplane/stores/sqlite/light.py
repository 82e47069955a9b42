"""Light hits of the SQLite store: a candidate's id and the few fields fusion reads,
without building its :class:`~memplane.models.MemoryRecord` (metadata JSON, sources,
five datetimes, a pydantic object), which was most of a search's cost.

Each hit keeps its whole row (the record's columns, as read) as ``row``, and
``Candidates.build`` (:func:`~memplane.stores.sqlite.codec.record_from_row`) makes the
records of the final results from it: reading the ~15 columns of 50-100 candidates
costs less than a second transaction and call for the 10 records, and the records
are then of the very snapshot that scored them."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from memplane.models import Scope
from memplane.providers.base import LightHit
from memplane.stores.sqlite.sql import COLUMNS, marks, scope_sql

#: the columns :func:`light_hit` reads, after the row's seq: the record's (codec order)
LIGHT_COLUMNS = COLUMNS


def light_hit(row: Sequence[Any], score: float) -> LightHit:
    """A hit from a row selected with :data:`LIGHT_COLUMNS` (values as written); the
    row itself rides along for ``record_from_row``."""
    observed = row[9]
    return LightHit(row[0], score, row[4], _scope(row[1], row[2], row[3]),
                    datetime.fromisoformat(row[7]),
                    None if observed is None else datetime.fromisoformat(observed), row)


def light_rows(conn: sqlite3.Connection, seqs: list[int], scope: Scope) -> dict[int, Sequence[Any]]:
    """The light columns of these rows of the scope, by seq."""
    # unary + keeps SQLite from scanning a scope index instead of looking up rowids
    where, scope_params = scope_sql(scope, alias="+r")
    rows = conn.execute(
        f"SELECT r.seq, {LIGHT_COLUMNS} FROM records r WHERE r.seq IN ({marks(len(seqs))}) "
        f"AND {where}",
        [*seqs, *scope_params],
    )
    return {row[0]: row[1:] for row in rows}


@functools.lru_cache(maxsize=4096)
def _scope(user_id: str | None, agent_id: str | None, run_id: str | None) -> Scope:
    # scopes are immutable: the hits of one scope share one instance
    return Scope(user_id=user_id, agent_id=agent_id, run_id=run_id)

"""Light hits of the SQLite store: a candidate's id and the few columns fusion reads,
without building its :class:`~memplane.models.MemoryRecord` (metadata JSON, sources,
five datetimes, a pydantic object), which was most of a search's cost."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from memplane.models import Scope
from memplane.providers.base import LightHit
from memplane.stores.sqlite.sql import marks, scope_sql

#: the columns :func:`light_hit` reads, after the row's seq
LIGHT_COLUMNS = "r.id, r.text, r.user_id, r.agent_id, r.run_id, r.created_at, r.observed_at"


def light_hit(row: Sequence[Any], score: float) -> LightHit:
    """A hit from a row selected with :data:`LIGHT_COLUMNS` (values as written)."""
    rid, text, user_id, agent_id, run_id, created, observed = row
    return LightHit(rid, score, text, _scope(user_id, agent_id, run_id),
                    datetime.fromisoformat(created),
                    None if observed is None else datetime.fromisoformat(observed))


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

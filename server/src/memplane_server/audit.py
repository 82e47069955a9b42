"""The append-only audit log: who (key id) did what (operation) where (scope) to
which memories, and when. Triggers in the database refuse UPDATE and DELETE."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from memplane.models import Scope
from memplane_server.db import ServerDB


class AuditEntry(BaseModel):
    seq: int
    at: datetime
    key_id: str
    operation: str
    scope: dict[str, str]
    memory_ids: list[str] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditLog:
    def __init__(self, db: ServerDB) -> None:
        self.db = db

    def record(self, *, key_id: str, operation: str, scope: Scope | None,
               memory_ids: Sequence[str] = (), detail: dict[str, Any] | None = None) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO audit (at, key_id, operation, scope, memory_ids, detail)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (datetime.now(UTC).isoformat(), key_id, operation,
                 json.dumps(dict(scope.items()) if scope else {}),
                 json.dumps(list(memory_ids)), json.dumps(detail or {})),
            )

    def query(self, *, key_id: str | None = None, operation: str | None = None,
              user_id: str | None = None, memory_id: str | None = None,
              after: int = 0, limit: int = 100) -> list[AuditEntry]:
        clauses: list[str] = ["seq > ?"]
        params: list[object] = [after]
        for column, value in (("key_id", key_id), ("operation", operation)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if user_id is not None:
            clauses.append("json_extract(scope, '$.user_id') = ?")
            params.append(user_id)
        if memory_id is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(memory_ids) WHERE value = ?)")
            params.append(memory_id)
        sql = ("SELECT seq, at, key_id, operation, scope, memory_ids, detail FROM audit WHERE "
               + " AND ".join(clauses) + " ORDER BY seq LIMIT ?")
        with self.db.connect() as conn:
            rows = conn.execute(sql, (*params, limit)).fetchall()
        return [AuditEntry(seq=r[0], at=r[1], key_id=r[2], operation=r[3], scope=json.loads(r[4]),
                           memory_ids=json.loads(r[5]), detail=json.loads(r[6])) for r in rows]

    def count(self) -> int:
        with self.db.connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0])

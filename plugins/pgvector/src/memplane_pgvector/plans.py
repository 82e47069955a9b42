"""SQL plans shared by the sync and the async store.

A plan is a generator that yields :class:`Step` objects and receives each step's
result; a driver (psycopg's sync or async connection) runs it inside one
transaction. The SQL and the decisions live here once; the two drivers only
execute. A ``guarded`` step runs in a savepoint: a unique violation is thrown
back into the plan (which turns it into a typed error after looking up why)
instead of aborting the transaction.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np

from memplane.errors import (
    Conflict,
    DuplicateMemory,
    IdOwnedByAnotherScope,
    ValidationError,
)
from memplane.models import Change, HistoryEntry, MemoryRecord, Scope

T = TypeVar("T")


@dataclass
class Step:
    sql: str
    params: Sequence[Any] | None = None
    #: executemany over these parameter sets (returning one row list per set)
    many: Sequence[Sequence[Any]] | None = None
    returning: bool = False
    guarded: bool = False


Plan = Generator[Step, Any, T]

RECORD_COLUMNS = (
    "r.id, r.user_id, r.agent_id, r.run_id, r.text, r.metadata, r.hash, r.created_at, "
    "r.updated_at, r.observed_at, r.deleted_at, r.expires_at, r.source, r.attributed_to, r.version"
)
N_RECORD_COLUMNS = 15

#: the memories columns a create writes, in insert_row's order (COPY uses them too)
INSERT_COLUMNS = (
    "id, user_id, agent_id, run_id, scope_key, text, fts_text, metadata, hash, created_at, "
    "updated_at, observed_at, deleted_at, expires_at, source, attributed_to, version, embedding"
)

_INSERT = f"""
INSERT INTO {{s}}.memories ({INSERT_COLUMNS})
VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s::vector)
"""

# the compare-and-set: only the version the writer read is replaced; a vector of
# NULL keeps the stored one
_UPDATE = """
UPDATE {s}.memories AS r SET text = %s, fts_text = %s, metadata = %s::jsonb, hash = %s,
    created_at = %s, updated_at = %s, observed_at = %s, deleted_at = %s, expires_at = %s,
    source = %s::jsonb, attributed_to = %s, version = %s,
    embedding = coalesce(%s::vector, r.embedding)
WHERE r.id = %s AND r.scope_key = %s AND r.version = %s
RETURNING r.id
"""

_INSERT_HISTORY = """
INSERT INTO {s}.history (id, memory_id, user_id, agent_id, run_id, event, old_text, new_text,
    at, actor, reason)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO NOTHING
"""


def scope_key(scope: Scope) -> str:
    return json.dumps([scope.user_id, scope.agent_id, scope.run_id])


def scope_sql(scope: Scope, alias: str = "r") -> tuple[str, list[Any]]:
    """Every query is constrained by the scope: the ids it sets must be equal."""
    items = scope.items()
    if not items:
        # the contract requires a scope; never fall back to "every tenant"
        raise ValidationError("a scope is required: set user_id, agent_id or run_id")
    return " AND ".join(f"{alias}.{name} = %s" for name, _ in items), [v for _, v in items]


def visibility_sql(include_deleted: bool, include_expired: bool, alias: str = "r") -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    if not include_deleted:
        parts.append(f"{alias}.deleted_at IS NULL")
    if not include_expired:
        parts.append(f"({alias}.expires_at IS NULL OR {alias}.expires_at > %s)")
        params.append(datetime.now(UTC))
    return (" AND ".join(parts) or "true"), params


def scope_settings_step(scope: Scope) -> Step:
    """Transaction-local scope settings read by the row-level-security policy."""
    return Step(
        "SELECT set_config('memplane.user_id', %s, true), set_config('memplane.agent_id', %s, true), "
        "set_config('memplane.run_id', %s, true)",
        [scope.user_id or "", scope.agent_id or "", scope.run_id or ""],
    )


def to_json(value: Any, what: str) -> str:
    from pydantic_core import to_jsonable_python

    try:
        text = json.dumps(to_jsonable_python(value), allow_nan=False, ensure_ascii=False,
                          separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{what} must be JSON-serialisable without NaN or Infinity ({exc}); "
            f"convert the offending value to a string or number"
        ) from None
    if "\\u0000" in text:
        raise ValidationError(f"{what} holds a NUL character, which PostgreSQL cannot store")
    return text


def check_text(value: str | None, what: str) -> None:
    if value is not None and "\x00" in value:
        raise ValidationError(f"{what} holds a NUL character, which PostgreSQL cannot store; remove it")


def fold(text: str) -> str:
    """Case- and accent-folded, as the sqlite store's unicode61 tokenizer indexes."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fts_text(text: str) -> str:
    from memplane.stores.sqlite import fts

    return fold(fts.index_text(text))


def as_vector(vector: Sequence[float], dimension: int, what: str) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or array.shape[0] != dimension:
        raise ValidationError(
            f"{what} has shape {array.shape}, the store holds {dimension}-dimensional vectors: "
            f"embed with the embedder the store was opened for"
        )
    if not bool(np.isfinite(array).all()):
        raise ValidationError(f"{what} contains NaN or infinity")
    return array


def record_from_row(row: Sequence[Any]) -> MemoryRecord:
    (rid, user_id, agent_id, run_id, text, metadata, hash_, created, updated,
     observed, deleted, expires, source, attributed_to, version) = row[:N_RECORD_COLUMNS]
    return MemoryRecord(
        id=rid, text=text, scope=Scope(user_id=user_id, agent_id=agent_id, run_id=run_id),
        metadata=metadata, hash=hash_, created_at=created, updated_at=updated,
        observed_at=observed, deleted_at=deleted, expires_at=expires, source=source,
        attributed_to=attributed_to, version=int(version),
    )


def _record_values(rec: MemoryRecord) -> dict[str, Any]:
    check_text(rec.id, "a memory id")
    check_text(rec.text, f"the text of memory {rec.id!r}")
    check_text(rec.attributed_to, f"attributed_to of memory {rec.id!r}")
    for _, value in rec.scope.items():
        check_text(value, "a scope id")
    return {
        "text": rec.text,
        "fts_text": fts_text(rec.text),
        "metadata": to_json(rec.metadata, f"metadata of memory {rec.id!r}"),
        "source": to_json([p.model_dump(exclude_none=True) for p in rec.source],
                          f"source of memory {rec.id!r}"),
    }


def insert_row(rec: MemoryRecord, values: dict[str, Any] | None = None,
               vector: np.ndarray | None = None) -> list[Any]:
    """The INSERT_COLUMNS values of a new memory (``values``: its _record_values)."""
    v = values if values is not None else _record_values(rec)
    scope = rec.scope
    return [rec.id, scope.user_id, scope.agent_id, scope.run_id, scope_key(scope), v["text"],
            v["fts_text"], v["metadata"], rec.hash, rec.created_at, rec.updated_at,
            rec.observed_at, rec.deleted_at, rec.expires_at, v["source"], rec.attributed_to,
            rec.version, vector]


def _history_row(h: HistoryEntry, scope: Scope) -> list[Any]:
    for value in (h.id, h.old_text, h.new_text, h.actor, h.reason):
        check_text(value, f"history entry {h.id!r}")
    return [h.id, h.memory_id, scope.user_id, scope.agent_id, scope.run_id, h.event.value,
            h.old_text, h.new_text, h.at, h.actor, h.reason]


def _runs(changes: Sequence[Change]) -> list[list[Change]]:
    """Consecutive changes of the same scope and kind (create / compare-and-set)."""
    runs: list[list[Change]] = []
    for change in changes:
        key = (scope_key(change.record.scope), change.expected_version is None)
        if runs and (scope_key(runs[-1][0].record.scope), runs[-1][0].expected_version is None) == key:
            runs[-1].append(change)
        else:
            runs.append([change])
    return runs


def check_changes(changes: Sequence[Change], dimension: int | None) -> list[np.ndarray | None]:
    """Argument checks that need the store's state; returns each change's vector."""
    vectors: list[np.ndarray | None] = []
    for change in changes:
        rec = change.record
        if change.history is not None and change.history.memory_id != rec.id:
            raise ValidationError(
                f"history entry {change.history.id!r} names memory {change.history.memory_id!r} "
                f"but belongs to a change of {rec.id!r}"
            )
        if rec.scope.is_empty:
            raise ValidationError(f"memory {rec.id!r} has no scope: set user_id, agent_id or run_id")
        expected = change.expected_version
        if expected is not None and rec.version != expected + 1:
            raise ValidationError(
                f"memory {rec.id!r}: a change expecting version {expected} must carry version "
                f"{expected + 1}, not {rec.version}"
            )
        if change.vector is None:
            vectors.append(None)
            continue
        if dimension is None:
            raise ValidationError("the pgvector store is not open: call open(dimension) first")
        vectors.append(as_vector(change.vector, dimension, f"the vector of memory {rec.id!r}"))
    return vectors


def apply_plan(s: str, changes: Sequence[Change], vectors: Sequence[np.ndarray | None],
               rls: bool) -> Plan[None]:
    """Write every change and its history in the caller's transaction; versions are
    compared in SQL. Raises Conflict / DuplicateMemory / IdOwnedByAnotherScope."""
    vector_of = {id(c): v for c, v in zip(changes, vectors, strict=True)}
    insert, update, history = (q.replace("{s}", s) for q in (_INSERT, _UPDATE, _INSERT_HISTORY))
    for run in _runs(changes):
        scope = run[0].record.scope
        key = scope_key(scope)
        if rls:
            yield scope_settings_step(scope)
        values = [_record_values(c.record) for c in run]
        if run[0].expected_version is None:
            rows = [insert_row(c.record, v, vector_of[id(c)]) for c, v in zip(run, values, strict=True)]
            try:
                yield Step(insert, many=rows, guarded=True)
            except Exception as exc:
                if not _is_unique_violation(exc):
                    raise
                yield from _explain_create(s, run, key, _constraint(exc))
                raise  # pragma: no cover - _explain_create always raises
        else:
            rows = [
                [v["text"], v["fts_text"], v["metadata"], c.record.hash, c.record.created_at,
                 c.record.updated_at, c.record.observed_at, c.record.deleted_at,
                 c.record.expires_at, v["source"], c.record.attributed_to, c.record.version,
                 vector_of[id(c)], c.record.id, key, c.expected_version]
                for c, v in zip(run, values, strict=True)
            ]
            try:
                results = yield Step(update, many=rows, returning=True, guarded=True)
            except Exception as exc:
                if not _is_unique_violation(exc):
                    raise
                yield from _explain_duplicate(s, run, key)
                raise  # pragma: no cover
            for change, found in zip(run, results, strict=True):
                if not found:
                    yield from _explain_update(s, change, key, insert if rls else None)
        entries = [_history_row(c.history, scope) for c in run if c.history is not None]
        if entries:
            yield Step(history, many=entries)


def _is_unique_violation(exc: BaseException) -> bool:
    return getattr(exc, "sqlstate", None) == "23505"


def _constraint(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    return str(getattr(diag, "constraint_name", "") or "")


def _explain_create(s: str, run: list[Change], key: str, constraint: str) -> Plan[None]:
    ids = [c.record.id for c in run]
    if constraint.endswith("_live_hash"):
        yield from _explain_duplicate(s, run, key)
    rows = yield Step(
        f"SELECT r.id, r.scope_key, r.version FROM {s}.memories r WHERE r.id = ANY(%s)", [ids])
    for rid, stored_key, version in rows:
        if stored_key == key:
            raise Conflict(memory_id=rid, expected=None, actual=int(version),
                           message=f"memory {rid!r} already exists (version {version}); a create "
                                   f"must use a new id: re-read the memory and update it instead")
    if rows:
        raise _owned_elsewhere(rows[0][0])
    seen: set[str] = set()
    for rid in ids:
        if rid in seen:
            raise Conflict(memory_id=rid, expected=None, actual=None,
                           message=f"memory {rid!r} is created twice in one batch")
        seen.add(rid)
    # not visible (row-level security hides other scopes) yet the key is taken
    raise _owned_elsewhere(ids[0])


def _owned_elsewhere(rid: str) -> IdOwnedByAnotherScope:
    return IdOwnedByAnotherScope(
        f"memory id {rid!r} belongs to another scope; a memory is never moved between "
        f"scopes: use a new id"
    )


def _explain_duplicate(s: str, run: list[Change], key: str) -> Plan[None]:
    hashes = [c.record.hash for c in run]
    ids = [c.record.id for c in run]
    rows = yield Step(
        f"SELECT r.id, r.hash FROM {s}.memories r WHERE r.scope_key = %s AND r.hash = ANY(%s) "
        f"AND r.deleted_at IS NULL AND NOT (r.id = ANY(%s))", [key, hashes, ids])
    by_hash = {h: rid for rid, h in rows}
    for change in run:
        if change.record.deleted_at is None and change.record.hash in by_hash:
            raise DuplicateMemory(memory_id=change.record.id, existing_id=by_hash[change.record.hash])
    first: dict[str, str] = {}
    for change in run:  # two live records of one batch with the same text
        if change.record.deleted_at is None:
            other = first.setdefault(change.record.hash, change.record.id)
            if other != change.record.id:
                raise DuplicateMemory(memory_id=change.record.id, existing_id=other)
    raise DuplicateMemory(memory_id=run[0].record.id, existing_id="")


def _explain_update(s: str, change: Change, key: str, probe: str | None = None) -> Plan[None]:
    rid = change.record.id
    rows = yield Step(
        f"SELECT r.scope_key, r.version FROM {s}.memories r WHERE r.id = %s", [rid])
    mine = [int(v) for k, v in rows if k == key]
    if rows and not mine:
        raise _owned_elsewhere(rid)
    if not rows and probe is not None:
        # Row-level security hides other scopes' rows, not their keys: insert a
        # placeholder of our scope (no hash, no vector) in a savepoint. A taken key
        # means another scope owns the id; otherwise the Conflict below rolls the
        # placeholder back with the rest of the transaction.
        rec, scope = change.record, change.record.scope
        try:
            yield Step(probe, many=[[rid, scope.user_id, scope.agent_id, scope.run_id, key, "", "",
                                     "{}", "", rec.created_at, rec.updated_at, None, None, None,
                                     "[]", None, 0, None]], guarded=True)
        except Exception as exc:
            if not _is_unique_violation(exc):
                raise
            raise _owned_elsewhere(rid) from None
    raise Conflict(memory_id=rid, expected=change.expected_version,
                   actual=mine[0] if mine else None)


def is_finite_number(value: float) -> bool:
    return math.isfinite(value)

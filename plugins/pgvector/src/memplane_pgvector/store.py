"""The ``pgvector`` vector store: PostgreSQL with pgvector, psycopg 3 and its pools.

Records, vectors (an untyped ``vector`` column), JSONB metadata, a ``tsvector`` for
keyword search and the history live in one schema. Every change and its history are
written in one transaction and compare-and-set on ``version`` in SQL (contract v2).
Search is exact for scopes up to ``exact_search_max_rows`` rows and goes through an
HNSW index (cosine, with pgvector's iterative index scans) above that.

The SQL lives once in :mod:`memplane_pgvector.plans`; this module runs the plans on
psycopg's sync pool (``_open``, ``_apply``, ...) and on its async pool (``_aopen``,
``_aapply``, ...), natively, without threads. psycopg is imported when a store is
opened, not when this module is imported.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from memplane.errors import (
    ConfigurationError,
    DimensionMismatch,
    MemplaneError,
    ProviderError,
    ValidationError,
)
from memplane.filters import Filter, parse_filter, require_supported
from memplane.models import Change, HistoryEntry, MemoryRecord, Page, Scope, SearchHit
from memplane.providers.base import CONTRACT_VERSION, ProviderConfig, VectorStore
from memplane_pgvector import schema as ddl
from memplane_pgvector.bulk import with_index_rebuild
from memplane_pgvector.config import PgVectorConfig
from memplane_pgvector.filter_sql import FilterTranslator
from memplane_pgvector.plans import (
    N_RECORD_COLUMNS,
    RECORD_COLUMNS,
    Plan,
    Step,
    T,
    apply_plan,
    as_vector,
    check_changes,
    fold,
    record_from_row,
    scope_settings_step,
    scope_sql,
    visibility_sql,
)

log = logging.getLogger("memplane_pgvector")
_SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s))"


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError(f"limit must be a positive integer, got {limit!r}")


def _floats(vector: Any) -> list[float]:
    """A loaded vector (pgvector.Vector or numpy array) as the floats stored (float32)."""
    array = vector.to_numpy() if hasattr(vector, "to_numpy") else vector
    return [float(x) for x in np.asarray(array, dtype=np.float32)]


def _parse_cursor(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    if not isinstance(cursor, str) or not cursor.isascii() or not cursor.isdigit():
        raise ValidationError(f"invalid cursor {cursor!r}: pass back the next_cursor of the previous page")
    return int(cursor)


class PgVectorStore(VectorStore):
    """Memories on PostgreSQL + pgvector; see ``docs/providers/pgvector.md``."""

    name: ClassVar[str] = "pgvector"
    contract_version: ClassVar[int] = CONTRACT_VERSION
    Config: ClassVar[type[ProviderConfig]] = PgVectorConfig
    capabilities: ClassVar[frozenset[str]] = frozenset(
        ["keyword_search", "persistent", "atomic_apply", "concurrent_writers", "async_native",
         "vector_read", "store_info"]
    )
    filter_operators: ClassVar[frozenset[str]] = frozenset(
        ["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "exists",
         "AND", "OR", "NOT"]
    )

    def __init__(self, config: ProviderConfig | Mapping[str, Any] | None = None, **overrides: Any):
        super().__init__(config, **overrides)
        self.cfg: PgVectorConfig = self.config
        self._s = self.cfg.db_schema  # validated identifier; the only text spliced into SQL
        self._pool: Any = None
        self._apool: Any = None
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._alock: asyncio.Lock | None = None
        self._lock = threading.Lock()
        self._schema_ready = False
        self._dimension: int | None = None

    # --- connections -----------------------------------------------------------------------
    def _kwargs(self) -> dict[str, Any]:
        return {"autocommit": False, "prepare_threshold": self.cfg.prepare_threshold}

    @staticmethod
    def _configure(conn: Any) -> None:
        from pgvector.psycopg import register_vector

        register_vector(conn)
        conn.execute("SET timezone TO 'UTC'")
        conn.commit()

    @staticmethod
    async def _aconfigure(conn: Any) -> None:
        from pgvector.psycopg import register_vector_async

        await register_vector_async(conn)
        await conn.execute("SET timezone TO 'UTC'")
        await conn.commit()

    def _sync_pool(self) -> Any:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._ensure_schema_sync()
                    from psycopg_pool import ConnectionPool

                    self._pool = ConnectionPool(
                        self.cfg.conninfo(), min_size=self.cfg.pool_min_size,
                        max_size=self.cfg.pool_max_size, timeout=self.cfg.pool_timeout,
                        kwargs=self._kwargs(), configure=self._configure, open=True,
                        name=f"memplane-{self._s}",
                    )
        return self._pool

    async def _async_pool(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._apool is not None and self._aloop is loop:
            return self._apool
        if self._alock is None or self._aloop is not loop:
            self._alock = asyncio.Lock()
        async with self._alock:
            if self._apool is not None and self._aloop is loop:
                return self._apool
            # a pool belongs to the event loop that opened it; a new loop gets a new pool
            self._apool = None
            await self._ensure_schema_async()
            from psycopg_pool import AsyncConnectionPool

            pool = AsyncConnectionPool(
                self.cfg.conninfo(), min_size=self.cfg.pool_min_size,
                max_size=self.cfg.pool_max_size, timeout=self.cfg.pool_timeout,
                kwargs=self._kwargs(), configure=self._aconfigure, open=False,
                name=f"memplane-{self._s}-async",
            )
            await pool.open()
            self._apool, self._aloop = pool, loop
            return pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        apool, self._apool = self._apool, None
        if apool is not None and self._aloop is not None and not self._aloop.is_closed():
            if self._aloop.is_running():
                self._aloop.create_task(apool.close())
            else:
                self._aloop.run_until_complete(apool.close())
        self._aloop = None

    async def aclose(self) -> None:
        apool, self._apool = self._apool, None
        if apool is not None and self._aloop is asyncio.get_running_loop():
            await apool.close()
        self._aloop = None
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.close)

    def __enter__(self) -> PgVectorStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- running plans ------------------------------------------------------------------------
    def _errors(self, exc: BaseException) -> BaseException:
        """A psycopg error as memplane's: connection trouble is retryable."""
        import psycopg

        if isinstance(exc, MemplaneError):
            return exc
        if isinstance(exc, UnicodeEncodeError):
            return ValidationError(
                f"text sent to the pgvector store is not valid Unicode ({exc.reason}); "
                f"remove lone surrogate characters")
        if isinstance(exc, psycopg.errors.DataError | psycopg.DataError):
            return ValidationError(f"pgvector store refused a value: {exc}")
        retryable = isinstance(exc, psycopg.OperationalError) or getattr(exc, "sqlstate", "") in (
            "40001", "40P01", "55P03", "57P01")
        return ProviderError(
            f"pgvector store ({self._s}): {type(exc).__name__}: {exc}".strip(),
            provider=self.name, retryable=retryable,
        )

    @staticmethod
    def _exec(cur: Any, step: Step) -> Any:
        if step.many is not None:
            if not step.many:
                return []
            if not step.returning:
                cur.executemany(step.sql, step.many)
                return None
            cur.executemany(step.sql, step.many, returning=True)
            out = []
            while True:
                out.append(cur.fetchall())
                if not cur.nextset():
                    return out
        cur.execute(step.sql, step.params)
        return cur.fetchall() if cur.description is not None else None

    @staticmethod
    async def _aexec(cur: Any, step: Step) -> Any:
        if step.many is not None:
            if not step.many:
                return []
            if not step.returning:
                await cur.executemany(step.sql, step.many)
                return None
            await cur.executemany(step.sql, step.many, returning=True)
            out = []
            while True:
                out.append(await cur.fetchall())
                if not cur.nextset():
                    return out
        await cur.execute(step.sql, step.params)
        return await cur.fetchall() if cur.description is not None else None

    def _drive(self, conn: Any, cur: Any, plan: Plan[T]) -> T:
        """Feed each step's result back into the plan until it returns."""
        import psycopg

        result: Any = None
        try:
            step = next(plan)
            while True:
                try:
                    if step.guarded:
                        with conn.transaction():  # a savepoint
                            result = self._exec(cur, step)
                    else:
                        result = self._exec(cur, step)
                except psycopg.errors.UniqueViolation as exc:
                    step = plan.throw(exc)
                    continue
                step = plan.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    async def _adrive(self, conn: Any, cur: Any, plan: Plan[T]) -> T:
        import psycopg

        result: Any = None
        try:
            step = next(plan)
            while True:
                try:
                    if step.guarded:
                        async with conn.transaction():
                            result = await self._aexec(cur, step)
                    else:
                        result = await self._aexec(cur, step)
                except psycopg.errors.UniqueViolation as exc:
                    step = plan.throw(exc)
                    continue
                step = plan.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def _run(self, plan: Plan[T], scope: Scope | None = None) -> T:
        """Run a plan in one transaction on a pooled connection."""
        import psycopg

        pool = self._sync_pool()
        try:
            with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                if scope is not None and self.cfg.row_level_security:
                    self._exec(cur, scope_settings_step(scope))
                return self._drive(conn, cur, plan)
        except (psycopg.Error, UnicodeEncodeError) as exc:
            raise self._errors(exc) from exc

    async def _arun(self, plan: Plan[T], scope: Scope | None = None) -> T:
        import psycopg

        pool = await self._async_pool()
        try:
            async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                if scope is not None and self.cfg.row_level_security:
                    await self._aexec(cur, scope_settings_step(scope))
                return await self._adrive(conn, cur, plan)
        except (psycopg.Error, UnicodeEncodeError) as exc:
            raise self._errors(exc) from exc

    # --- schema -------------------------------------------------------------------------------
    def _schema_plan(self, *, migrate: bool, rls: bool) -> Plan[None]:
        """Check the schema version; create the tables in an empty schema (when
        ``create_schema``) or, with ``migrate``, apply the missing migrations."""
        s = self._s
        yield Step(_SCHEMA_LOCK, [f"memplane:{s}"])
        [(exists,)] = yield Step("SELECT to_regclass(%s) IS NOT NULL", [f"{s}.schema_version"])
        version = 0
        if exists:
            [(stored,)] = yield Step(f"SELECT coalesce(max(version), 0) FROM {s}.schema_version")
            version = int(stored)
        if version > ddl.SCHEMA_VERSION:
            raise ConfigurationError(
                f"the pgvector schema {s!r} is at version {version}, newer than this "
                f"memplane-pgvector understands ({ddl.SCHEMA_VERSION}); upgrade memplane-pgvector")
        if version == ddl.SCHEMA_VERSION and not rls:
            return
        if not migrate:
            if version == 0 and not self.cfg.create_schema:
                raise ConfigurationError(
                    f"the pgvector schema {s!r} has no memplane tables and create_schema is off: "
                    f"run `python -m memplane_pgvector migrate --dsn ... --schema {s}`")
            if version > 0:
                raise ConfigurationError(
                    f"the pgvector schema {s!r} is at version {version}, this memplane-pgvector "
                    f"needs {ddl.SCHEMA_VERSION}; tables are never altered at run time: run "
                    f"`python -m memplane_pgvector migrate --dsn ... --schema {s}` (or store.migrate())")
        yield Step(f"CREATE SCHEMA IF NOT EXISTS {s}")
        yield Step(ddl.CREATE_VERSION_TABLE.replace("{s}", s))
        for target in range(version + 1, ddl.SCHEMA_VERSION + 1):
            for statement in ddl.MIGRATIONS[target]:
                yield Step(statement.replace("{s}", s))
            yield Step(f"INSERT INTO {s}.schema_version (version) VALUES (%s)", [target])
        if rls:
            for statement in ddl.ENABLE_RLS:
                yield Step(statement.replace("{s}", s))

    def _raw_connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.cfg.conninfo(), autocommit=False)

    def _run_raw(self, plan: Plan[None]) -> None:
        import psycopg

        try:
            with self._raw_connect() as conn, conn.transaction(), conn.cursor() as cur:
                self._drive(conn, cur, plan)
        except psycopg.Error as exc:
            raise self._errors(exc) from exc

    def _ensure_schema_sync(self) -> None:
        if self._schema_ready:
            return
        self._run_raw(self._schema_plan(migrate=False, rls=False))
        self._schema_ready = True

    async def _ensure_schema_async(self) -> None:
        if self._schema_ready:
            return
        import psycopg

        plan = self._schema_plan(migrate=False, rls=False)
        try:
            conn = await psycopg.AsyncConnection.connect(self.cfg.conninfo(), autocommit=False)
            async with conn, conn.transaction(), conn.cursor() as cur:
                await self._adrive(conn, cur, plan)
        except psycopg.Error as exc:
            raise self._errors(exc) from exc
        self._schema_ready = True

    def migrate(self, dimension: int | None = None) -> None:
        """Create the tables, or migrate them to this version, explicitly (as the owner
        role). With ``row_level_security`` also enables and forces the policies. With
        ``dimension`` also records it and builds the HNSW index (index DDL needs the
        owner, so an application role that is not the owner needs this step)."""
        self._run_raw(self._schema_plan(migrate=True, rls=self.cfg.row_level_security))
        self._schema_ready = True
        if dimension is not None:
            self._check_dimension(dimension)
            self._run_raw(self._open_plan(dimension))

    # --- contract v2 hooks (sync) ------------------------------------------------------------
    def _open_plan(self, dimension: int) -> Plan[None]:
        s = self._s
        yield Step(_SCHEMA_LOCK, [f"memplane:{s}"])
        rows = yield Step(f"SELECT value FROM {s}.meta WHERE key = 'dimension'")
        stored = int(rows[0][0]) if rows else None
        if stored is not None and stored != dimension:
            [(has_vectors,)] = yield Step(
                f"SELECT EXISTS (SELECT 1 FROM {s}.memories WHERE embedding IS NOT NULL)")
            # under row-level security this session cannot see every row: never re-size then
            if has_vectors or self.cfg.row_level_security:
                raise DimensionMismatch(store=f"pgvector:{s}", store_dimension=stored,
                                        embedder_dimension=dimension)
            yield Step(f"DROP INDEX IF EXISTS {s}.{ddl.hnsw_index_name(stored)}")
        if stored != dimension:
            yield Step(
                f"INSERT INTO {s}.meta (key, value) VALUES ('dimension', %s) "
                f"ON CONFLICT (key) DO UPDATE SET value = excluded.value", [str(dimension)])
        if not self.cfg.hnsw_index:
            return
        [(has_index,)] = yield Step("SELECT to_regclass(%s) IS NOT NULL",
                                    [f"{s}.{ddl.hnsw_index_name(dimension)}"])
        if not has_index:
            yield Step("SELECT set_config('maintenance_work_mem', %s, true)",
                       [self.cfg.index_build_memory])
            yield Step(ddl.hnsw_index_sql(dimension, self.cfg.hnsw_m,
                                          self.cfg.hnsw_ef_construction).replace("{s}", s))

    @staticmethod
    def _check_dimension(dimension: int) -> None:
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
            raise ConfigurationError(f"vector dimension must be a positive integer, got {dimension!r}")
        if dimension > 2000:
            raise ConfigurationError(
                f"pgvector's HNSW index takes vectors of at most 2000 dimensions, got {dimension}")

    def _open(self, dimension: int) -> None:
        self._check_dimension(dimension)
        self._sync_pool()
        self._run(self._open_plan(dimension))
        self._dimension = dimension

    def _stored_dimension_plan(self) -> Plan[int | None]:
        rows = yield Step(f"SELECT value FROM {self._s}.meta WHERE key = 'dimension'")
        return int(rows[0][0]) if rows else None

    def _known_dimension(self) -> int | None:
        if self._dimension is None:
            self._dimension = self._run(self._stored_dimension_plan())
        return self._dimension

    def _apply(self, changes: Sequence[Change]) -> None:
        changes = list(changes)
        if not changes:
            return
        dimension = self._known_dimension()
        vectors = check_changes(changes, dimension)
        self._run(self._apply_plan(changes, vectors, dimension))

    def _apply_plan(self, changes: list[Change], vectors: list[np.ndarray | None],
                    dimension: int | None) -> Plan[None]:
        creates = sum(c.expected_version is None for c in changes)
        return with_index_rebuild(self._s, self.cfg, dimension, creates, apply_plan(
            self._s, changes, vectors, self.cfg.row_level_security))

    def _get(self, ids: Sequence[str], scope: Scope, include_deleted: bool = True) -> list[MemoryRecord]:
        return self._run(self._get_plan(ids, scope, include_deleted), scope)

    def _list_records(self, scope: Scope, filters: Filter | None = None, limit: int = 100,
                      cursor: str | None = None, include_deleted: bool = False,
                      include_expired: bool = False) -> Page:
        return self._run(self._list_plan(scope, filters, limit, cursor, include_deleted,
                                         include_expired), scope)

    def _count(self, scope: Scope, filters: Filter | None = None, include_deleted: bool = False,
               include_expired: bool = False) -> int:
        return self._run(self._count_plan(scope, filters, include_deleted, include_expired), scope)

    def _search(self, vector: Sequence[float], scope: Scope, limit: int = 10,
                filters: Filter | None = None, include_deleted: bool = False,
                include_expired: bool = False) -> list[SearchHit]:
        dimension = self._known_dimension()
        if dimension is None:
            return []
        query = as_vector(vector, dimension, "the query vector")
        return self._run(self._search_plan(query, scope, limit, filters, include_deleted,
                                           include_expired), scope)

    def _keyword_search(self, query: str, scope: Scope, limit: int = 10,
                        filters: Filter | None = None, include_deleted: bool = False,
                        include_expired: bool = False) -> list[SearchHit]:
        return self._run(self._keyword_plan(query, scope, limit, filters, include_deleted,
                                            include_expired), scope)

    def _get_vectors(self, ids: Sequence[str], scope: Scope) -> dict[str, list[float]]:
        return self._run(self._vectors_plan(ids, scope), scope)

    def _delete(self, ids: Sequence[str], scope: Scope) -> int:
        return self._run(self._delete_plan(ids, scope), scope)

    def _history(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        return self._run(self._history_plan(memory_id, scope), scope)

    def _reset(self) -> None:
        self._run(self._reset_plan())

    # --- contract v2 hooks (native async) -------------------------------------------------------
    async def _aopen(self, dimension: int) -> None:
        self._check_dimension(dimension)
        await self._arun(self._open_plan(dimension))
        self._dimension = dimension

    async def _aknown_dimension(self) -> int | None:
        if self._dimension is None:
            self._dimension = await self._arun(self._stored_dimension_plan())
        return self._dimension

    async def _aapply(self, changes: Sequence[Change]) -> None:
        changes = list(changes)
        if not changes:
            return
        dimension = await self._aknown_dimension()
        vectors = check_changes(changes, dimension)
        await self._arun(self._apply_plan(changes, vectors, dimension))

    async def _aget(self, ids: Sequence[str], scope: Scope, include_deleted: bool = True) -> list[MemoryRecord]:
        return await self._arun(self._get_plan(ids, scope, include_deleted), scope)

    async def _alist_records(self, scope: Scope, filters: Filter | None = None, limit: int = 100,
                             cursor: str | None = None, include_deleted: bool = False,
                             include_expired: bool = False) -> Page:
        return await self._arun(self._list_plan(scope, filters, limit, cursor, include_deleted,
                                                include_expired), scope)

    async def _acount(self, scope: Scope, filters: Filter | None = None,
                      include_deleted: bool = False, include_expired: bool = False) -> int:
        return await self._arun(self._count_plan(scope, filters, include_deleted, include_expired),
                                scope)

    async def _asearch(self, vector: Sequence[float], scope: Scope, limit: int = 10,
                       filters: Filter | None = None, include_deleted: bool = False,
                       include_expired: bool = False) -> list[SearchHit]:
        dimension = await self._aknown_dimension()
        if dimension is None:
            return []
        query = as_vector(vector, dimension, "the query vector")
        return await self._arun(self._search_plan(query, scope, limit, filters, include_deleted,
                                                  include_expired), scope)

    async def _akeyword_search(self, query: str, scope: Scope, limit: int = 10,
                               filters: Filter | None = None, include_deleted: bool = False,
                               include_expired: bool = False) -> list[SearchHit]:
        return await self._arun(self._keyword_plan(query, scope, limit, filters, include_deleted,
                                                   include_expired), scope)

    async def _aget_vectors(self, ids: Sequence[str], scope: Scope) -> dict[str, list[float]]:
        return await self._arun(self._vectors_plan(ids, scope), scope)

    async def _adelete(self, ids: Sequence[str], scope: Scope) -> int:
        return await self._arun(self._delete_plan(ids, scope), scope)

    async def _ahistory(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        return await self._arun(self._history_plan(memory_id, scope), scope)

    async def _areset(self) -> None:
        await self._arun(self._reset_plan())

    # --- store info: rows of the meta table, keys prefixed "info:" ------------------------------
    def _get_info(self, key: str) -> str | None:
        return self._run(self._get_info_plan(key))

    def _claim_info(self, key: str, value: str) -> str:
        return self._run(self._claim_info_plan(key, value))

    async def _aget_info(self, key: str) -> str | None:
        return await self._arun(self._get_info_plan(key))

    async def _aclaim_info(self, key: str, value: str) -> str:
        return await self._arun(self._claim_info_plan(key, value))

    def _get_info_plan(self, key: str) -> Plan[str | None]:
        rows = yield Step(f"SELECT value FROM {self._s}.meta WHERE key = %s", ["info:" + key])
        return str(rows[0][0]) if rows else None

    def _claim_info_plan(self, key: str, value: str) -> Plan[str]:
        # a racing claimer's INSERT waits for the first one's commit, then does nothing;
        # the SELECT (a new snapshot under READ COMMITTED) reads the winner's value
        yield Step(f"INSERT INTO {self._s}.meta (key, value) VALUES (%s, %s) "
                   f"ON CONFLICT (key) DO NOTHING", ["info:" + key, value])
        rows = yield Step(f"SELECT value FROM {self._s}.meta WHERE key = %s", ["info:" + key])
        return str(rows[0][0])

    # --- plans ------------------------------------------------------------------------------------
    def _filters(self, filters: Filter | Mapping[str, Any] | None) -> Filter | None:
        node = parse_filter(filters)
        require_supported(node, self.filter_operators, self.name)
        return node

    def _where(self, scope: Scope, filters: Filter | None, include_deleted: bool,
               include_expired: bool) -> tuple[str, list[Any]]:
        scope_part, scope_params = scope_sql(scope)
        vis, vis_params = visibility_sql(include_deleted, include_expired)
        flt, flt_params = FilterTranslator().translate(self._filters(filters))
        return f"{scope_part} AND {vis} AND {flt}", [*scope_params, *vis_params, *flt_params]

    def _get_plan(self, ids: Sequence[str], scope: Scope, include_deleted: bool) -> Plan[list[MemoryRecord]]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return []
        scope_part, params = scope_sql(scope)
        deleted = "" if include_deleted else " AND r.deleted_at IS NULL"
        rows = yield Step(
            f"SELECT {RECORD_COLUMNS} FROM {self._s}.memories r WHERE r.id = ANY(%s) AND "
            f"{scope_part}{deleted}", [unique, *params])
        found = {rec.id: rec for rec in map(record_from_row, rows)}
        return [found[i] for i in unique if i in found]

    def _list_plan(self, scope: Scope, filters: Filter | None, limit: int, cursor: str | None,
                   include_deleted: bool, include_expired: bool) -> Plan[Page]:
        _check_limit(limit)
        after = _parse_cursor(cursor)
        where, params = self._where(scope, filters, include_deleted, include_expired)
        rows = yield Step(
            f"SELECT {RECORD_COLUMNS}, r.seq FROM {self._s}.memories r WHERE r.seq > %s AND "
            f"{where} ORDER BY r.seq LIMIT %s", [after, *params, limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(records=[record_from_row(row) for row in rows],
                    next_cursor=str(rows[-1][N_RECORD_COLUMNS]) if more else None)

    def _count_plan(self, scope: Scope, filters: Filter | None, include_deleted: bool,
                    include_expired: bool) -> Plan[int]:
        where, params = self._where(scope, filters, include_deleted, include_expired)
        [(n,)] = yield Step(f"SELECT count(*) FROM {self._s}.memories r WHERE {where}", params)
        return int(n)

    def _search_plan(self, query: np.ndarray, scope: Scope, limit: int, filters: Filter | None,
                     include_deleted: bool, include_expired: bool) -> Plan[list[SearchHit]]:
        _check_limit(limit)
        s, dim = self._s, int(query.shape[0])
        where, params = self._where(scope, filters, include_deleted, include_expired)
        scope_part, scope_params = scope_sql(scope)
        cfg = self.cfg
        threshold = cfg.exact_search_max_rows
        # the HNSW graph holds every scope; the scope and filters are checked while it is
        # walked, so a scope that is a small share of the table would exhaust
        # max_scan_tuples before `limit` rows pass: such scopes are searched exactly
        [(table_rows,)] = yield Step(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass",
            [f"{s}.memories"])
        needed = max(threshold + 1, -(-int(table_rows) * limit * 2 // cfg.hnsw_max_scan_tuples))
        [(rows_in_scope,)] = yield Step(
            f"SELECT count(*) FROM (SELECT 1 FROM {s}.memories r WHERE {scope_part} LIMIT %s) t",
            [*scope_params, needed])
        use_hnsw = (cfg.hnsw_index and rows_in_scope > threshold
                    and rows_in_scope * cfg.hnsw_max_scan_tuples >= int(table_rows) * limit * 2)
        if float(np.linalg.norm(query)) == 0.0:
            query = np.zeros_like(query)  # no direction: every row scores 0.5, in seq order
            use_hnsw = False
        rows: list[Any] = []
        if use_hnsw:
            yield Step(
                "SELECT set_config('hnsw.ef_search', %s, true), "
                "set_config('hnsw.iterative_scan', %s, true), "
                "set_config('hnsw.max_scan_tuples', %s, true)",
                [str(max(cfg.hnsw_ef_search, limit)), cfg.iterative_scan,
                 str(cfg.hnsw_max_scan_tuples)])
            # the ORDER BY must be the indexed expression for the planner to use HNSW;
            # iterative scans may return rows slightly out of order: re-sort them
            ordered = f"(r.embedding::vector({dim}) <=> %s::vector({dim}))"
            rows = yield Step(
                f"WITH c AS MATERIALIZED (SELECT r.seq, {ordered} AS d FROM {s}.memories r "
                f"WHERE r.embedding IS NOT NULL AND {where} ORDER BY {ordered} LIMIT %s) "
                f"SELECT {RECORD_COLUMNS}, coalesce(nullif(c.d, 'NaN'::float8), 1.0) AS d "
                f"FROM c JOIN {s}.memories r ON r.seq = c.seq ORDER BY c.d, r.seq",
                [query, *params, query, limit])
        path = "hnsw" if use_hnsw else "exact"
        if len(rows) < limit:
            if use_hnsw:
                path = "hnsw, then exact"
            # exact: small scopes, and the rare HNSW scan that gave up before filling the
            # limit under a selective filter (then fewer rows may simply be all there is)
            exact = "coalesce(nullif(r.embedding <=> %s::vector, 'NaN'::float8), 1.0)"
            rows = yield Step(
                f"SELECT {RECORD_COLUMNS}, {exact} AS d FROM {s}.memories r "
                f"WHERE r.embedding IS NOT NULL AND {where} ORDER BY d, r.seq LIMIT %s",
                [query, *params, limit])
        log.debug("search %s: %s over %s rows of the scope, %s hits", s, path, rows_in_scope, len(rows))
        return [
            SearchHit(record=record_from_row(row),
                      score=min(1.0, max(0.0, 1.0 - float(row[N_RECORD_COLUMNS]) / 2.0)))
            for row in rows
        ]

    def _keyword_plan(self, query: str, scope: Scope, limit: int, filters: Filter | None,
                      include_deleted: bool, include_expired: bool) -> Plan[list[SearchHit]]:
        from memplane.stores.sqlite import fts

        _check_limit(limit)
        if not isinstance(query, str):
            raise ValidationError(f"keyword query must be a string, got {type(query).__name__}")
        where, params = self._where(scope, filters, include_deleted, include_expired)
        tokens = list(dict.fromkeys(fold(t) for t in fts.query_tokens(query.replace("\x00", " "))))
        tokens = [t for t in tokens if t]
        if not tokens:
            return []
        s = self._s
        scope_part, scope_params = scope_sql(scope)
        [(scope_rows,)] = yield Step(
            f"SELECT count(*) FROM {s}.memories r WHERE {scope_part}", scope_params)
        share = float(self.cfg.common_term_share)
        most = fts.common_term_limit(int(scope_rows), share) if share < 1.0 else None
        weights: dict[str, float] = {}
        for token in tokens:
            # how many rows of the scope hold the word, counted no further than needed
            [(n,)] = yield Step(
                f"SELECT count(*) FROM (SELECT 1 FROM {s}.memories r WHERE {scope_part} AND "
                f"r.tsv @@ plainto_tsquery('simple', %s) LIMIT %s) t",
                [*scope_params, token, (most + 1) if most is not None else None])
            if n and (most is None or n <= most):
                weights[token] = fts.idf(int(scope_rows), int(n))
        if not weights:
            return []  # only words most of the scope holds: no keyword evidence
        kept = list(weights)
        score_sql = " + ".join(
            "CASE WHEN r.tsv @@ plainto_tsquery('simple', %s) THEN %s::float8 ELSE 0 END" for _ in kept)
        any_sql = " || ".join("plainto_tsquery('simple', %s)" for _ in kept)
        score_params = [x for t in kept for x in (t, weights[t])]
        rows = yield Step(
            f"SELECT {RECORD_COLUMNS}, ({score_sql}) AS w FROM {s}.memories r "
            f"WHERE r.tsv @@ ({any_sql}) AND {where} ORDER BY w DESC, r.seq LIMIT %s",
            [*score_params, *kept, *params, limit])
        return [
            SearchHit(record=record_from_row(row),
                      score=fts.relevance_to_score(float(row[N_RECORD_COLUMNS])))
            for row in rows
        ]

    def _vectors_plan(self, ids: Sequence[str], scope: Scope) -> Plan[dict[str, list[float]]]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        scope_part, params = scope_sql(scope)
        rows = yield Step(
            f"SELECT r.id, r.embedding FROM {self._s}.memories r WHERE r.id = ANY(%s) AND "
            f"{scope_part} AND r.embedding IS NOT NULL", [unique, *params])
        return {rid: _floats(vec) for rid, vec in rows}

    def _delete_plan(self, ids: Sequence[str], scope: Scope) -> Plan[int]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return 0
        s = self._s
        scope_part, params = scope_sql(scope)
        [(n,)] = yield Step(
            f"WITH gone AS (DELETE FROM {s}.memories r WHERE r.id = ANY(%s) AND {scope_part} "
            f"RETURNING r.id), h AS (DELETE FROM {s}.history WHERE memory_id IN "
            f"(SELECT id FROM gone)) SELECT count(*) FROM gone", [unique, *params])
        return int(n)

    def _history_plan(self, memory_id: str, scope: Scope) -> Plan[list[HistoryEntry]]:
        s = self._s
        scope_part, params = scope_sql(scope)
        rows = yield Step(
            f"SELECT h.id, h.memory_id, h.event, h.old_text, h.new_text, h.at, h.actor, h.reason "
            f"FROM {s}.history h WHERE h.memory_id = %s AND EXISTS (SELECT 1 FROM {s}.memories r "
            f"WHERE r.id = h.memory_id AND {scope_part}) ORDER BY h.seq", [memory_id, *params])
        return [
            HistoryEntry(id=hid, memory_id=mid, event=event, old_text=old, new_text=new, at=at,
                         actor=actor, reason=reason)
            for hid, mid, event, old, new, at, actor, reason in rows
        ]

    def _reset_plan(self) -> Plan[None]:
        # TRUNCATE is not filtered by row-level security: the role needs the privilege
        yield Step(f"TRUNCATE {self._s}.memories, {self._s}.history")
        yield Step(f"DELETE FROM {self._s}.meta WHERE key LIKE %s", ["info:%"])  # with its vectors

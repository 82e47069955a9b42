"""The ``milvus`` vector store (entry point ``memplane.vector_stores: milvus``).

pymilvus is imported when the store opens, never at import time, so listing
providers stays fast and works without the SDK installed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, ClassVar, TypeVar

from memplane.errors import (
    ConfigurationError,
    DimensionMismatch,
    ProviderError,
    ProviderUnavailable,
    ValidationError,
)
from memplane.filters import Filter
from memplane.models import (
    SCOPE_FIELDS,
    Change,
    HistoryEntry,
    MemoryRecord,
    Page,
    Scope,
    SearchHit,
    utcnow,
)
from memplane.providers import store_checks as common
from memplane.providers.base import VectorStore
from memplane_milvus.config import MilvusConfig
from memplane_milvus.expressions import (
    Binder,
    compile_filter,
    inline_params,
    to_micros,
)
from memplane_milvus.lite_flush import WriteBufferFlusher
from memplane_milvus.rows import (
    RECORD_OUTPUT,
    REQUIRED_FIELDS,
    record_row,
    row_history,
    row_in_scope,
    row_record,
    row_visible,
)

T = TypeVar("T")
#: Milvus caps limit + offset of one query or search at 16384.
MAX_WINDOW = 16384
_CURSOR_PREFIX = "id:"
#: longest scope id (in UTF-8 bytes) the collection accepts.
SCOPE_ID_MAX_BYTES = 16384


#: collection property names of the store info (``VectorStore.get_info``).
INFO_PREFIX = "memplane.info."
_CLAIM_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_CLAIM_LOCKS_GUARD = threading.Lock()


def _claim_lock(uri: str, collection: str) -> threading.Lock:
    """One lock per collection for the whole process: several store instances on one
    Milvus Lite file (one process per file) must not interleave their claims."""
    with _CLAIM_LOCKS_GUARD:
        return _CLAIM_LOCKS.setdefault((uri, collection), threading.Lock())


class MilvusVectorStore(VectorStore[MilvusConfig]):
    """Memory records in one Milvus collection, history in each record's row.

    Scope isolation: ``user_id``, ``agent_id`` and ``run_id`` are scalar columns with
    inverted indexes, and one of them (``partition_key``, default ``user_id``) is the
    collection's partition key, so a user's records hash into one physical partition
    and scoped queries prune the others. Every operation adds the scope to its
    expression; nothing reads or writes outside it.
    """

    name: ClassVar[str] = "milvus"
    Config = MilvusConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"keyword_search", "persistent"})
    filter_operators: ClassVar[frozenset[str]] = frozenset(
        ["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "exists",
         "AND", "OR", "NOT"]
    )
    config: MilvusConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        caps = {"persistent", "vector_read"}
        if self.config.keyword_search:
            caps.add("keyword_search")
        if not self.config.is_lite:
            caps.add("concurrent_writers")
        else:
            # collection properties have no insert-if-absent: the claim is atomic only
            # under this process's lock, i.e. on Milvus Lite (one process per file)
            caps.add("store_info")
        self.capabilities = frozenset(caps)  # type: ignore[misc]
        self._client: Any = None
        self._dimension: int | None = None
        self._lock = threading.RLock()
        lite = self.config.is_lite
        self._flusher = WriteBufferFlusher(
            self.config.lite_flush_rows if lite else 0,
            self.config.lite_max_buffered_rows if lite else 0,
            self._flush,
        )

    # --- lifecycle ----------------------------------------------------------------
    def _open(self, dimension: int) -> None:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            name = self.config.collection
            if self._call(self._client.has_collection, name):
                self._attach(dimension)
            else:
                self._create(dimension)
            self._call(self._client.load_collection, name)
            self._dimension = dimension
            if self._flusher.active:
                # rows Milvus Lite replayed from its write-ahead log sit in the buffer
                self._flusher.flush_now()

    def _connect(self) -> Any:
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise ProviderUnavailable(
                "the milvus store needs pymilvus: pip install memplane-milvus "
                "(and milvus-lite for a local .db file)"
            ) from exc
        kwargs: dict[str, Any] = {"uri": self.config.uri}
        if self.config.token:
            kwargs["token"] = self.config.token
        if self.config.db_name:
            kwargs["db_name"] = self.config.db_name
        if self.config.timeout is not None:
            kwargs["timeout"] = self.config.timeout
        try:
            return MilvusClient(**kwargs)
        except Exception as exc:
            raise ProviderError(
                f"cannot connect to Milvus at {self.config.uri!r}: {exc}. Check the uri and "
                f"token (a local path needs the milvus-lite package)",
                provider=self.name, retryable=True,
            ) from exc

    def _attach(self, dimension: int) -> None:
        info = self._call(self._client.describe_collection, self.config.collection)
        fields = {f["name"]: f for f in info.get("fields", [])}
        missing = REQUIRED_FIELDS - set(fields)
        if missing:
            raise ConfigurationError(
                f"Milvus collection {self.config.collection!r} exists but was not created by "
                f"memplane (missing fields {sorted(missing)}); choose another `collection`"
            )
        stored = int(fields["vector"].get("params", {}).get("dim", 0))
        if stored != dimension:
            raise DimensionMismatch(
                store=f"milvus:{self.config.collection}", store_dimension=stored,
                embedder_dimension=dimension,
            )
        if "sparse" not in fields and "keyword_search" in self.capabilities:
            # created without BM25: keyword search is honestly unavailable
            self.capabilities = self.capabilities - {"keyword_search"}  # type: ignore[misc]

    def _create(self, dimension: int) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        cfg = self.config
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=128)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        text_opts: dict[str, Any] = {"enable_analyzer": True} if cfg.keyword_search else {}
        schema.add_field("text", DataType.VARCHAR, max_length=cfg.max_text_length, **text_opts)
        for scope_field in SCOPE_FIELDS:
            schema.add_field(
                scope_field, DataType.VARCHAR, max_length=SCOPE_ID_MAX_BYTES,
                is_partition_key=(scope_field == cfg.partition_key),
            )
        for column in ("created_at_us", "updated_at_us", "observed_at_us",
                       "expires_at_us", "deleted_at_us"):
            schema.add_field(column, DataType.INT64, nullable=True)
        schema.add_field("attributed_to", DataType.VARCHAR, max_length=SCOPE_ID_MAX_BYTES, nullable=True)
        schema.add_field("meta_idx", DataType.JSON)
        schema.add_field("doc", DataType.JSON)
        schema.add_field("history", DataType.JSON)
        index = self._client.prepare_index_params()
        index.add_index("vector", index_type=cfg.index_type, metric_type="COSINE")
        for scope_field in SCOPE_FIELDS:
            index.add_index(scope_field, index_type="INVERTED")
        if cfg.keyword_search:
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(
                name="text_bm25", function_type=FunctionType.BM25,
                input_field_names=["text"], output_field_names=["sparse"],
            ))
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        extra: dict[str, Any] = {}
        if cfg.partition_key != "none":
            extra["num_partitions"] = cfg.num_partitions
        self._call(
            self._client.create_collection, cfg.collection, schema=schema,
            consistency_level="Strong", **extra,
        )
        # pymilvus's own wait sleeps 0.5 s before each index's first state check
        # (2.5 s for a new collection); the indexes of an empty collection are ready
        # at once, so poll briefly instead, then load as create_collection would
        self._call(self._client.create_index, cfg.collection, index, sync=False)
        self._wait_for_indexes()
        self._call(self._client.load_collection, cfg.collection)

    def _wait_for_indexes(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        pending = list(self._call(self._client.list_indexes, self.config.collection))
        delay = 0.01
        while pending:
            info = self._call(self._client.describe_index, self.config.collection, pending[0])
            state = str((info or {}).get("state", "Finished"))
            if state == "Finished":
                pending.pop(0)
                continue
            if state == "Failed" or time.monotonic() > deadline:
                raise ProviderError(
                    f"milvus: building index {pending[0]!r} of {self.config.collection!r} "
                    f"{'failed' if state == 'Failed' else 'timed out'}: "
                    f"{(info or {}).get('index_state_fail_reason', '')}",
                    provider=self.name, retryable=state != "Failed")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            # closing twice or after losing the server is fine
            with suppress(Exception):
                client.close()

    # --- writes -------------------------------------------------------------------
    def _apply(self, changes: list[Change]) -> None:
        self._require_open()
        for change in changes:
            self._check_change(change)
        with self._lock:
            ids = [c.record.id for c in changes]
            # the stored vector only matters to a change that keeps it
            wanted = ["id", "doc", "history"]
            if any(c.vector is None for c in changes):
                wanted.append("vector")
            stored = {r["id"]: r for r in self._query_ids(ids, wanted)}
            # contract v2, inside the write lock: ids of other scopes are refused (a
            # primary-key upsert would move them), stale versions are a Conflict
            common.check_versions(changes, {i: row_record(r) for i, r in stored.items()},
                                  self._live_hash_owner)
            rows: dict[str, dict[str, Any]] = {}
            for change in changes:
                rid = change.record.id
                before = rows.get(rid) or stored.get(rid)
                vector = common.vector_to_write(change, before.get("vector") if before is not None else None)
                stored_history = (before["history"] or []) if before is not None else []
                history = common.history_to_write(stored_history, change)
                rows[rid] = record_row(change.record, vector, history)
            # one upsert: each record and its history entries land as one row
            self._call(self._client.upsert, self.config.collection, list(rows.values()))
            self._flusher.written(len(rows))

    def _live_hash_owner(self, scope: Scope, hash_: str) -> str | None:
        """A live record of exactly ``scope`` whose text hash is ``hash_``."""
        self._before_scan()
        binder = Binder(self.config.use_templates)
        # unset scope ids are stored as "" (see rows.record_row)
        parts = [f"{name} == {binder(getattr(scope, name) or '')}" for name in SCOPE_FIELDS]
        parts += ["deleted_at_us is null", f'doc["hash"] == {binder(hash_)}']
        rows = self._call(
            self._client.query, self.config.collection, filter=" and ".join(parts),
            output_fields=["id"], limit=1, **self._params(binder.params),
        )
        return str(rows[0]["id"]) if rows else None

    def _check_change(self, change: Change) -> None:
        record = change.record
        # the JSON field is 64-bit: refuse here, not as the server's retryable error
        common.check_metadata(record.id, record.metadata, int64=True)
        if len(record.text.encode("utf-8")) > self.config.max_text_length:
            raise ValidationError(
                f"memory {record.id!r} is longer than {self.config.max_text_length} bytes "
                f"(the collection's text field); shorten it"
            )
        for name, value in [*record.scope.items(), ("attributed_to", record.attributed_to or "")]:
            if len(value.encode("utf-8")) > SCOPE_ID_MAX_BYTES:
                raise ValidationError(
                    f"{name} is longer than {SCOPE_ID_MAX_BYTES} bytes; use a shorter id"
                )

    def _delete(self, ids: list[str], scope: Scope) -> int:
        self._require_open()
        with self._lock:
            found = [r["id"] for r in self._query_ids(list(ids), ["id"], scope=scope)]
            if not found:
                return 0
            # our own escaped id list, not ids=: pymilvus quotes string ids without
            # escaping, so a stored id holding a quote could widen the delete
            for chunk in _chunks(found, 1000):
                binder = Binder(self.config.use_templates)
                self._call(
                    self._client.delete, self.config.collection,
                    filter=f"id in {binder.many(chunk)}", **self._params(binder.params),
                )
            return len(found)

    def _reset(self) -> None:
        self._require_open()
        with self._lock:
            self._call(self._client.drop_collection, self.config.collection)
            assert self._dimension is not None
            self._create(self._dimension)
            self._call(self._client.load_collection, self.config.collection)
            self._flusher.pending = 0

    # --- store info: collection properties "memplane.info.<key>" (Milvus Lite) ---------
    def _get_info(self, key: str) -> str | None:
        self._require_open()
        info = self._call(self._client.describe_collection, self.config.collection)
        value = (info.get("properties") or {}).get(INFO_PREFIX + key)
        return None if value is None else str(value)

    def _claim_info(self, key: str, value: str) -> str:
        with _claim_lock(self.config.uri, self.config.collection):
            stored = self._get_info(key)
            if stored is None:
                self._call(self._client.alter_collection_properties, self.config.collection,
                           properties={INFO_PREFIX + key: value})
                stored = self._get_info(key)
        assert stored is not None
        return stored  # reset drops the collection, and its properties with it

    # --- reads --------------------------------------------------------------------
    def _get(self, ids: list[str], scope: Scope, include_deleted: bool) -> list[MemoryRecord]:
        self._require_open()
        rows = self._query_ids(
            list(ids), RECORD_OUTPUT, scope=scope,
            visibility=None if include_deleted else (False, True),
        )
        by_id = {r["id"]: row_record(r) for r in rows}
        return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]

    def _list_records(
        self, scope: Scope, filters: Filter | None, limit: int, cursor: str | None,
        include_deleted: bool, include_expired: bool,
    ) -> Page:
        self._require_open()
        limit = min(limit, MAX_WINDOW - 1)
        after = common.parse_prefixed_cursor(cursor, _CURSOR_PREFIX)
        self._before_scan()
        expr, params = self._expression(scope, filters, include_deleted, include_expired)
        if after is not None:
            binder = Binder(self.config.use_templates, params)
            expr = f"({expr} and id > {binder(after)})"
        # Milvus does not order query results (Milvus Lite returns them in storage
        # order), so the page is chosen here: read the matching ids after the cursor,
        # sort, take the first `limit`, then fetch those records. The cursor is the
        # last id handed out, a keyset position that inserts cannot shift.
        ids = sorted(self._matching_ids(expr, params))
        page_ids = ids[:limit]
        rows = self._query_ids(page_ids, RECORD_OUTPUT) if page_ids else []
        by_id = {r["id"]: r for r in rows}
        records = [row_record(by_id[i]) for i in page_ids if i in by_id]
        more = len(ids) > limit
        return Page(
            records=records,
            next_cursor=_CURSOR_PREFIX + page_ids[-1] if more else None,
        )

    def _matching_ids(self, expr: str, params: dict[str, Any]) -> list[str]:
        rows = self._call(
            self._client.query, self.config.collection, filter=expr,
            output_fields=["id"], limit=MAX_WINDOW, **self._params(params),
        )
        if len(rows) < MAX_WINDOW:
            return [r["id"] for r in rows]
        # more than one window: walk them all with the SDK's iterator, which takes no
        # template parameters, so the expression is rebuilt with escaped literals
        literal_expr = inline_params(expr, params)
        iterator = self._call(
            self._client.query_iterator, self.config.collection, batch_size=MAX_WINDOW // 4,
            filter=literal_expr, output_fields=["id"],
        )
        found: list[str] = []
        try:
            while batch := self._call(iterator.next):
                found.extend(r["id"] for r in batch)
        finally:
            iterator.close()
        return found

    def _count(
        self, scope: Scope, filters: Filter | None, include_deleted: bool, include_expired: bool
    ) -> int:
        self._require_open()
        self._before_scan()
        expr, params = self._expression(scope, filters, include_deleted, include_expired)
        rows = self._call(
            self._client.query, self.config.collection, filter=expr,
            output_fields=["count(*)"], **self._params(params),
        )
        return int(rows[0]["count(*)"]) if rows else 0

    def _search(
        self, vector: Sequence[float], scope: Scope, limit: int, filters: Filter | None,
        include_deleted: bool, include_expired: bool,
    ) -> list[SearchHit]:
        self._require_open()
        common.check_query_vector(vector, self._dimension)
        self._before_scan()
        expr, params = self._expression(scope, filters, include_deleted, include_expired)
        result = self._call(
            self._client.search, self.config.collection, data=[[float(x) for x in vector]],
            anns_field="vector", limit=min(limit, MAX_WINDOW), filter=expr,
            output_fields=["doc"], search_params={"metric_type": "COSINE"},
            **self._params(params),
        )
        return [
            SearchHit(record=row_record(hit["entity"]),
                      score=min(1.0, max(0.0, (1.0 + float(hit["distance"])) / 2.0)))
            for hit in (result[0] if result else [])
        ]

    def _keyword_search(
        self, query: str, scope: Scope, limit: int, filters: Filter | None,
        include_deleted: bool, include_expired: bool,
    ) -> list[SearchHit]:
        self._require_open()
        if not query.strip():
            return []
        self._before_scan()
        expr, params = self._expression(scope, filters, include_deleted, include_expired)
        result = self._call(
            self._client.search, self.config.collection, data=[query],
            anns_field="sparse", limit=min(limit, MAX_WINDOW), filter=expr,
            output_fields=["doc"], search_params={"metric_type": "BM25"},
            **self._params(params),
        )
        hits = []
        for hit in result[0] if result else []:
            # BM25 is unbounded; s / (1 + s) keeps the order and maps into [0, 1).
            # (Milvus Lite reports the score negated, servers positive.)
            raw = abs(float(hit["distance"]))
            if raw > 0:
                hits.append(SearchHit(record=row_record(hit["entity"]), score=raw / (1.0 + raw)))
        return hits

    def _get_vectors(self, ids: list[str], scope: Scope) -> dict[str, list[float]]:
        self._require_open()
        rows = self._query_ids(ids, ["id", "vector"], scope=scope)
        return {r["id"]: [float(x) for x in r["vector"]] for r in rows}

    def _history(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        self._require_open()
        rows = self._query_ids([memory_id], ["id", "history"], scope=scope)
        return row_history(rows[0]) if rows else []

    # --- helpers ------------------------------------------------------------------
    def _require_open(self) -> None:
        if self._client is None or self._dimension is None:
            raise ConfigurationError(
                "the milvus store is not open: call open(dimension) first "
                "(Memory does this with the embedder's dimension)"
            )

    def _expression(
        self, scope: Scope, filters: Filter | None, include_deleted: bool, include_expired: bool
    ) -> tuple[str, dict[str, Any]]:
        expr, params = compile_filter(filters, templates=self.config.use_templates)
        binder = Binder(self.config.use_templates, params)
        parts = [_scope_expr(scope, binder), *_visibility(binder, include_deleted, include_expired)]
        if filters is not None:
            parts.append(expr)
        return " and ".join(parts), params

    def _query_ids(
        self,
        ids: list[str],
        output: list[str],
        *,
        scope: Scope | None = None,
        visibility: tuple[bool, bool] | None = None,
    ) -> list[dict[str, Any]]:
        """The rows with these ids that lie in ``scope`` and pass ``visibility``.

        The expression is the bare ``id in [...]``, a primary-key lookup; scope and
        visibility are checked here on the returned columns, before any row leaves
        the store. (Milvus Lite answers a bare id list by point reads, but anything
        more by evaluating the expression on every row of the collection.)
        """
        fields = list(output)
        if scope is not None:
            fields += [name for name, _ in scope.items()]
        if visibility is not None:
            fields += ["deleted_at_us", "expires_at_us"]
        fields = list(dict.fromkeys(fields))
        now = to_micros(utcnow())
        rows: list[dict[str, Any]] = []
        for chunk in _chunks(list(dict.fromkeys(ids)), 1000):
            binder = Binder(self.config.use_templates)
            found = self._call(
                self._client.query, self.config.collection,
                filter=f"id in {binder.many(chunk)}", output_fields=fields,
                limit=len(chunk), **self._params(binder.params),
            )
            rows.extend(
                row for row in found
                if (scope is None or row_in_scope(row, scope))
                and (visibility is None or row_visible(row, *visibility, now_us=now))
            )
        return rows

    def _before_scan(self) -> None:
        # reads that walk the collection first move Lite's write buffer into segments
        if self._flusher.active:
            with self._lock:
                self._flusher.reading()

    def _flush(self) -> None:
        self._call(self._client.flush, self.config.collection)

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"filter_params": params} if self.config.use_templates and params else {}

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with _mapped_errors(self.name):
            return fn(*args, **kwargs)


def _scope_expr(scope: Scope, bind: Binder) -> str:
    return " and ".join(f"{name} == {bind(value)}" for name, value in scope.items())


def _visibility(bind: Binder, include_deleted: bool, include_expired: bool) -> list[str]:
    parts = []
    if not include_deleted:
        parts.append("deleted_at_us is null")
    if not include_expired:
        parts.append(f"(expires_at_us is null or expires_at_us > {bind(to_micros(utcnow()))})")
    return parts


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@contextmanager
def _mapped_errors(provider: str) -> Iterator[None]:
    """Turn pymilvus errors into memplane's typed errors."""
    try:
        yield
    except (ProviderError, ValidationError, ConfigurationError):
        raise
    except Exception as exc:
        try:
            from pymilvus.exceptions import MilvusException
        except ImportError:  # pragma: no cover - pymilvus is there if we got this far
            raise
        if not isinstance(exc, MilvusException):
            raise
        message = getattr(exc, "message", "") or str(exc)
        retryable = bool(getattr(exc, "_retriable", False)) or exc.code in (1, 2)
        lowered = message.lower()
        # "unexpected token" is an expression parse error, not a credentials problem
        if "auth" in lowered or ("token" in lowered and "unexpected token" not in lowered):
            from memplane.errors import AuthenticationError

            raise AuthenticationError(
                f"Milvus rejected the credentials: {message}; check `token`", provider=provider
            ) from exc
        raise ProviderError(
            f"Milvus call failed: {message}", provider=provider, retryable=retryable
        ) from exc

"""The ``weaviate`` vector store (entry point ``memplane.vector_stores: weaviate``).

weaviate-client is imported when the store opens, never at import time.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, ClassVar, TypeVar

from memplane.errors import (
    AuthenticationError,
    ConfigurationError,
    DimensionMismatch,
    MemplaneError,
    ProviderError,
    ProviderUnavailable,
)
from memplane.filters import Filter
from memplane.models import (
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
from memplane_weaviate.config import WeaviateConfig
from memplane_weaviate.layout import (
    base_properties,
    hexed,
    object_history,
    object_record,
    object_uuid,
    record_properties,
    scope_property,
    slot_definition,
)
from memplane_weaviate.where import FALSE, TRUE, Cond, Group, Where, WhereCompiler, all_of

T = TypeVar("T")
_CURSOR_PREFIX = "mid:"
#: Weaviate answers at most QUERY_MAXIMUM_RESULTS (10,000 by default) per query.
MAX_PAGE = 9_999
_ID_CHUNK = 500
_MARKER = "memplane"
#: tenant for records whose scope lacks the tenant field.
UNSCOPED_TENANT = "memplane_unscoped"


def tenant_name(value: str | None) -> str:
    """Tenant names allow only [A-Za-z0-9_-]{1,64}; scope ids allow anything."""
    if value is None:
        return UNSCOPED_TENANT
    return "s" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:48]


class WeaviateVectorStore(VectorStore[WeaviateConfig]):
    """Memory records as Weaviate objects, history inside each object.

    Scoping: with ``scoping: tenant`` (default) the collection uses native
    multi-tenancy and each value of ``tenant_field`` (default ``user_id``) gets its own
    tenant, created on first write; a query that names that field touches one tenant,
    one that does not fans out over all tenants. Scope ids are also stored on every
    object and filtered on, so isolation never rests on the tenant name alone. With
    ``scoping: filter`` there is one shared collection and the scope is a filter.
    """

    name: ClassVar[str] = "weaviate"
    Config = WeaviateConfig
    # not concurrent_writers: Weaviate has no conditional write, so the contract-v2
    # version check holds for the writers of one process only (see docs/architecture.md)
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"keyword_search", "persistent", "vector_read"}
    )
    filter_operators: ClassVar[frozenset[str]] = frozenset(
        ["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "exists",
         "AND", "OR", "NOT"]
    )
    config: WeaviateConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        if not self.config.keyword_search:
            self.capabilities = self.capabilities - {"keyword_search"}  # type: ignore[misc]
        self._client: Any = None
        self._dimension: int | None = None
        self._properties: set[str] = set()
        self._tenants: set[str] = set()
        self._lock = threading.RLock()

    @property
    def _multi_tenant(self) -> bool:
        return self.config.scoping == "tenant"

    # --- lifecycle ----------------------------------------------------------------
    def _open(self, dimension: int) -> None:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            name = self.config.collection
            if self._call(self._client.collections.exists, name):
                self._attach(dimension)
            else:
                self._create(dimension)
            self._dimension = dimension
            self._refresh_tenants()

    def _connect(self) -> Any:
        try:
            import weaviate
            from weaviate.classes.init import AdditionalConfig, Auth, Timeout
        except ImportError as exc:
            raise ProviderUnavailable(
                "the weaviate store needs weaviate-client v4: pip install memplane-weaviate"
            ) from exc
        cfg = self.config
        auth = Auth.api_key(cfg.api_key) if cfg.api_key else None
        extra = AdditionalConfig(timeout=Timeout(init=cfg.timeout, query=cfg.timeout,
                                                 insert=cfg.timeout))
        with _mapped_errors(self.name, f"connecting to Weaviate ({cfg.mode})"):
            if cfg.mode == "cloud":
                return weaviate.connect_to_weaviate_cloud(
                    cluster_url=cfg.cluster_url or "", auth_credentials=cfg.api_key or "",
                    headers=cfg.headers or None, additional_config=extra,
                )
            if cfg.mode == "local":
                return weaviate.connect_to_local(
                    host=cfg.http_host, port=cfg.http_port, grpc_port=cfg.grpc_port,
                    headers=cfg.headers or None, additional_config=extra, auth_credentials=auth,
                )
            return weaviate.connect_to_custom(
                http_host=cfg.http_host, http_port=cfg.http_port, http_secure=cfg.http_secure,
                grpc_host=cfg.grpc_host or cfg.http_host, grpc_port=cfg.grpc_port,
                grpc_secure=cfg.grpc_secure, headers=cfg.headers or None,
                additional_config=extra, auth_credentials=auth,
            )

    def _schema(self) -> dict[str, Any]:
        return self._call(self._collection().config.get).to_dict()  # type: ignore[no-any-return]

    def _attach(self, dimension: int) -> None:
        schema = self._schema()
        try:
            marker = json.loads(schema.get("description") or "{}")
        except ValueError:
            marker = {}
        if not isinstance(marker, dict) or marker.get("layout") != _MARKER:
            raise ConfigurationError(
                f"Weaviate collection {self.config.collection!r} exists but was not created by "
                f"memplane; choose another `collection`"
            )
        if int(marker.get("dimension", 0)) != dimension:
            raise DimensionMismatch(
                store=f"weaviate:{self.config.collection}",
                store_dimension=int(marker.get("dimension", 0)), embedder_dimension=dimension,
            )
        mt = bool(schema.get("multiTenancyConfig", {}).get("enabled"))
        if mt != self._multi_tenant:
            raise ConfigurationError(
                f"Weaviate collection {self.config.collection!r} was created with scoping "
                f"{'tenant' if mt else 'filter'!r}; set `scoping` to match or use another "
                f"collection"
            )
        props = {p["name"]: p for p in schema.get("properties", [])}
        if "keyword_search" in self.capabilities and not props.get("text", {}).get(
                "indexSearchable", False):
            self.capabilities = self.capabilities - {"keyword_search"}  # type: ignore[misc]
        self._properties = set(props)

    def _create(self, dimension: int) -> None:
        properties = base_properties(self.config.keyword_search)
        schema = {
            "class": self.config.collection,
            "description": json.dumps({"layout": _MARKER, "dimension": dimension}),
            "vectorizer": "none",
            "vectorIndexConfig": {"distance": "cosine"},
            "properties": properties,
            "multiTenancyConfig": {"enabled": self._multi_tenant,
                                   "autoTenantCreation": self._multi_tenant},
        }
        self._call(self._client.collections.create_from_dict, schema)
        self._properties = {p["name"] for p in properties}

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with suppress(Exception):
                client.close()

    # --- tenants ------------------------------------------------------------------
    def _refresh_tenants(self) -> None:
        if self._multi_tenant:
            self._tenants = set(self._call(self._collection().tenants.get))

    def _ensure_tenants(self, names: set[str]) -> None:
        missing = names - self._tenants
        if not missing:
            return
        self._refresh_tenants()
        missing = names - self._tenants
        if missing:
            from weaviate.classes.tenants import Tenant

            try:
                self._call(self._collection().tenants.create,
                           [Tenant(name=n) for n in sorted(missing)])
            except ProviderError:
                # another writer may have created them meanwhile; re-read before failing
                self._refresh_tenants()
                if missing - self._tenants:
                    raise
            self._tenants |= missing

    def _targets(self, scope: Scope) -> list[Any]:
        """Collection handles the scope's records can live in."""
        base = self._collection()
        if not self._multi_tenant:
            return [base]
        value = getattr(scope, self.config.tenant_field)
        if value is not None:
            name = tenant_name(value)
            if name not in self._tenants:
                self._refresh_tenants()
            return [base.with_tenant(name)] if name in self._tenants else []
        self._refresh_tenants()  # fan out: the scope does not name the tenant field
        return [base.with_tenant(n) for n in sorted(self._tenants)]

    def _collection(self) -> Any:
        return self._client.collections.get(self.config.collection)

    # --- writes -------------------------------------------------------------------
    def _apply(self, changes: list[Change]) -> None:
        self._require_open()
        from weaviate.classes.data import DataObject

        with self._lock:
            stored = self._stored_for_apply(changes)
            # contract v2 inside the write lock (this process's writers; Weaviate has
            # no conditional write, so writers in other processes can still interleave)
            owners = {r.id: r for _, _, r in stored.values()}
            # ids not in their own tenant: creates, or an id another tenant owns (one
            # query per tenant: the price of refusing a second owner)
            owners.update(self._owners_elsewhere(
                [c for c in changes if c.record.id not in owners]))
            common.check_versions(changes, owners, self._live_hash_owner)
            objects: dict[str, tuple[str, dict[str, Any], list[float]]] = {}
            for change in changes:
                rec = change.record
                uid = object_uuid(rec.id)
                before = objects.get(uid)
                previous = stored.get(uid)
                if before is not None:
                    vector_before: list[float] | None = before[2]
                    history = json.loads(before[1]["history"])
                elif previous is not None:
                    vector_before = previous[0]
                    history = [e.model_dump(mode="json") for e in previous[1]]
                else:
                    vector_before, history = None, []
                vector = common.vector_to_write(change, vector_before)
                history = common.history_to_write(history, change)
                tenant = tenant_name(getattr(rec.scope, self.config.tenant_field)) \
                    if self._multi_tenant else ""
                objects[uid] = (tenant, record_properties(rec, history), vector)
            self._ensure_properties({k for _, props, _ in objects.values() for k in props})
            by_tenant: dict[str, list[Any]] = {}
            for uid, (tenant, props, vector) in objects.items():
                by_tenant.setdefault(tenant, []).append(
                    DataObject(properties=props, uuid=uid, vector=vector))
            if self._multi_tenant:
                self._ensure_tenants(set(by_tenant))
            base = self._collection()
            for tenant, batch in by_tenant.items():
                target = base.with_tenant(tenant) if tenant else base
                result = self._call(target.data.insert_many, batch)
                if result.errors:
                    first = next(iter(result.errors.values()))
                    raise ProviderError(
                        f"Weaviate refused {len(result.errors)} of {len(batch)} memories: "
                        f"{getattr(first, 'message', first)}", provider=self.name,
                    )

    def _owners_elsewhere(self, changes: Sequence[Change]) -> dict[str, MemoryRecord]:
        """Records with the batch's ids in tenants other than the change's own (with
        tenant scoping one uuid could exist in several tenants): the owner check."""
        from weaviate.classes.query import Filter

        creates = list(changes)
        if not creates or not self._multi_tenant:
            return {}
        self._refresh_tenants()
        found: dict[str, MemoryRecord] = {}
        base = self._collection()
        uids = [object_uuid(c.record.id) for c in creates]
        for tenant in sorted(self._tenants):
            for chunk in _chunks(uids, _ID_CHUNK):
                result = self._call(
                    base.with_tenant(tenant).query.fetch_objects,
                    filters=Filter.by_id().contains_any(chunk), limit=len(chunk),
                    return_properties=["doc"],
                )
                for obj in result.objects:
                    record = object_record(obj.properties)
                    found[record.id] = record
        return found

    def _live_hash_owner(self, scope: Scope, hash_: str) -> str | None:
        """A live record of exactly ``scope`` whose text hash is ``hash_``.

        The hash is not an indexed property (adding one is a schema change), so this
        reads the scope's live records: one query per create batch and scope, capped
        at MAX_PAGE records (a scope beyond that is checked only on its first page).
        """
        where = self._to_filter(all_of(self._scope_where(scope),
                                       Cond("deleted", "Equal", False)))
        for target in self._targets(scope):
            result = self._call(target.query.fetch_objects, filters=where, limit=MAX_PAGE,
                                return_properties=["doc"])
            for obj in result.objects:
                record = object_record(obj.properties)
                if record.hash == hash_ and record.scope == scope and record.deleted_at is None:
                    return record.id
        return None

    def _stored_for_apply(
        self, changes: Sequence[Change]
    ) -> dict[str, tuple[list[float] | None, list[HistoryEntry], MemoryRecord]]:
        """Stored vectors, histories and records of the ids being changed."""
        from weaviate.classes.query import Filter

        found: dict[str, tuple[list[float] | None, list[HistoryEntry], MemoryRecord]] = {}
        by_tenant: dict[str, list[str]] = {}
        for change in changes:
            scope = change.record.scope
            key = tenant_name(getattr(scope, self.config.tenant_field)) \
                if self._multi_tenant else ""
            by_tenant.setdefault(key, []).append(object_uuid(change.record.id))
        if any(t and t not in self._tenants for t in by_tenant):
            self._refresh_tenants()  # another writer may have created them
        base = self._collection()
        for tenant, uids in by_tenant.items():
            if tenant and tenant not in self._tenants:
                continue  # a tenant nobody wrote to holds no records yet
            target = base.with_tenant(tenant) if tenant else base
            for chunk in _chunks(list(dict.fromkeys(uids)), _ID_CHUNK):
                result = self._call(
                    target.query.fetch_objects, filters=Filter.by_id().contains_any(chunk),
                    limit=len(chunk), include_vector=True, return_properties=["history", "doc"],
                )
                for obj in result.objects:
                    vector = obj.vector.get("default") if isinstance(obj.vector, dict) \
                        else obj.vector
                    found[str(obj.uuid)] = (list(vector) if vector else None,
                                            object_history(obj.properties),
                                            object_record(obj.properties))
        return found

    def _ensure_properties(self, names: set[str]) -> None:
        missing = names - self._properties
        if not missing:
            return
        self._properties = {p["name"] for p in self._schema().get("properties", [])}
        for name in sorted(names - self._properties):
            slot = name.rsplit("_", 1)[1]
            try:
                self._call(self._collection().config.add_property,
                           _property(slot_definition(name, slot)))
            except ProviderError:
                # another writer may have added it meanwhile; re-read before giving up
                self._properties = {p["name"] for p in self._schema().get("properties", [])}
                if name not in self._properties:
                    raise
            self._properties.add(name)

    def _delete(self, ids: list[str], scope: Scope) -> int:
        self._require_open()
        from weaviate.classes.query import Filter

        where = self._to_filter(all_of(self._scope_where(scope)))
        removed = 0
        with self._lock:
            for target in self._targets(scope):
                for chunk in _chunks([object_uuid(i) for i in dict.fromkeys(ids)], _ID_CHUNK):
                    by_id = Filter.by_id().contains_any(chunk)
                    result = self._call(
                        target.data.delete_many,
                        where=by_id if where is None else by_id & where,
                    )
                    removed += int(result.successful)
        return removed

    def _reset(self) -> None:
        self._require_open()
        with self._lock:
            self._call(self._client.collections.delete, self.config.collection)
            assert self._dimension is not None
            self._create(self._dimension)
            self._tenants = set()

    def drop(self) -> None:
        """Delete the whole collection, every tenant included (for tests and teardown).
        Works on an unopened store too (whatever the stored dimension); the store must
        be opened again before further use."""
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            self._call(self._client.collections.delete, self.config.collection)
            self._dimension = None
            self._tenants = set()

    # --- reads --------------------------------------------------------------------
    def _get(self, ids: list[str], scope: Scope, include_deleted: bool) -> list[MemoryRecord]:
        self._require_open()
        rows = self._fetch_by_ids(ids, scope, ["doc"], include_deleted=include_deleted)
        by_id = {}
        for obj in rows:
            rec = object_record(obj.properties)
            by_id[rec.id] = rec
        return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]

    def _get_vectors(self, ids: list[str], scope: Scope) -> dict[str, list[float]]:
        self._require_open()
        out: dict[str, list[float]] = {}
        for obj in self._fetch_by_ids(list(ids), scope, ["doc"], vectors=True):
            vector = obj.vector.get("default") if isinstance(obj.vector, dict) else obj.vector
            if vector:
                out[object_record(obj.properties).id] = [float(x) for x in vector]
        return out

    def _fetch_by_ids(
        self, ids: list[str], scope: Scope, props: list[str], *,
        include_deleted: bool = True, vectors: bool = False,
    ) -> list[Any]:
        from weaviate.classes.query import Filter

        parts = [self._scope_where(scope)]
        if not include_deleted:
            parts.append(Cond("deleted", "Equal", False))
        where = self._to_filter(all_of(*parts))
        found = []
        for target in self._targets(scope):
            for chunk in _chunks([object_uuid(i) for i in dict.fromkeys(ids)], _ID_CHUNK):
                by_id = Filter.by_id().contains_any(chunk)
                result = self._call(
                    target.query.fetch_objects, filters=by_id if where is None else by_id & where,
                    limit=len(chunk), return_properties=props, include_vector=vectors,
                )
                found.extend(result.objects)
        return found

    def _list_records(
        self, scope: Scope, filters: Filter | None, limit: int, cursor: str | None,
        include_deleted: bool, include_expired: bool,
    ) -> Page:
        self._require_open()
        limit = min(limit, MAX_PAGE)
        from weaviate.classes.query import Sort

        where = self._where(scope, filters, include_deleted, include_expired)
        after = common.parse_prefixed_cursor(cursor, _CURSOR_PREFIX)
        if after is not None:
            where = all_of(where, Cond("mid", "GreaterThan", after))
        if where == FALSE:
            return Page(records=[])
        # keyset pagination on the hex of the id: a stable, unique order that inserts
        # between pages cannot shift
        rows: list[tuple[str, MemoryRecord]] = []
        for target in self._targets(scope):
            result = self._call(
                target.query.fetch_objects, filters=self._to_filter(where), limit=limit + 1,
                sort=Sort.by_property("mid", ascending=True), return_properties=["doc", "mid"],
            )
            rows.extend((o.properties["mid"], object_record(o.properties)) for o in result.objects)
        rows.sort(key=lambda r: r[0])
        page = rows[:limit]
        more = len(rows) > limit
        return Page(records=[r for _, r in page],
                    next_cursor=_CURSOR_PREFIX + page[-1][0] if more and page else None)

    def _count(
        self, scope: Scope, filters: Filter | None, include_deleted: bool, include_expired: bool
    ) -> int:
        self._require_open()
        where = self._where(scope, filters, include_deleted, include_expired)
        if where == FALSE:
            return 0
        total = 0
        for target in self._targets(scope):
            result = self._call(target.aggregate.over_all, total_count=True,
                                filters=self._to_filter(where))
            total += int(result.total_count or 0)
        return total

    def _search(
        self, vector: Sequence[float], scope: Scope, limit: int, filters: Filter | None,
        include_deleted: bool, include_expired: bool,
    ) -> list[SearchHit]:
        self._require_open()
        common.check_query_vector(vector, self._dimension)
        where = self._where(scope, filters, include_deleted, include_expired)
        if limit < 1 or where == FALSE:
            return []
        from weaviate.classes.query import MetadataQuery

        limit = min(limit, MAX_PAGE)
        hits: list[SearchHit] = []
        for target in self._targets(scope):
            result = self._call(
                target.query.near_vector, near_vector=[float(x) for x in vector], limit=limit,
                filters=self._to_filter(where), return_metadata=MetadataQuery(distance=True),
                return_properties=["doc"],
            )
            for obj in result.objects:
                # cosine distance d = 1 - cos, so (1 + cos) / 2 = 1 - d / 2
                score = 1.0 - float(obj.metadata.distance or 0.0) / 2.0
                hits.append(SearchHit(record=object_record(obj.properties),
                                      score=min(1.0, max(0.0, score))))
        hits.sort(key=lambda h: (-h.score, h.id))
        return hits[:limit]

    def _keyword_search(
        self, query: str, scope: Scope, limit: int, filters: Filter | None,
        include_deleted: bool, include_expired: bool,
    ) -> list[SearchHit]:
        self._require_open()
        where = self._where(scope, filters, include_deleted, include_expired)
        if limit < 1 or not query.strip() or where == FALSE:
            return []
        from weaviate.classes.query import MetadataQuery

        limit = min(limit, MAX_PAGE)
        hits: list[SearchHit] = []
        for target in self._targets(scope):
            result = self._call(
                target.query.bm25, query=query, query_properties=["text"], limit=limit,
                filters=self._to_filter(where), return_metadata=MetadataQuery(score=True),
                return_properties=["doc"],
            )
            for obj in result.objects:
                raw = max(0.0, float(obj.metadata.score or 0.0))
                if raw > 0:  # BM25 is unbounded; s / (1 + s) keeps the order in [0, 1)
                    hits.append(SearchHit(record=object_record(obj.properties),
                                          score=raw / (1.0 + raw)))
        hits.sort(key=lambda h: (-h.score, h.id))
        return hits[:limit]

    def _history(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        self._require_open()
        rows = self._fetch_by_ids([memory_id], scope, ["history"])
        return object_history(rows[0].properties) if rows else []

    # --- helpers ------------------------------------------------------------------
    def _require_open(self) -> None:
        if self._client is None or self._dimension is None:
            raise ConfigurationError(
                "the weaviate store is not open: call open(dimension) first "
                "(Memory does this with the embedder's dimension)"
            )

    def _scope_where(self, scope: Scope) -> Where:
        return all_of(*(Cond(scope_property(f), "Equal", hexed(v)) for f, v in scope.items()))

    def _where(
        self, scope: Scope, filters: Filter | None, include_deleted: bool, include_expired: bool
    ) -> Where:
        compiled = WhereCompiler(self._has_property).compile(filters)
        parts = [self._scope_where(scope), compiled]
        if not include_deleted:
            parts.append(Cond("deleted", "Equal", False))
        if not include_expired:
            parts.append(Cond("expiry", "GreaterThan", utcnow()))
        return all_of(*parts)

    def _has_property(self, name: str) -> bool:
        if name not in self._properties:
            # another writer may have added it since we last looked
            self._properties = {p["name"] for p in self._schema().get("properties", [])}
        return name in self._properties

    def _to_filter(self, where: Where) -> Any:
        """The neutral tree as weaviate-client filters (None means "everything")."""
        from weaviate.classes.query import Filter

        if where == TRUE:
            return None
        if where == FALSE:  # no object is both deleted and not deleted
            return Filter.by_property("deleted").equal(True) & \
                Filter.by_property("deleted").equal(False)
        if isinstance(where, Group):
            children = [self._to_filter(c) for c in where.children]
            if where.kind == "not":
                return Filter.not_(children[0])
            return Filter.all_of(children) if where.kind == "and" else Filter.any_of(children)
        prop = Filter.by_property(where.prop)
        method = {
            "Equal": prop.equal, "GreaterThan": prop.greater_than,
            "GreaterThanEqual": prop.greater_or_equal, "LessThan": prop.less_than,
            "LessThanEqual": prop.less_or_equal, "ContainsAny": prop.contains_any,
        }[where.operator]
        return method(where.value)

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with _mapped_errors(self.name, "Weaviate call"):
            return fn(*args, **kwargs)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _property(definition: dict[str, Any]) -> Any:
    from weaviate.classes.config import DataType, Property, Tokenization

    kinds = {"text": DataType.TEXT, "text[]": DataType.TEXT_ARRAY, "number": DataType.NUMBER,
             "number[]": DataType.NUMBER_ARRAY, "boolean": DataType.BOOL,
             "boolean[]": DataType.BOOL_ARRAY, "date": DataType.DATE}
    kwargs: dict[str, Any] = {"name": definition["name"],
                              "data_type": kinds[definition["dataType"][0]],
                              "index_filterable": True}
    if definition["dataType"][0].startswith("text"):
        kwargs.update(tokenization=Tokenization.FIELD, index_searchable=False)
    return Property(**kwargs)


@contextmanager
def _mapped_errors(provider: str, what: str) -> Iterator[None]:
    """Turn weaviate-client errors into memplane's typed errors."""
    try:
        yield
    except MemplaneError:
        raise
    except Exception as exc:
        try:
            from weaviate.exceptions import (
                UnexpectedStatusCodeError,
                WeaviateBaseError,
                WeaviateConnectionError,
            )
        except ImportError:  # pragma: no cover
            raise exc from None
        if not isinstance(exc, WeaviateBaseError):
            raise
        message = str(exc)
        status = getattr(exc, "status_code", None)
        if status in (401, 403) or "UNAUTHENTICATED" in message or "PERMISSION_DENIED" in message:
            raise AuthenticationError(
                f"Weaviate rejected the credentials ({what}): check `api_key`",
                provider=provider,
            ) from exc
        retryable = isinstance(exc, WeaviateConnectionError) or (
            isinstance(exc, UnexpectedStatusCodeError) and (status or 0) >= 500
        ) or "UNAVAILABLE" in message
        raise ProviderError(f"{what} failed: {message}", provider=provider,
                            retryable=retryable) from exc

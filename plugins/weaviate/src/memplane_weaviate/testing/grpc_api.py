"""The gRPC half of the loopback server, on the stubs shipped inside weaviate-client
(``weaviate.proto.v1``): health, Search, BatchObjects, BatchDelete, TenantsGet and
Aggregate (object counts)."""

from __future__ import annotations

import functools
import struct
import time
import uuid
from collections.abc import Callable
from typing import Any

import grpc
from weaviate.proto.v1 import (
    aggregate_pb2,
    base_pb2,
    batch_delete_pb2,
    batch_pb2,
    health_weaviate_pb2,
    properties_pb2,
    search_get_pb2,
    tenants_pb2,
    weaviate_pb2_grpc,
)

from memplane_weaviate.testing.state import (
    Collection,
    Database,
    Leaf,
    Node,
    StoredObject,
    WeaviateError,
    bm25_scores,
    check_filter,
    cosine_distance,
    evaluate,
)

_OPERATORS = {
    base_pb2.Filters.OPERATOR_EQUAL: "Equal",
    base_pb2.Filters.OPERATOR_NOT_EQUAL: "NotEqual",
    base_pb2.Filters.OPERATOR_GREATER_THAN: "GreaterThan",
    base_pb2.Filters.OPERATOR_GREATER_THAN_EQUAL: "GreaterThanEqual",
    base_pb2.Filters.OPERATOR_LESS_THAN: "LessThan",
    base_pb2.Filters.OPERATOR_LESS_THAN_EQUAL: "LessThanEqual",
    base_pb2.Filters.OPERATOR_CONTAINS_ANY: "ContainsAny",
    base_pb2.Filters.OPERATOR_CONTAINS_ALL: "ContainsAll",
    base_pb2.Filters.OPERATOR_AND: "And",
    base_pb2.Filters.OPERATOR_OR: "Or",
    base_pb2.Filters.OPERATOR_NOT: "Not",
}


def parse_filters(message: base_pb2.Filters) -> Leaf | Node:
    """A proto filter as a small tree; operators outside the subset are refused."""
    operator = _OPERATORS.get(message.operator)
    if operator is None:
        raise WeaviateError(f"filter operator {message.operator} is not supported here")
    if operator in ("And", "Or", "Not"):
        children = [parse_filters(f) for f in message.filters]
        if not children or (operator == "Not" and len(children) != 1):
            raise WeaviateError(f"filter {operator} needs operands")
        return Node(operator, children)
    if message.HasField("target"):
        prop = message.target.property
    elif message.on:
        prop = message.on[0]
    else:
        raise WeaviateError("filter without a property")
    kind = message.WhichOneof("test_value")
    if kind is None:
        raise WeaviateError(f"filter on {prop!r} has no value")
    raw = getattr(message, kind)
    value: Any = list(raw.values) if kind.endswith("_array") else raw
    if operator.startswith("Contains") and not isinstance(value, list):
        value = [value]
    return Leaf(operator, prop, value)


class WeaviateServicer(weaviate_pb2_grpc.WeaviateServicer):
    def __init__(self, db: Database, record: Callable[[str, Any], None]) -> None:
        self.db = db
        self.record = record

    # -- plumbing -----------------------------------------------------------------
    def _run(self, name: str, request: Any, context: grpc.ServicerContext,
             handler: Callable[[], Any]) -> Any:
        self.record(name, request)
        try:
            with self.db.lock:
                return handler()
        except WeaviateError as exc:
            code = grpc.StatusCode.NOT_FOUND if exc.status == 404 else \
                grpc.StatusCode.INVALID_ARGUMENT
            context.abort(code, str(exc))

    # -- Search ---------------------------------------------------------------------
    def Search(self, request: search_get_pb2.SearchRequest, context: grpc.ServicerContext) -> Any:
        return self._run("Search", request, context, lambda: self._search(request))

    def _search(self, request: search_get_pb2.SearchRequest) -> search_get_pb2.SearchReply:
        coll = self.db.get(request.collection)
        tree = parse_filters(request.filters) if request.HasField("filters") else None
        check_filter(coll, tree)
        matches = self.db.select(coll.name, request.tenant, lambda o: evaluate(coll, tree, o))
        scored: list[tuple[StoredObject, float | None, float | None]]
        if request.HasField("near_vector"):
            query = _vector(request.near_vector)
            if coll.dimension is not None and len(query) != coll.dimension:
                raise WeaviateError(
                    f"vector search: query vector has length {len(query)}, the collection's "
                    f"vectors have length {coll.dimension}"
                )
            with_vec = [o for o in matches if o.vector is not None]
            scored = sorted(((o, cosine_distance(query, o.vector or []), None) for o in with_vec),
                            key=lambda t: (t[1], t[0].uuid))
        elif request.HasField("bm25_search"):
            scores = bm25_scores(coll, matches, request.bm25_search.query,
                                 list(request.bm25_search.properties))
            scored = sorted(((o, None, scores[o.uuid]) for o in matches if o.uuid in scores),
                            key=lambda t: (-(t[2] or 0.0), t[0].uuid))
        else:
            scored = [(o, None, None) for o in matches]
            for sort in reversed(list(request.sort_by)):
                path = sort.path[0]
                if path != "_id":
                    coll.prop(path)
                scored.sort(key=functools.partial(_sort_key_of_pair, path=path),
                            reverse=not sort.ascending)
        if request.after:
            raise WeaviateError("the cursor API ('after') is not used by memplane")
        start = request.offset or 0
        limit = request.limit or 10_000
        page = scored[start:start + limit]
        return search_get_pb2.SearchReply(
            took=0.0, results=[self._result(coll, request, *item) for item in page]
        )

    def _result(self, coll: Collection, request: search_get_pb2.SearchRequest,
                obj: StoredObject, distance: float | None, score: float | None) -> Any:
        meta = search_get_pb2.MetadataResult(id=obj.uuid, id_as_bytes=uuid.UUID(obj.uuid).bytes)
        if request.metadata.vector and obj.vector is not None:
            meta.vector_bytes = struct.pack(f"<{len(obj.vector)}f", *obj.vector)
        if distance is not None and request.metadata.distance:
            meta.distance = distance
            meta.distance_present = True
        if score is not None and request.metadata.score:
            meta.score = score
            meta.score_present = True
        wanted = list(request.properties.non_ref_properties)
        if not request.HasField("properties") or request.properties.return_all_nonref_properties:
            wanted = list(obj.properties)
        props = properties_pb2.Properties()
        for name in wanted:
            coll.prop(name)
            if name in obj.properties and obj.properties[name] is not None:
                props.fields[name].CopyFrom(_value(coll, name, obj.properties[name]))
        return search_get_pb2.SearchResult(
            metadata=meta,
            properties=search_get_pb2.PropertiesResult(
                non_ref_props=props, target_collection=coll.name
            ),
        )

    # -- writes ---------------------------------------------------------------------
    def BatchObjects(self, request: batch_pb2.BatchObjectsRequest,
                     context: grpc.ServicerContext) -> Any:
        return self._run("BatchObjects", request, context, lambda: self._batch(request))

    def _batch(self, request: batch_pb2.BatchObjectsRequest) -> batch_pb2.BatchObjectsReply:
        errors = []
        start = time.perf_counter()
        for index, obj in enumerate(request.objects):
            try:
                props = _batch_properties(obj.properties)
                vector = list(struct.unpack(f"<{len(obj.vector_bytes) // 4}f", obj.vector_bytes)) \
                    if obj.vector_bytes else None
                self.db.put_object(obj.collection, obj.tenant, obj.uuid, props, vector)
            except WeaviateError as exc:
                errors.append(batch_pb2.BatchObjectsReply.BatchError(index=index, error=str(exc)))
        return batch_pb2.BatchObjectsReply(took=time.perf_counter() - start, errors=errors)

    def BatchDelete(self, request: batch_delete_pb2.BatchDeleteRequest,
                    context: grpc.ServicerContext) -> Any:
        return self._run("BatchDelete", request, context, lambda: self._delete(request))

    def _delete(self, request: batch_delete_pb2.BatchDeleteRequest) -> Any:
        coll = self.db.get(request.collection)
        if not request.HasField("filters"):
            raise WeaviateError("batch delete needs a filter")
        tree = parse_filters(request.filters)
        check_filter(coll, tree)
        doomed = self.db.select(coll.name, request.tenant, lambda o: evaluate(coll, tree, o))
        if not request.dry_run:
            shard = coll.shard(request.tenant)
            for obj in doomed:
                del shard[obj.uuid]
        return batch_delete_pb2.BatchDeleteReply(
            took=0.0, failed=0, matches=len(doomed), successful=len(doomed),
        )

    # -- tenants and counts -----------------------------------------------------------
    def TenantsGet(self, request: tenants_pb2.TenantsGetRequest,
                   context: grpc.ServicerContext) -> Any:
        return self._run("TenantsGet", request, context, lambda: self._tenants(request))

    def _tenants(self, request: tenants_pb2.TenantsGetRequest) -> Any:
        coll = self.db.get(request.collection)
        if not coll.multi_tenant:
            raise WeaviateError(f"multi-tenancy is not enabled for class {coll.name!r}")
        names = sorted(coll.tenants)
        if request.HasField("names"):
            names = [n for n in request.names.values if n in coll.tenants]
        return tenants_pb2.TenantsGetReply(took=0.0, tenants=[
            tenants_pb2.Tenant(name=n, activity_status=tenants_pb2.TENANT_ACTIVITY_STATUS_HOT)
            for n in names
        ])

    def Aggregate(self, request: aggregate_pb2.AggregateRequest,
                  context: grpc.ServicerContext) -> Any:
        return self._run("Aggregate", request, context, lambda: self._aggregate(request))

    def _aggregate(self, request: aggregate_pb2.AggregateRequest) -> Any:
        coll = self.db.get(request.collection)
        if request.aggregations or request.HasField("group_by"):
            raise WeaviateError("only objects_count aggregation is supported here")
        tree = parse_filters(request.filters) if request.HasField("filters") else None
        check_filter(coll, tree)
        count = len(self.db.select(coll.name, request.tenant, lambda o: evaluate(coll, tree, o)))
        return aggregate_pb2.AggregateReply(
            took=0.0, single_result=aggregate_pb2.AggregateReply.Single(objects_count=count)
        )


class HealthServicer:
    """``/grpc.health.v1.Health/Check``, answered with SERVING."""

    @staticmethod
    def handler() -> grpc.GenericRpcHandler:
        def check(request: Any, context: grpc.ServicerContext) -> Any:
            return health_weaviate_pb2.WeaviateHealthCheckResponse(
                status=health_weaviate_pb2.WeaviateHealthCheckResponse.SERVING
            )

        return grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(
                check,
                request_deserializer=health_weaviate_pb2.WeaviateHealthCheckRequest.FromString,
                response_serializer=health_weaviate_pb2.WeaviateHealthCheckResponse.SerializeToString,
            )
        })


def _vector(near: Any) -> list[float]:
    if near.vector_bytes:
        raw = near.vector_bytes
    elif near.vectors:
        if near.vectors[0].type == base_pb2.Vectors.VECTOR_TYPE_MULTI_FP32:
            raise WeaviateError("multi-vectors are not supported here")
        raw = near.vectors[0].vector_bytes
    else:
        raw = struct.pack(f"<{len(near.vector)}f", *near.vector)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def _batch_properties(props: Any) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    out: dict[str, Any] = MessageToDict(props.non_ref_properties)
    for arr in props.text_array_properties:
        out[arr.prop_name] = list(arr.values)
    for arr in props.boolean_array_properties:
        out[arr.prop_name] = list(arr.values)
    for arr in props.int_array_properties:
        out[arr.prop_name] = list(arr.values)
    for arr in props.number_array_properties:
        if arr.values_bytes:
            out[arr.prop_name] = list(
                struct.unpack(f"<{len(arr.values_bytes) // 8}d", arr.values_bytes)
            )
        else:
            out[arr.prop_name] = list(arr.values)
    for name in props.empty_list_props:
        out[name] = []
    if props.single_target_ref_props or props.multi_target_ref_props or \
            props.object_properties or props.object_array_properties:
        raise WeaviateError("references and nested objects are not supported here")
    return out


def _sort_key_of_pair(pair: tuple[StoredObject, Any], path: str) -> tuple[int, Any]:
    return _sort_key(pair[0], path)


def _sort_key(obj: StoredObject, path: str) -> tuple[int, Any]:
    if path == "_id":
        return (0, obj.uuid)
    value = obj.properties.get(path)
    return (1, "") if value is None else (0, value)


def _value(coll: Collection, name: str, value: Any) -> properties_pb2.Value:
    data_type = coll.prop(name)["dataType"][0]
    if data_type == "text[]":
        return properties_pb2.Value(list_value=properties_pb2.ListValue(
            text_values=properties_pb2.TextValues(values=value)))
    if data_type == "boolean[]":
        return properties_pb2.Value(list_value=properties_pb2.ListValue(
            bool_values=properties_pb2.BoolValues(values=value)))
    if data_type == "number[]":
        return properties_pb2.Value(list_value=properties_pb2.ListValue(
            number_values=properties_pb2.NumberValues(
                values=struct.pack(f"<{len(value)}d", *value))))
    if data_type == "date":
        return properties_pb2.Value(date_value=value)
    if data_type == "boolean":
        return properties_pb2.Value(bool_value=value)
    if data_type == "number":
        return properties_pb2.Value(number_value=float(value))
    if data_type == "int":
        return properties_pb2.Value(int_value=int(value))
    return properties_pb2.Value(text_value=str(value))

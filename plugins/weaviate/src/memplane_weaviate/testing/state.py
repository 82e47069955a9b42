"""What the loopback Weaviate server stores and how it answers: schema, tenants,
objects, filters, vector (cosine) and BM25 search.

Only the subset memplane uses is implemented, but with Weaviate's semantics and its
strictness: unknown collections, tenants and properties, a missing tenant on a
multi-tenant collection, filter values of the wrong type and vectors of the wrong
size are errors, so the plugin's requests are checked, not just answered.
"""

from __future__ import annotations

import copy
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_CLASS_NAME = re.compile(r"^[A-Z][_0-9A-Za-z]*$")
_PROP_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,230}$")
_TENANT_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")
_WORD = re.compile(r"[0-9A-Za-z]+")
DATA_TYPES = {"text", "text[]", "number", "number[]", "int", "int[]", "boolean",
              "boolean[]", "date", "date[]", "uuid"}


class WeaviateError(Exception):
    """A request the real server would refuse; ``status`` is the HTTP status to send."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class StoredObject:
    uuid: str
    properties: dict[str, Any]
    vector: list[float] | None


@dataclass
class Collection:
    schema: dict[str, Any]
    tenants: set[str] = field(default_factory=set)
    #: tenant ("" without multi-tenancy) -> uuid -> object
    objects: dict[str, dict[str, StoredObject]] = field(default_factory=dict)
    dimension: int | None = None

    @property
    def name(self) -> str:
        return str(self.schema["class"])

    @property
    def multi_tenant(self) -> bool:
        return bool(self.schema.get("multiTenancyConfig", {}).get("enabled"))

    def prop(self, name: str) -> dict[str, Any]:
        for p in self.schema.get("properties", []):
            if p["name"] == name:
                return p  # type: ignore[no-any-return]
        raise WeaviateError(
            f"no such prop with name '{name}' found in class '{self.name}' in the schema. "
            f"Check your schema files for which properties in this class are available"
        )

    def shard(self, tenant: str) -> dict[str, StoredObject]:
        """The objects of one tenant, enforcing Weaviate's tenant rules."""
        if self.multi_tenant:
            if not tenant:
                raise WeaviateError(
                    f"class {self.name} has multi-tenancy enabled, but request was without tenant"
                )
            if tenant not in self.tenants:
                raise WeaviateError(f'tenant not found: "{tenant}"', status=422)
        elif tenant:
            raise WeaviateError(
                f"class {self.name} has multi-tenancy disabled, but request was with tenant"
            )
        return self.objects.setdefault(tenant, {})


class Database:
    """All server state, guarded by one lock (requests come from several threads)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.collections: dict[str, Collection] = {}
        #: fault injection: (predicate on an object's properties, error message)
        self.refuse: tuple[Callable[[dict[str, Any]], bool], str] | None = None

    # --- schema -------------------------------------------------------------------
    def get(self, name: str) -> Collection:
        for key, coll in self.collections.items():
            if key.lower() == name.lower():
                return coll
        raise WeaviateError(f"collection {name!r} not found", status=404)

    def create_collection(self, schema: dict[str, Any]) -> dict[str, Any]:
        name = schema.get("class", "")
        if not _CLASS_NAME.match(name):
            raise WeaviateError(f"'{name}' is not a valid class name")
        if any(k.lower() == name.lower() for k in self.collections):
            raise WeaviateError(f"class name {name} already exists")
        full = _with_defaults(copy.deepcopy(schema))
        for prop in full["properties"]:
            _check_property(prop)
        self.collections[name] = Collection(schema=full)
        return copy.deepcopy(full)

    def add_property(self, name: str, prop: dict[str, Any]) -> dict[str, Any]:
        coll = self.get(name)
        prop = _property_defaults(copy.deepcopy(prop))
        _check_property(prop)
        if any(p["name"].lower() == prop["name"].lower() for p in coll.schema["properties"]):
            raise WeaviateError(f"property with name '{prop['name']}' already exists")
        coll.schema["properties"].append(prop)
        return copy.deepcopy(prop)

    def delete_collection(self, name: str) -> None:
        for key in list(self.collections):
            if key.lower() == name.lower():
                del self.collections[key]

    def add_tenants(self, name: str, tenants: list[str]) -> None:
        coll = self.get(name)
        if not coll.multi_tenant:
            raise WeaviateError(f"multi-tenancy is not enabled for class {name!r}")
        for tenant in tenants:
            if not _TENANT_NAME.match(tenant):
                raise WeaviateError(f"tenant name {tenant!r} is invalid")
        coll.tenants.update(tenants)

    # --- objects ------------------------------------------------------------------
    def put_object(
        self, name: str, tenant: str, uuid: str, props: dict[str, Any], vector: list[float] | None
    ) -> None:
        coll = self.get(name)
        if self.refuse is not None and self.refuse[0](props):
            raise WeaviateError(self.refuse[1], status=500)
        if coll.multi_tenant and tenant and tenant not in coll.tenants:
            auto = coll.schema["multiTenancyConfig"].get("autoTenantCreation")
            if not auto:
                raise WeaviateError(f'tenant not found: "{tenant}"')
            coll.tenants.add(tenant)
        shard = coll.shard(tenant)
        for key, value in props.items():
            _check_value(coll, coll.prop(key), value)
        if vector is not None:
            if coll.dimension is None:
                coll.dimension = len(vector)
            elif len(vector) != coll.dimension:
                raise WeaviateError(
                    f"new node has a vector with length {len(vector)}. Existing nodes have "
                    f"vectors with length {coll.dimension}"
                )
        shard[uuid.lower()] = StoredObject(uuid=uuid.lower(), properties=props, vector=vector)

    def select(
        self, name: str, tenant: str, predicate: Callable[[StoredObject], bool]
    ) -> list[StoredObject]:
        coll = self.get(name)
        return [o for o in coll.shard(tenant).values() if predicate(o)]


def _with_defaults(schema: dict[str, Any]) -> dict[str, Any]:
    """Fill the defaults a real server adds, so the client can parse the schema back."""
    schema.setdefault("description", "")
    schema["properties"] = [_property_defaults(p) for p in schema.get("properties", [])]
    schema.setdefault("vectorizer", "none")
    schema.setdefault("vectorIndexType", "hnsw")
    vic = schema.setdefault("vectorIndexConfig", {})
    vic.setdefault("distance", "cosine")
    for key, value in {
        "skip": False, "cleanupIntervalSeconds": 300, "maxConnections": 32,
        "efConstruction": 128, "ef": -1, "dynamicEfMin": 100, "dynamicEfMax": 500,
        "dynamicEfFactor": 8, "vectorCacheMaxObjects": 1000000000000, "flatSearchCutoff": 40000,
        "filterStrategy": "sweeping",
    }.items():
        vic.setdefault(key, value)
    vic.setdefault("pq", {"enabled": False, "bitCompression": False, "segments": 0,
                          "centroids": 256, "trainingLimit": 100000,
                          "encoder": {"type": "kmeans", "distribution": "log-normal"}})
    vic.setdefault("bq", {"enabled": False})
    vic.setdefault("sq", {"enabled": False, "trainingLimit": 100000, "rescoreLimit": 20})
    iic = schema.setdefault("invertedIndexConfig", {})
    iic.setdefault("bm25", {"b": 0.75, "k1": 1.2})
    iic.setdefault("cleanupIntervalSeconds", 60)
    iic.setdefault("stopwords", {"preset": "en", "additions": None, "removals": None})
    iic.setdefault("indexTimestamps", False)
    iic.setdefault("indexNullState", False)
    iic.setdefault("indexPropertyLength", False)
    mt = schema.setdefault("multiTenancyConfig", {})
    mt.setdefault("enabled", False)
    mt.setdefault("autoTenantCreation", False)
    mt.setdefault("autoTenantActivation", False)
    schema.setdefault("replicationConfig", {"factor": 1, "asyncEnabled": False,
                                            "deletionStrategy": "NoAutomatedResolution"})
    schema.setdefault("shardingConfig", {
        "virtualPerPhysical": 128, "desiredCount": 1, "actualCount": 1,
        "desiredVirtualCount": 128, "actualVirtualCount": 128, "key": "_id",
        "strategy": "hash", "function": "murmur3",
    } if not mt["enabled"] else {
        "virtualPerPhysical": 0, "desiredCount": 0, "actualCount": 0,
        "desiredVirtualCount": 0, "actualVirtualCount": 0, "key": "", "strategy": "",
        "function": "",
    })
    schema.setdefault("moduleConfig", {})
    return schema


def _property_defaults(prop: dict[str, Any]) -> dict[str, Any]:
    data_type = prop.get("dataType", [""])[0]
    text = data_type in ("text", "text[]")
    prop.setdefault("description", "")
    prop.setdefault("indexFilterable", True)
    prop.setdefault("indexSearchable", text)
    prop.setdefault("indexRangeFilters", False)
    if text:
        prop.setdefault("tokenization", "word")
    return prop


def _check_property(prop: dict[str, Any]) -> None:
    name = prop.get("name", "")
    if not _PROP_NAME.match(name) or name in ("id", "_id", "_additional"):
        raise WeaviateError(f"'{name}' is not a valid property name")
    if prop.get("dataType", [None])[0] not in DATA_TYPES:
        raise WeaviateError(f"property {name!r}: unsupported dataType {prop.get('dataType')}")


def _check_value(coll: Collection, prop: dict[str, Any], value: Any) -> None:
    data_type = prop["dataType"][0]
    ok = {
        "text": lambda v: isinstance(v, str),
        "date": lambda v: isinstance(v, str) and _parse_date(v) is not None,
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "uuid": lambda v: isinstance(v, str),
    }
    base = data_type.removesuffix("[]")
    check = ok[base]
    values = value if data_type.endswith("[]") else [value]
    if data_type.endswith("[]") and not isinstance(value, list):
        raise WeaviateError(f"invalid {data_type} property '{prop['name']}' on class "
                            f"'{coll.name}': not a list")
    for v in values:
        if not check(v):
            raise WeaviateError(f"invalid {base} property '{prop['name']}' on class "
                                f"'{coll.name}': {v!r}")


def _parse_date(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


# --- filters ---------------------------------------------------------------------


def tokens(text: str, tokenization: str) -> list[str]:
    """Weaviate's tokenizations, the ones memplane's schema uses."""
    if tokenization == "field":
        return [text.strip()]
    if tokenization == "whitespace":
        return text.split()
    if tokenization == "lowercase":
        return text.lower().split()
    return [t.lower() for t in _WORD.findall(text)]  # "word"


@dataclass
class Leaf:
    operator: str
    prop: str
    value: Any  # a scalar, or a list for the Contains* operators


@dataclass
class Node:
    operator: str  # And / Or / Not
    children: list[Any]


def check_filter(coll: Collection, tree: Leaf | Node | None) -> None:
    """Validate a filter against the schema before evaluating it (as Weaviate does,
    even when no object would be visited)."""
    if tree is None:
        return
    if isinstance(tree, Node):
        for child in tree.children:
            check_filter(coll, child)
        return
    if tree.prop == "_id":
        return
    prop = coll.prop(tree.prop)
    if not prop.get("indexFilterable", True):
        raise WeaviateError(f"property {tree.prop!r} is not filterable")
    base = prop["dataType"][0].removesuffix("[]")
    for operand in tree.value if isinstance(tree.value, list) else [tree.value]:
        _check_operand(tree.prop, base, operand)


def evaluate(coll: Collection, tree: Leaf | Node | None, obj: StoredObject) -> bool:
    if tree is None:
        return True
    if isinstance(tree, Node):
        results = [evaluate(coll, c, obj) for c in tree.children]
        if tree.operator == "And":
            return all(results)
        if tree.operator == "Or":
            return any(results)
        return not results[0]
    return _leaf(coll, tree, obj)


def _leaf(coll: Collection, leaf: Leaf, obj: StoredObject) -> bool:
    if leaf.prop == "_id":
        ids = leaf.value if isinstance(leaf.value, list) else [leaf.value]
        wanted = {str(i).lower() for i in ids}
        hit = obj.uuid in wanted
        return hit if leaf.operator != "NotEqual" else not hit
    prop = coll.prop(leaf.prop)
    if not prop.get("indexFilterable", True):
        raise WeaviateError(f"property {leaf.prop!r} is not filterable")
    data_type = prop["dataType"][0]
    base = data_type.removesuffix("[]")
    operands = leaf.value if isinstance(leaf.value, list) else [leaf.value]
    for operand in operands:
        _check_operand(leaf.prop, base, operand)
    stored = obj.properties.get(leaf.prop)
    if stored is None:
        return leaf.operator == "NotEqual"
    values = stored if isinstance(stored, list) else [stored]
    if base == "text":
        tok = prop.get("tokenization", "word")
        values = [t for v in values for t in tokens(v, tok)]
        operands = [t for o in operands for t in tokens(o, tok)]
    elif base == "date":
        values = [_parse_date(v) for v in values]
        operands = [_parse_date(o) for o in operands]
    op = leaf.operator
    if op == "Equal":
        return any(v == operands[0] for v in values)
    if op == "NotEqual":
        return not any(v == operands[0] for v in values)
    if op == "ContainsAny":
        return any(v == o for v in values for o in operands)
    if op == "ContainsAll":
        return all(any(v == o for v in values) for o in operands)
    compare = {
        "GreaterThan": lambda a, b: a > b, "GreaterThanEqual": lambda a, b: a >= b,
        "LessThan": lambda a, b: a < b, "LessThanEqual": lambda a, b: a <= b,
    }[op]
    return any(compare(v, operands[0]) for v in values)


def _check_operand(prop: str, base: str, operand: Any) -> None:
    kinds = {
        "text": str, "date": str, "uuid": str, "boolean": bool, "int": int, "number": float,
    }
    expected = kinds[base]
    if base == "number" and isinstance(operand, int) and not isinstance(operand, bool):
        return  # Weaviate accepts valueInt on number properties
    if not isinstance(operand, expected) or (expected is int and isinstance(operand, bool)):
        raise WeaviateError(
            f"invalid filter on property {prop!r}: data type {base!r} does not accept "
            f"value {operand!r} of type {type(operand).__name__}"
        )
    if base == "date" and _parse_date(str(operand)) is None:
        raise WeaviateError(f"invalid filter on {prop!r}: {operand!r} is not RFC 3339")


# --- ranking ---------------------------------------------------------------------


def cosine_distance(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    if not na or not nb:
        return 1.0
    return 1.0 - dot / (na * nb)


def bm25_scores(
    coll: Collection, objects: list[StoredObject], query: str, props: list[str]
) -> dict[str, float]:
    """Okapi BM25 (k1, b from the collection) over the searchable text properties."""
    bm = coll.schema["invertedIndexConfig"]["bm25"]
    k1, b = float(bm["k1"]), float(bm["b"])
    if not props:
        props = [p["name"] for p in coll.schema["properties"]
                 if p["dataType"][0] in ("text", "text[]") and p.get("indexSearchable")]
    for name in props:
        if not coll.prop(name).get("indexSearchable"):
            raise WeaviateError(f"property {name!r} is not searchable")
    docs: dict[str, list[str]] = {}
    for obj in objects:
        words: list[str] = []
        for name in props:
            value = obj.properties.get(name)
            for v in value if isinstance(value, list) else [value] if value else []:
                words.extend(tokens(v, coll.prop(name).get("tokenization", "word")))
        docs[obj.uuid] = words
    terms = set(tokens(query, "word"))
    n = len(docs) or 1
    avg = sum(len(w) for w in docs.values()) / n or 1.0
    scores: dict[str, float] = {}
    for term in terms:
        df = sum(1 for words in docs.values() if term in words)
        if not df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for uuid, words in docs.items():
            tf = words.count(term)
            if tf:
                norm = tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(words) / avg))
                scores[uuid] = scores.get(uuid, 0.0) + idf * norm
    return scores

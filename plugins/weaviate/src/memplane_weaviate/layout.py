"""How a memory record maps to one Weaviate object (pure Python, no SDK).

Strings that filters compare (scope ids, metadata strings, ``attributed_to``, the
record id) are stored as the hex of their UTF-8 bytes in ``field``-tokenized
properties. Weaviate's ``field`` tokenization trims whitespace, and other
tokenizations split or fold case; hex has none of those problems, keeps equality
exact, and keeps ordering exact too (hex order = byte order = code-point order for
UTF-8), so ``gt``/``lt`` on strings mean what memplane says.

Metadata is flattened into typed properties, one per key and value type, named from
a digest of the key (keys may hold any character; property names may not):
``m_<digest>_s`` (text), ``_n`` (number), ``_b`` (boolean), ``_t`` (date, for
ISO-8601 strings with a timezone), ``_tn`` (date, naive ISO strings read as UTC),
``_ls`` / ``_ln`` / ``_lb`` (list elements by type). ``meta_keys`` lists the keys
present, ``present`` the optional record fields that are set. The record itself is
kept verbatim as JSON in ``doc``; the history of the memory in ``history``.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from datetime import UTC, datetime
from typing import Any

from memplane.models import SCOPE_FIELDS, HistoryEntry, MemoryRecord

#: never-expires stand-in, so visibility is one range filter on ``expiry``.
FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
UNSET = "-"  # scope id not set (hex never contains "-")
_NAMESPACE = uuid.UUID("6b1f4c0e-61d7-4d7e-9a55-3c1e4b7f8a10")
DATETIME_FIELDS = ("created_at", "updated_at", "observed_at", "expires_at")
SLOT_TYPES = {
    "s": "text", "n": "number", "b": "boolean", "t": "date", "tn": "date",
    "ls": "text[]", "ln": "number[]", "lb": "boolean[]",
}


def hexed(value: str) -> str:
    return value.encode("utf-8").hex()


def object_uuid(record_id: str) -> str:
    """Weaviate ids are UUIDs; memory ids are any string, so derive one."""
    return str(uuid.uuid5(_NAMESPACE, record_id))


def scope_property(field: str) -> str:
    return f"s_{field}"


def meta_property(key: str, slot: str) -> str:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
    return f"m_{digest}_{slot}"


def base_properties(keyword_search: bool) -> list[dict[str, Any]]:
    """The fixed part of the schema (REST property definitions)."""

    def field_text(name: str, array: bool = False) -> dict[str, Any]:
        return {"name": name, "dataType": ["text[]" if array else "text"],
                "tokenization": "field", "indexFilterable": True, "indexSearchable": False}

    def stored(name: str) -> dict[str, Any]:
        return {"name": name, "dataType": ["text"], "indexFilterable": False,
                "indexSearchable": False}

    props = [
        field_text("mid"),
        {"name": "text", "dataType": ["text"], "tokenization": "word",
         "indexFilterable": False, "indexSearchable": keyword_search},
        stored("doc"),
        stored("history"),
        *(field_text(scope_property(f)) for f in SCOPE_FIELDS),
        {"name": "deleted", "dataType": ["boolean"]},
        {"name": "expiry", "dataType": ["date"]},
        *({"name": f, "dataType": ["date"]} for f in DATETIME_FIELDS),
        field_text("attributed_to"),
        field_text("present", array=True),
        field_text("meta_keys", array=True),
    ]
    return props


def slot_definition(name: str, slot: str) -> dict[str, Any]:
    data_type = SLOT_TYPES[slot]
    prop: dict[str, Any] = {"name": name, "dataType": [data_type], "indexFilterable": True}
    if data_type.startswith("text"):
        prop.update(tokenization="field", indexSearchable=False)
    return prop


def record_properties(record: MemoryRecord, history: list[dict[str, Any]]) -> dict[str, Any]:
    """The object's properties; optional values that are unset are left out."""
    props: dict[str, Any] = {
        "mid": hexed(record.id),
        "text": record.text,
        "doc": record.model_dump_json(),
        "history": json.dumps(history),
        "deleted": record.deleted_at is not None,
        "expiry": _aware(record.expires_at) if record.expires_at else FAR_FUTURE,
        "meta_keys": [hexed(k) for k, v in record.metadata.items() if v is not None],
    }
    for name in SCOPE_FIELDS:
        value = getattr(record.scope, name)
        props[scope_property(name)] = hexed(value) if value is not None else UNSET
    present = []
    for name in DATETIME_FIELDS:
        value = getattr(record, name)
        if value is not None:
            props[name] = _aware(value)
            present.append(name)
    if record.attributed_to is not None:
        props["attributed_to"] = hexed(record.attributed_to)
        present.append("attributed_to")
    props["present"] = present
    for key, value in record.metadata.items():
        for slot, typed in metadata_slots(value).items():
            props[meta_property(key, slot)] = typed
    # empty lists carry no information and would need list type hints
    return {k: v for k, v in props.items() if v != [] or k in ("meta_keys", "present")}


def metadata_slots(value: Any) -> dict[str, Any]:
    """Typed slots of one metadata value (see the module docstring)."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int | float):
        return {"n": float(value)} if math.isfinite(value) else {}
    if isinstance(value, str):
        slots: dict[str, Any] = {"s": hexed(value)}
        stamp = parse_iso(value)
        if stamp is not None:
            slots["t" if stamp.tzinfo is not None else "tn"] = _aware(stamp)
        return slots
    if isinstance(value, list):
        lists = {
            "ls": [hexed(v) for v in value if isinstance(v, str)],
            "ln": [float(v) for v in value if isinstance(v, int | float)
                   and not isinstance(v, bool) and math.isfinite(v)],
            "lb": [v for v in value if isinstance(v, bool)],
        }
        return {k: v for k, v in lists.items() if v}
    return {}  # objects: present (meta_keys) but not comparable


def parse_iso(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def object_record(props: dict[str, Any]) -> MemoryRecord:
    return MemoryRecord.model_validate_json(props["doc"])


def object_history(props: dict[str, Any]) -> list[HistoryEntry]:
    raw = props.get("history")
    return [HistoryEntry.model_validate(e) for e in json.loads(raw)] if raw else []

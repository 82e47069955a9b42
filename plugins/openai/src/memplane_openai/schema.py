"""Make a JSON schema acceptable to strict structured outputs, and undo the one
semantic change that requires.

Strict mode wants every object closed (``additionalProperties: false``) and every
property listed in ``required``. An optional property therefore becomes required
but nullable; when the model then answers ``null`` for a property whose original
schema did not allow null, :func:`strip_introduced_nulls` removes it again so the
answer validates against the schema the caller gave.
"""

from __future__ import annotations

import copy
from typing import Any

JSON = dict[str, Any]


class NotStrictable(ValueError):
    """The schema cannot be expressed in strict mode (e.g. open objects)."""


def _accepts_null(node: Any) -> bool:
    if not isinstance(node, dict) or not node:
        return True  # {} accepts anything
    kind = node.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if "enum" in node and None in node["enum"]:
        return True
    return any(_accepts_null(branch) for branch in node.get("anyOf", []))


def _nullable(node: JSON) -> JSON:
    if _accepts_null(node):
        return node
    if "$ref" in node:
        return {"anyOf": [node, {"type": "null"}]}
    if "anyOf" in node:
        return {**node, "anyOf": [*node["anyOf"], {"type": "null"}]}
    kind = node.get("type")
    if kind is None:
        return {"anyOf": [node, {"type": "null"}]}
    out = dict(node)
    out["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def _strictify(node: Any, defs: JSON) -> Any:
    if isinstance(node, list):
        return [_strictify(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    node = {k: v for k, v in node.items() if k != "default"}
    if "$ref" in node and len(node) > 1:
        # strict mode refuses siblings next to $ref: inline the target instead
        target = _resolve(node["$ref"], defs)
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    out: JSON = {}
    for key, value in node.items():
        if key in ("properties", "$defs", "definitions"):
            out[key] = {name: _strictify(sub, defs) for name, sub in value.items()}
        else:
            out[key] = _strictify(value, defs)
    if out.get("type") == "object" or "properties" in out:
        extra = out.get("additionalProperties", False)
        if extra is not False:
            raise NotStrictable("an object allows additional properties")
        out["additionalProperties"] = False
        props = out.get("properties", {})
        required = set(node.get("required", []))
        out["properties"] = {
            name: sub if name in required else _nullable(sub) for name, sub in props.items()
        }
        out["required"] = list(props)
    return out


def _resolve(ref: str, defs: JSON) -> JSON:
    prefix = "#/$defs/" if ref.startswith("#/$defs/") else "#/definitions/"
    name = ref[len(prefix):]
    if not ref.startswith(prefix) or name not in defs:
        raise NotStrictable(f"cannot resolve $ref {ref!r}")
    target = defs[name]
    if not isinstance(target, dict):
        raise NotStrictable(f"$ref {ref!r} is not a schema")
    return target


def strict_schema(schema: JSON) -> JSON:
    """A strict-mode copy of ``schema``; raises :class:`NotStrictable` if impossible."""
    if schema.get("type") != "object":
        raise NotStrictable("strict mode needs an object at the top level")
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    result: JSON = _strictify(copy.deepcopy(schema), defs)
    return result


def strip_introduced_nulls(value: Any, schema: JSON) -> Any:
    """Remove ``null`` answers for optional properties whose schema forbids null."""
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    return _strip(value, schema, defs)


def _strip(value: Any, node: Any, defs: JSON) -> Any:
    if not isinstance(node, dict):
        return value
    if "$ref" in node:
        try:
            node = {**_resolve(node["$ref"], defs), **{k: v for k, v in node.items() if k != "$ref"}}
        except NotStrictable:
            return value
    if isinstance(value, dict) and isinstance(node.get("properties"), dict):
        required = set(node.get("required", []))
        props = node["properties"]
        out = {}
        for key, item in value.items():
            sub = props.get(key)
            if item is None and key not in required and sub is not None and not _accepts_null(sub):
                continue
            out[key] = _strip(item, sub, defs)
        return out
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [_strip(item, node["items"], defs) for item in value]
    branches = [b for b in node.get("anyOf", []) if not (isinstance(b, dict) and b.get("type") == "null")]
    if len(branches) == 1:
        return _strip(value, branches[0], defs)
    return value

"""What a credential may touch, and how a request's scope is chosen from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from memplane.models import SCOPE_FIELDS, Scope
from memplane_server.errors import ApiError


@dataclass(frozen=True)
class Grant:
    """A verified credential: its id (audit identity), admin flag and scopes."""

    key_id: str
    admin: bool
    scopes: tuple[Scope, ...]

    def allows(self, scope: Scope) -> bool:
        """Admin, or ``scope`` equals or narrows one of the grant's scopes (every id the
        grant scope sets is set to the same value in ``scope``). Narrowing only ever
        selects a subset of the grant's memories, so it is safe."""
        if self.admin:
            return True
        return not scope.is_empty and any(g.matches(scope) for g in self.scopes)


def select_scope(grant: Grant, user_id: str | None, agent_id: str | None,
                 run_id: str | None) -> Scope:
    """The scope a request acts on. The credential decides: a request may name a scope
    inside its grant (403 otherwise) or, when the grant has exactly one, name none."""
    try:
        scope = Scope(user_id=user_id, agent_id=agent_id, run_id=run_id)
    except PydanticValidationError:
        raise ApiError("validation_error", "user_id, agent_id and run_id must be non-empty strings",
                       detail={"type": "ValidationError"}) from None
    if scope.is_empty:
        if not grant.admin and len(grant.scopes) == 1:
            return grant.scopes[0]
        raise ApiError("scope_required",
                       "this request needs a scope: pass user_id, agent_id or run_id",
                       detail={"type": "ScopeRequired"})
    if not grant.allows(scope):
        raise ApiError("scope_forbidden", "this credential may not touch that scope",
                       detail={"scope": dict(scope.items())})
    return scope


def check_filters(grant: Grant, filters: Mapping[str, Any] | None) -> None:
    """Scope ids are chosen by user_id/agent_id/run_id, never by a filter. Filter
    fields address metadata, so a filter naming ``user_id`` cannot widen anything;
    it is still refused for non-admin credentials because it is almost certainly an
    attempt to reach another scope (spell ``metadata.user_id`` for a metadata key).

    Every caller's filter is also bounded in depth and size: a deeply nested one
    overflowed SQLite's parser (a 5xx from a client's input)."""
    if not filters:
        return
    _bounded(filters)
    if grant.admin:
        return
    for field in _fields(filters):
        if field in SCOPE_FIELDS:
            raise ApiError("scope_forbidden",
                           f"filters may not name the scope field {field!r}; the scope comes "
                           "from the credential (use metadata.{field} for a metadata key)")


MAX_FILTER_DEPTH = 16
MAX_FILTER_NODES = 256


def _bounded(filters: Mapping[str, Any]) -> None:
    nodes = 0
    stack: list[tuple[Any, int]] = [(filters, 1)]
    while stack:  # iterative: a hostile depth must not exhaust Python's stack either
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_FILTER_DEPTH or nodes > MAX_FILTER_NODES:
            raise ApiError("validation_error",
                           f"filters may nest at most {MAX_FILTER_DEPTH} levels and hold at "
                           f"most {MAX_FILTER_NODES} nodes", detail={"type": "ValidationError"})
        if isinstance(node, Mapping):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _fields(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in ("AND", "OR"):
                for child in value if isinstance(value, list) else []:
                    out += _fields(child)
            elif key == "NOT":
                out += _fields(value)
            else:
                out.append(str(key))
    return out

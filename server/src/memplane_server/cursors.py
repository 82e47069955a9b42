"""Listing cursors, signed and bound to the scope that produced them.

A cursor is ``<payload>.<hmac>``; the payload carries the store's own cursor and the
scope. A cursor from another scope is refused with 403 even when validly signed, and
a forged or damaged one with 422: the store never sees a cursor the server did not mint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from memplane.models import Scope
from memplane_server.errors import ApiError


def _mac(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]


def sign(secret: str, scope: Scope, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    raw = json.dumps({"s": dict(scope.items()), "c": cursor}, separators=(",", ":"))
    payload = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    return f"{payload}.{_mac(secret, payload)}"


def open_cursor(secret: str, scope: Scope, token: str | None) -> str | None:
    if token is None or token == "":
        return None
    payload, _, mac = token.partition(".")
    if not mac or not hmac.compare_digest(mac, _mac(secret, payload)):
        raise ApiError("validation_error",
                       "invalid cursor: pass back the next_cursor of the previous page",
                       detail={"type": "ValidationError"})
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if data.get("s") != dict(scope.items()):
        raise ApiError("scope_forbidden", "this cursor belongs to another scope")
    return str(data["c"])

"""What both clients share: building requests and reading responses and errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python

from memplane import errors as core
from memplane.client.errors import PayloadTooLarge, ScopeForbidden, ServerAuthError, ServerError
from memplane.filters import And, Cmp, Filter, Not, Or

URL_ENV = "MEMPLANE_SERVER_URL"
KEY_ENV = "MEMPLANE_API_KEY"


@dataclass
class Req:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None


def scope_params(user_id: str | None, agent_id: str | None, run_id: str | None) -> dict[str, Any]:
    return {k: v for k, v in (("user_id", user_id), ("agent_id", agent_id), ("run_id", run_id))
            if v is not None}


def query(**values: Any) -> dict[str, str]:
    out = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def filter_spec(filters: Filter | Mapping[str, Any] | None) -> Any:
    """A filter tree back to the dict spelling the server parses."""
    if filters is None or isinstance(filters, Mapping):
        return None if filters is None else dict(filters)
    if isinstance(filters, Cmp):
        return {filters.field: {filters.op: filters.value}}
    if isinstance(filters, And):
        return {"AND": [filter_spec(f) for f in filters.all]}
    if isinstance(filters, Or):
        return {"OR": [filter_spec(f) for f in filters.any]}
    if isinstance(filters, Not):
        return {"NOT": filter_spec(filters.not_)}
    raise core.ValidationError(f"filters must be a mapping, got {type(filters).__name__}")


def jsonable(value: Any) -> Any:
    try:
        return to_jsonable_python(value)
    except Exception:
        raise core.ValidationError(f"cannot send {type(value).__name__} to the server as JSON") from None


def when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _core_class(name: str) -> type[core.MemplaneError] | None:
    cls = getattr(core, name, None) if name else None
    return cls if isinstance(cls, type) and issubclass(cls, core.MemplaneError) else None


def error_from(status: int, body: bytes, url: str) -> core.MemplaneError:
    """The typed error a server's error response stands for."""
    try:
        err = json.loads(body)["error"]
        code, message, detail = str(err["code"]), str(err["message"]), dict(err.get("detail") or {})
    except (ValueError, KeyError, TypeError):
        code, message, detail = "", body[:200].decode("utf-8", "replace"), {}
    if code == "unauthenticated":
        return ServerAuthError(message, code=code, status=status, detail=detail)
    if code in ("scope_forbidden", "admin_required"):
        return ScopeForbidden(message, code=code, status=status, detail=detail)
    if code == "payload_too_large":
        return PayloadTooLarge(message, code=code, status=status, detail=detail)
    if code == "rate_limited":
        return core.RateLimitError(message, provider="memplane-server",
                                   retry_after=detail.get("retry_after"))
    cls = _core_class(str(detail.get("type", "")))
    if cls is None:
        cls = {"memory_not_found": core.MemoryNotFound, "scope_required": core.ScopeRequired,
               "validation_error": core.ValidationError, "unsupported": core.UnsupportedCapability,
               "provider_unavailable": core.ProviderUnavailable,
               "provider_error": core.ProviderError}.get(code)
    if cls is None:
        return ServerError(f"server {url} answered {status}: {message}", code=code,
                           status=status, detail=detail)
    exc = cls.__new__(cls)  # the server already wrote the message: bypass custom __init__s
    Exception.__init__(exc, message)
    if isinstance(exc, core.ProviderError):
        exc.provider = str(detail.get("provider", "memplane-server"))
        exc.retryable = bool(detail.get("retryable", False))
        if isinstance(exc, core.RateLimitError):
            exc.retry_after = detail.get("retry_after")
    return exc


def transport_error(exc: Exception, url: str) -> core.MemplaneError:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return core.ProviderTimeout(f"memplane server {url} did not answer in time",
                                    provider="memplane-server")
    return core.ProviderUnavailable(f"cannot reach the memplane server at {url}: {exc}; "
                                    f"is `memplane serve` running?")

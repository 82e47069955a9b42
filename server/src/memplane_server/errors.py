"""Stable error codes: every error response is ``{"error": {code, message, detail}}``.

Core's typed errors map to a status and code here; ``detail.type`` names the core
error class so :class:`memplane.client.MemoryClient` raises the very same type.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from memplane import errors as core

CODES: dict[str, int] = {
    "unauthenticated": 401,
    "scope_forbidden": 403,
    "admin_required": 403,
    "scope_required": 400,
    "validation_error": 422,
    "memory_not_found": 404,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "rate_limited": 429,
    "payload_too_large": 413,
    "unsupported": 400,
    "provider_error": 502,
    "provider_unavailable": 503,
    "internal_error": 500,
}


class ErrorBody(BaseModel):
    code: str
    message: str
    detail: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    """What every non-2xx response carries."""

    error: ErrorBody


class ApiError(Exception):
    """An error the server raises on purpose, with a stable code."""

    def __init__(self, code: str, message: str, *, detail: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = CODES[code]
        self.message = message
        self.detail = detail or {}
        self.headers = headers


def error_response(code: str, message: str, detail: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, detail=detail or {}))
    return JSONResponse(body.model_dump(mode="json"), status_code=CODES[code], headers=headers)


def core_error_code(exc: core.MemplaneError) -> str:
    # order matters: the most specific class first
    if isinstance(exc, core.ScopeRequired):
        return "scope_required"
    if isinstance(exc, core.MemoryNotFound):
        return "memory_not_found"
    if any(c.__name__.endswith("Conflict") for c in type(exc).__mro__):
        return "conflict"  # store contract v2's compare-and-set conflict, whatever its name
    if isinstance(exc, core.ValidationError):
        return "validation_error"
    if isinstance(exc, core.UnsupportedCapability | core.ConfigurationError):
        return "unsupported"
    if isinstance(exc, core.ProviderUnavailable):
        return "provider_unavailable"
    if isinstance(exc, core.ProviderError):
        return "provider_error"
    return "unsupported"


def core_error_detail(exc: core.MemplaneError) -> dict[str, Any]:
    detail: dict[str, Any] = {"type": type(exc).__name__}
    if isinstance(exc, core.ProviderError):
        detail.update(provider=exc.provider, retryable=exc.retryable)
        if isinstance(exc, core.RateLimitError):
            detail["retry_after"] = exc.retry_after
    return detail


def install_handlers(app: FastAPI) -> None:
    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.code, exc.message, exc.detail, exc.headers)

    async def on_core_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, core.MemplaneError)
        return error_response(core_error_code(exc), str(exc), core_error_detail(exc))

    async def on_request_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
        message = f"{'.'.join(first['loc'])}: {first['msg']}"
        return error_response("validation_error", message,
                              {"type": "ValidationError", "problems": problems})

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
                401: "unauthenticated", 429: "rate_limited"}.get(exc.status_code)
        if code is None:
            code = "validation_error" if exc.status_code < 500 else "internal_error"
        return error_response(code, str(exc.detail), headers=getattr(exc, "headers", None))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(core.MemplaneError, on_core_error)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


#: documented error responses for every /v1 route (OpenAPI, and schemathesis checks).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": desc}
    for status, desc in [
        (400, "scope_required / unsupported"),
        (401, "unauthenticated"),
        (403, "scope_forbidden / admin_required"),
        (404, "memory_not_found"),
        (409, "conflict"),
        (413, "payload_too_large"),
        (422, "validation_error"),
        (429, "rate_limited"),
        (502, "provider_error"),
        (503, "provider_unavailable"),
    ]
}

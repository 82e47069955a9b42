"""Errors that only a server can raise (credentials, tenancy, limits).

Everything else a server reports is raised as the core error it was on the server
(``MemoryNotFound``, ``ScopeRequired``, ``UnsupportedFilter``...).
"""

from __future__ import annotations

from typing import Any

from memplane.errors import MemplaneError, ValidationError


class ServerError(MemplaneError):
    """The server refused the request; ``code`` is its stable error code."""

    def __init__(self, message: str, *, code: str = "", status: int = 0,
                 detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.detail = detail or {}


class ServerAuthError(ServerError):
    """401: no key, or one that is unknown, revoked or malformed (check MEMPLANE_API_KEY)."""


class ScopeForbidden(ServerError):
    """403: the key may not touch that scope (or needs admin)."""


class PayloadTooLarge(ServerError, ValidationError):
    """413: the request body is over the server's limit."""

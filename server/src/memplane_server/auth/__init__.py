"""Authentication: ``Authorization: Bearer <api key or JWT>`` -> :class:`Grant`.

``resolve_grant(header)`` is the credential check every transport shares (REST, MCP);
``require_grant`` is the FastAPI dependency (it also applies the per-key rate limit).
"""

from __future__ import annotations

import asyncio
import math

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from memplane_server.auth.grant import Grant, check_filters, select_scope
from memplane_server.errors import ApiError
from memplane_server.keys import PREFIX, KeyStore
from memplane_server.ratelimit import RateLimiter

__all__ = ["AuthError", "Grant", "GrantResolver", "check_filters", "require_grant",
           "resolve_grant", "select_scope"]


class AuthError(ApiError):
    """401 ``unauthenticated``: no credential, or one that does not verify."""

    def __init__(self, message: str = "a valid API key or token is required") -> None:
        super().__init__("unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


class GrantResolver:
    """Turns an Authorization header into a Grant (async; key lookups run in a thread)."""

    def __init__(self, keys: KeyStore, jwt_verifier: object | None = None) -> None:
        self.keys = keys
        self.jwt = jwt_verifier

    async def __call__(self, authorization_header: str | None) -> Grant:
        scheme, _, token = (authorization_header or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("send `Authorization: Bearer <key>`")
        if token.startswith(PREFIX):
            info = await asyncio.to_thread(self.keys.verify, token)
            if info is None:
                raise AuthError("unknown, revoked or malformed API key")
            return Grant(key_id=info.key_id, admin=info.admin, scopes=info.scopes)
        if self.jwt is not None:
            from memplane_server.auth.jwt import JWTVerifier

            assert isinstance(self.jwt, JWTVerifier)
            grant = await asyncio.to_thread(self.jwt.verify, token)
            if grant is not None:
                return grant
        raise AuthError("the token is not a valid API key or JWT")


_current: GrantResolver | None = None


def install(resolver: GrantResolver) -> None:
    """Make ``resolve_grant`` use this resolver (create_app calls it)."""
    global _current
    _current = resolver


async def resolve_grant(authorization_header: str | None) -> Grant:
    """Verify a credential with the resolver of the most recently created app."""
    if _current is None:
        raise AuthError("the server has no credential resolver (create_app was not called)")
    return await _current(authorization_header)


#: declares the bearer scheme in the OpenAPI schema; the header is checked below
_bearer = HTTPBearer(auto_error=False, description="an API key (mp_...) or a JWT")


async def require_grant(
    request: Request,
    _declared: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> Grant:
    """FastAPI dependency: the request's grant, after the per-credential rate limit."""
    resolver: GrantResolver = request.app.state.grant_resolver
    grant = await resolver(request.headers.get("authorization"))
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.take(grant.key_id)
    if wait > 0:
        raise ApiError("rate_limited", "too many requests for this credential; slow down",
                       detail={"retry_after": wait},
                       headers={"Retry-After": str(max(1, math.ceil(wait)))})
    request.state.grant = grant
    return grant

"""Bearer JWT verification (PyJWT): signature against a JWKS (file or URL), issuer,
audience, expiry; configured claims become the grant's scope."""

from __future__ import annotations

import json
from typing import Any

import jwt
from jwt import PyJWKClient, PyJWKSet

from memplane.models import Scope
from memplane_server.auth.grant import Grant
from memplane_server.settings import JWTSettings


class JWTVerifier:
    def __init__(self, settings: JWTSettings) -> None:
        self.settings = settings
        self._keyset: PyJWKSet | None = None
        self._client: PyJWKClient | None = None
        if settings.jwks_file is not None:
            self._keyset = PyJWKSet.from_dict(json.loads(settings.jwks_file.read_text("utf-8")))
        else:
            assert settings.jwks_url is not None
            self._client = PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300)

    def _key(self, token: str) -> Any:
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        assert self._keyset is not None
        kid = jwt.get_unverified_header(token).get("kid")
        keys = [k for k in self._keyset.keys if kid is None or k.key_id == kid]
        if not keys:
            raise jwt.InvalidTokenError("no JWKS key matches the token's kid")
        return keys[0].key

    def verify(self, token: str) -> Grant | None:
        """The grant a valid token carries, or None (any verification failure)."""
        s = self.settings
        try:
            claims = jwt.decode(
                token, self._key(token), algorithms=s.algorithms, audience=s.audience,
                issuer=s.issuer, leeway=s.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError, KeyError):
            return None
        admin = bool(s.admin_claim and claims.get(s.admin_claim) is True)
        user, agent = claims.get(s.user_claim), claims.get(s.agent_claim) if s.agent_claim else None
        ids = {"user_id": user, "agent_id": agent}
        if not all(v is None or (isinstance(v, str) and v) for v in ids.values()):
            return None
        scope = Scope(**{k: v for k, v in ids.items() if v is not None})
        if scope.is_empty and not admin:
            return None  # a token that names no scope grants nothing
        subject = claims.get("sub", user or "?")
        return Grant(key_id=f"jwt:{subject}", admin=admin,
                     scopes=() if scope.is_empty else (scope,))

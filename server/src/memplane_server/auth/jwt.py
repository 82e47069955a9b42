"""Bearer JWT verification (PyJWT): signature against a JWKS (file or URL), issuer,
audience, expiry; configured claims become the grant's scope."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import jwt
from jwt import PyJWKClient, PyJWKSet

from memplane.models import Scope
from memplane_server.auth.grant import Grant
from memplane_server.settings import JWTSettings

#: a JWKS URL is fetched again at most this often, whatever kids tokens carry: an
#: unknown kid must not let anyone make the server hammer the identity provider.
REFRESH_SECONDS = 60.0


class JWTVerifier:
    def __init__(self, settings: JWTSettings) -> None:
        self.settings = settings
        self._keyset: PyJWKSet | None = None
        self._client: PyJWKClient | None = None
        self._fetched = -REFRESH_SECONDS
        self._lock = threading.Lock()
        if settings.jwks_file is not None:
            self._keyset = PyJWKSet.from_dict(json.loads(settings.jwks_file.read_text("utf-8")))
        else:
            assert settings.jwks_url is not None
            self._client = PyJWKClient(settings.jwks_url, cache_jwk_set=False)

    def _match(self, kid: str | None) -> Any | None:
        keys = [k for k in (self._keyset.keys if self._keyset else []) if kid is None or k.key_id == kid]
        return keys[0].key if keys else None

    def _key(self, token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid")
        key = self._match(kid)
        if key is None and self._client is not None:
            with self._lock:  # one fetch at a time, and at most one per REFRESH_SECONDS
                if time.monotonic() - self._fetched >= REFRESH_SECONDS:
                    self._fetched = time.monotonic()
                    self._keyset = self._client.get_jwk_set(refresh=True)
            key = self._match(kid)
        if key is None:
            raise jwt.InvalidTokenError("no JWKS key matches the token's kid")
        return key

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

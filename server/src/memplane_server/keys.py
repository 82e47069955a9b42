"""API keys: ``mp_<key_id>_<secret>``; only sha256(secret) is stored.

A key is bound to scopes (each a user/agent/run combination) or is admin. Rotating
keeps the key id (so the audit trail stays one identity) and replaces the secret;
revoking is permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from memplane.models import Scope
from memplane_server.db import ServerDB

PREFIX = "mp_"


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    name: str | None
    admin: bool
    scopes: tuple[Scope, ...]
    created_at: str
    rotated_at: str | None
    revoked_at: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_key(token: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None."""
    if not token.startswith(PREFIX):
        return None
    key_id, sep, secret = token[len(PREFIX):].partition("_")
    if not sep or not key_id or not secret or not key_id.isalnum():
        return None
    return key_id, secret


class KeyStore:
    def __init__(self, db: ServerDB) -> None:
        self.db = db

    def create(self, *, scopes: list[Scope], admin: bool = False, name: str | None = None) -> tuple[str, KeyInfo]:
        """A new key: returns the full key (shown once) and its record."""
        if not admin and not scopes:
            raise ValueError("a key needs at least one scope (--user/--agent/--run) or --admin")
        if any(s.is_empty for s in scopes):
            raise ValueError("a key scope needs at least one of user, agent, run")
        key_id, secret = secrets.token_hex(8), secrets.token_hex(24)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO keys (key_id, name, secret_sha256, admin, scopes, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key_id, name, _digest(secret), int(admin),
                 json.dumps([s.model_dump(exclude_none=True) for s in scopes]), _now()),
            )
        return f"{PREFIX}{key_id}_{secret}", self.get(key_id)

    def get(self, key_id: str) -> KeyInfo:
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT key_id, name, admin, scopes, created_at, rotated_at, revoked_at"
                " FROM keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is None:
            raise KeyError(key_id)
        return _info(row)

    def list(self) -> list[KeyInfo]:
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT key_id, name, admin, scopes, created_at, rotated_at, revoked_at"
                " FROM keys ORDER BY created_at, key_id").fetchall()
        return [_info(r) for r in rows]

    def rotate(self, key_id: str) -> str:
        secret = secrets.token_hex(24)
        with self.db.transaction() as conn:
            changed = conn.execute(
                "UPDATE keys SET secret_sha256 = ?, rotated_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (_digest(secret), _now(), key_id)).rowcount
        if not changed:
            raise KeyError(key_id)
        return f"{PREFIX}{key_id}_{secret}"

    def revoke(self, key_id: str) -> None:
        with self.db.transaction() as conn:
            changed = conn.execute(
                "UPDATE keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (_now(), key_id)).rowcount
        if not changed:
            raise KeyError(key_id)

    def verify(self, token: str) -> KeyInfo | None:
        """The live key this token is, or None (unknown, wrong secret, revoked)."""
        parsed = parse_key(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT key_id, name, admin, scopes, created_at, rotated_at, revoked_at, secret_sha256"
                " FROM keys WHERE key_id = ?", (key_id,)).fetchone()
        # compare digests in constant time; an unknown id costs the same hash
        expected = row[7] if row is not None else _digest("")
        if not hmac.compare_digest(expected, _digest(secret)) or row is None:
            return None
        info = _info(row[:7])
        return None if info.revoked_at is not None else info


def _info(row: tuple[object, ...]) -> KeyInfo:
    scopes = tuple(Scope.model_validate(s) for s in json.loads(str(row[3])))
    return KeyInfo(key_id=str(row[0]), name=row[1] if row[1] is None else str(row[1]),
                   admin=bool(row[2]), scopes=scopes, created_at=str(row[4]),
                   rotated_at=None if row[5] is None else str(row[5]),
                   revoked_at=None if row[6] is None else str(row[6]))


def create_key(keys_db: Path, *, user_id: str | None = None, agent_id: str | None = None,
               admin: bool = False, name: str | None = None) -> str:
    """One new key in the key database at ``keys_db`` (what `memplane keys create` does),
    for scripts and tests that provision keys without the CLI. Returns the full key."""
    scope = Scope(user_id=user_id, agent_id=agent_id)
    token, _ = KeyStore(ServerDB(keys_db)).create(
        scopes=[] if scope.is_empty else [scope], admin=admin, name=name)
    return token

"""Server settings: one pydantic model, read from a YAML/TOML file or built in code.

A settings file holds these fields; ``memory`` (or ``memory_config``) is the
MemoryConfig mapping, or a path to a memory config file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: how `memplane serve` hands its settings to uvicorn worker processes.
SETTINGS_ENV = "MEMPLANE_SERVER_SETTINGS_JSON"


class JWTSettings(BaseModel):
    """Bearer JWT verification. One of ``jwks_file`` / ``jwks_url`` is required."""

    model_config = ConfigDict(extra="forbid")

    issuer: str
    audience: str
    jwks_file: Path | None = None
    jwks_url: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    #: the claim whose value becomes the grant's user_id (e.g. "sub" or "email").
    user_claim: str = "sub"
    #: optional claim whose value becomes the grant's agent_id.
    agent_claim: str | None = None
    #: optional claim; a token whose value for it is exactly ``true`` is admin.
    admin_claim: str | None = None
    leeway_seconds: int = 30

    @model_validator(mode="after")
    def _one_source(self) -> JWTSettings:
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError("jwt needs exactly one of jwks_file or jwks_url")
        return self


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    memory_config: dict[str, Any] = Field(default_factory=dict, alias="memory")
    keys_db: Path = Path("memplane-data/server.db")
    jwt: JWTSettings | None = None
    #: per credential, token bucket: this many requests per minute, bursts up to it. 0 = off.
    rate_limit_per_minute: int = Field(600, ge=0)
    #: largest request body (bytes) outside import.
    max_body_bytes: int = Field(1_048_576, ge=1024)
    #: largest import body (bytes): export files are big by nature.
    max_import_bytes: int = Field(64 * 1_048_576, ge=1024)
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    #: idle keep-alive of client connections. Longer than a client's pool expiry (httpx:
    #: 5 s), so the server is not the side closing a connection a client is reusing.
    keep_alive_seconds: int = Field(30, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _memory_file(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("memory", "memory_config"):
                if isinstance(data.get(key), str):
                    from memplane.config import read_config_file

                    data = {**data, key: read_config_file(data[key])}
        return data

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ServerSettings:
        from memplane.config import read_config_file

        return cls.model_validate(read_config_file(path))

    def to_env(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True))

    @classmethod
    def from_env(cls) -> ServerSettings:
        raw = os.environ.get(SETTINGS_ENV)
        return cls.model_validate_json(raw) if raw else cls()

"""The ``weaviate`` vector store's configuration block."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from memplane.providers.base import ProviderConfig

_CLASS = re.compile(r"^[A-Z][_0-9A-Za-z]{0,200}$")


class WeaviateConfig(ProviderConfig):
    """How to reach Weaviate and how memories are laid out there.

    ``mode``: ``local`` (``http_host``/``http_port`` plus ``grpc_port`` on the same
    host), ``custom`` (separate HTTP and gRPC hosts, ports and TLS), or ``cloud``
    (Weaviate Cloud: ``cluster_url`` and ``api_key``).
    """

    mode: Literal["local", "custom", "cloud"] = "local"
    http_host: str = "localhost"
    http_port: int = Field(default=8080, ge=1, le=65535)
    http_secure: bool = False
    grpc_host: str | None = None
    grpc_port: int = Field(default=50051, ge=1, le=65535)
    grpc_secure: bool = False
    cluster_url: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    timeout: float = Field(default=30.0, gt=0)
    collection: str = "MemplaneMemories"
    #: "tenant": native multi-tenancy, one tenant per value of ``tenant_field``
    #: (created on first write); "filter": one shared collection, scope by filters.
    scoping: Literal["tenant", "filter"] = "tenant"
    tenant_field: Literal["user_id", "agent_id", "run_id"] = "user_id"
    #: BM25 keyword search on the memory text (declares ``keyword_search``).
    keyword_search: bool = True

    @field_validator("collection")
    @classmethod
    def _valid_collection(cls, value: str) -> str:
        if not _CLASS.match(value):
            raise ValueError(
                "Weaviate collection names start with an upper-case letter and hold only "
                "letters, digits and underscores (e.g. MemplaneMemories)"
            )
        return value

    @model_validator(mode="after")
    def _cloud_needs_url(self) -> WeaviateConfig:
        if self.mode == "cloud" and not (self.cluster_url and self.api_key):
            raise ValueError(
                "mode 'cloud' needs cluster_url and api_key (Weaviate Cloud clusters "
                "require a key; MEMPLANE_VECTOR_STORE__API_KEY sets it from the environment)"
            )
        return self

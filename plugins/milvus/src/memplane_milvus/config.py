"""The ``milvus`` vector store's configuration block."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from memplane.providers.base import ProviderConfig

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")


class MilvusConfig(ProviderConfig):
    """Where the collection lives and how it is laid out.

    ``uri`` is either a local file path ending in ``.db`` (Milvus Lite, in-process) or a
    server address (``http://host:19530``, a Zilliz Cloud endpoint) used with ``token``.
    """

    uri: str = "memplane_milvus.db"
    token: str | None = Field(default=None, repr=False)
    db_name: str | None = None
    collection: str = "memplane_memories"
    #: the scope id used as Milvus partition key (hash-bucketed physical partitions),
    #: or "none" to rely on the indexed scalar scope fields only.
    partition_key: Literal["user_id", "agent_id", "run_id", "none"] = "user_id"
    num_partitions: int = Field(default=16, ge=1, le=1024)
    #: full-text search through a BM25 function on the text field (Milvus >= 2.5).
    keyword_search: bool = True
    #: pass filter values as expression template parameters instead of escaped
    #: literals. None: on for servers, off for Milvus Lite (which has no templates).
    filter_templates: bool | None = None
    index_type: Literal["FLAT", "HNSW", "IVF_FLAT", "AUTOINDEX"] = "AUTOINDEX"
    timeout: float | None = Field(default=30.0, gt=0)
    max_text_length: int = Field(default=65535, ge=1, le=65535)
    #: Milvus Lite only (it scans buffered rows one by one on every search): flush its
    #: write buffer into an indexed segment before a search, count or listing once
    #: this many rows are buffered, and after a write once `lite_max_buffered_rows`
    #: are. 0 switches a threshold off (Lite itself flushes at 128 MB).
    lite_flush_rows: int = Field(default=64, ge=0)
    lite_max_buffered_rows: int = Field(default=4096, ge=0)

    @field_validator("collection")
    @classmethod
    def _valid_collection(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "collection names start with a letter or underscore and hold only "
                "letters, digits and underscores"
            )
        return value

    @property
    def is_lite(self) -> bool:
        """A local file means Milvus Lite (in-process, one writer process)."""
        return "://" not in self.uri

    @property
    def use_templates(self) -> bool:
        return (not self.is_lite) if self.filter_templates is None else self.filter_templates

"""The ``pgvector`` vector store's configuration block."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from memplane.providers.base import ProviderConfig

# schema names are spliced into SQL text (identifiers cannot be bound parameters), so
# only plain lower-case identifiers are accepted; values always travel as parameters
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PgVectorConfig(ProviderConfig):
    """Where the database is, how to reach it, and how search is laid out.

    Connect with ``dsn`` (``postgresql://user@host:5432/db?sslmode=verify-full``) or
    with the parts; parts given beside a DSN override it. Every table lives in
    ``db_schema`` (a PostgreSQL schema), so several stores can share one database.
    """

    dsn: str | None = Field(default=None, repr=False, description="libpq connection string or URI")
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    dbname: str | None = None
    user: str | None = None
    password: SecretStr | None = Field(default=None, repr=False)
    # TLS: passed to libpq as-is (disable, allow, prefer, require, verify-ca, verify-full)
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = None
    sslrootcert: str | None = Field(default=None, description="CA bundle; 'system' for the OS store")
    sslcert: str | None = None
    sslkey: str | None = None
    connect_timeout: int = Field(default=10, ge=1)
    application_name: str = "memplane"
    # pool sizing per process (each memplane-server worker holds its own pool)
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    pool_timeout: float = Field(default=30.0, gt=0, description="seconds to wait for a free connection")
    #: psycopg prepares a statement after this many runs on a connection; null turns it
    #: off (needed behind PgBouncer older than 1.21 in transaction mode)
    prepare_threshold: int | None = Field(default=5, ge=0)

    db_schema: str = Field(default="memplane", description="PostgreSQL schema holding the tables")
    #: open() creates the tables in an empty schema; an older schema is never altered
    #: at run time: run ``python -m memplane_pgvector migrate`` (or store.migrate()).
    create_schema: bool = True
    #: set the scope as transaction-local settings (memplane.user_id/agent_id/run_id) in
    #: every transaction, for the row-level-security policy the schema carries; migrate()
    #: then enables (and forces) row-level security on the tables.
    row_level_security: bool = False

    # search ----------------------------------------------------------------------------
    #: scopes with at most this many rows are searched exactly (a scan of the scope);
    #: larger ones through the HNSW index. Measured in docs/benchmarks.md.
    exact_search_max_rows: int = Field(default=3000, ge=0)
    #: keep an HNSW index at all; off: every search is exact and ingest is ~15x faster
    #: (the index is maintained on every insert, for every scope)
    hnsw_index: bool = True
    #: maintenance_work_mem while open()/migrate() builds the index over existing rows
    #: (a graph that does not fit builds much more slowly)
    index_build_memory: str = Field(default="512MB", pattern=r"^[0-9]+(kB|MB|GB)$")
    #: an apply() creating at least this many memories, and at least as many as the
    #: table holds, drops the HNSW index and builds it again after the inserts, in the
    #: same transaction (much faster than inserting through the graph; other sessions
    #: wait for the table meanwhile); 0 never does
    bulk_index_rebuild_rows: int = Field(default=10000, ge=0)
    hnsw_m: int = Field(default=16, ge=2, le=100)
    hnsw_ef_construction: int = Field(default=64, ge=4, le=1000)
    hnsw_ef_search: int = Field(default=100, ge=1, le=1000)
    #: pgvector >= 0.8 keeps scanning the index until `limit` rows pass the scope and
    #: filters; relaxed_order is faster and the store re-sorts the few rows it returns.
    iterative_scan: Literal["relaxed_order", "strict_order", "off"] = "relaxed_order"
    hnsw_max_scan_tuples: int = Field(default=20000, ge=1)
    #: keyword search leaves out query words found in more than this share of the
    #: scope's rows (and in more than 20 rows), as the sqlite store does; 1 keeps all
    common_term_share: float = Field(default=0.1, gt=0.0, le=1.0)

    @field_validator("db_schema")
    @classmethod
    def _valid_schema(cls, value: str) -> str:
        if not _IDENTIFIER.match(value) or value.startswith("pg_"):
            raise ValueError(
                "db_schema must be a lower-case identifier (letters, digits, underscores; "
                "not starting with a digit or pg_), at most 63 characters"
            )
        return value

    def conninfo(self) -> str:
        """The libpq connection string: the DSN with the parts laid over it."""
        from psycopg.conninfo import make_conninfo

        parts: dict[str, Any] = {
            "host": self.host, "port": self.port, "dbname": self.dbname, "user": self.user,
            "password": self.password.get_secret_value() if self.password else None,
            "sslmode": self.sslmode, "sslrootcert": self.sslrootcert,
            "sslcert": self.sslcert, "sslkey": self.sslkey,
            "connect_timeout": self.connect_timeout, "application_name": self.application_name,
        }
        return make_conninfo(self.dsn or "", **{k: v for k, v in parts.items() if v is not None})

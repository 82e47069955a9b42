"""Configuration without a server: connection strings, TLS options, lazy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from memplane.errors import ConfigurationError
from memplane_pgvector.store import PgVectorStore


def test_parts_and_tls_options_reach_libpq() -> None:
    from psycopg.conninfo import conninfo_to_dict

    store = PgVectorStore({"dsn": "postgresql://app@db.example:5432/mem?sslmode=prefer",
                           "sslmode": "verify-full", "sslrootcert": "/etc/ca.pem",
                           "password": "s3cret", "port": 6432})
    parts = conninfo_to_dict(store.cfg.conninfo())
    assert parts["host"] == "db.example" and parts["dbname"] == "mem" and parts["user"] == "app"
    assert parts["sslmode"] == "verify-full"  # a part given beside the DSN wins
    assert parts["sslrootcert"] == "/etc/ca.pem"
    assert parts["port"] == "6432" and parts["password"] == "s3cret"
    assert "s3cret" not in repr(store.cfg)


@pytest.mark.parametrize("schema", ["Memplane", "mem-plane", "x; DROP SCHEMA public", "pg_catalog", "1abc"])
def test_schema_names_are_plain_identifiers(schema: str) -> None:
    with pytest.raises(ConfigurationError):
        PgVectorStore({"db_schema": schema})


def test_loading_the_provider_does_not_import_psycopg() -> None:
    code = ("import sys, memplane_pgvector.store; "
            "assert not any(m.startswith(('psycopg', 'pgvector')) for m in sys.modules), "
            "sorted(m for m in sys.modules if m.startswith('psycopg'))")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

"""``python -m memplane_pgvector migrate``: create or migrate the tables explicitly.

Run it as the role that owns the schema (a deploy step), before the application
starts; the application role then only needs DML rights. A running store never
alters tables.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m memplane_pgvector")
    sub = parser.add_subparsers(dest="command", required=True)
    migrate = sub.add_parser("migrate", help="create the tables or bring them to this version")
    migrate.add_argument("--dsn", required=True, help="libpq connection string or URI (owner role)")
    migrate.add_argument("--schema", default="memplane", help="PostgreSQL schema (default memplane)")
    migrate.add_argument("--dimension", type=int, default=None,
                         help="the embedder's vector size: record it and build the HNSW index")
    migrate.add_argument("--row-level-security", action="store_true",
                         help="enable and force the scope row-level-security policies")
    sub.add_parser("version", help="print the schema version this package writes")
    args = parser.parse_args(argv)

    from memplane_pgvector.schema import SCHEMA_VERSION

    if args.command == "version":
        print(SCHEMA_VERSION)
        return 0
    from memplane.errors import MemplaneError
    from memplane_pgvector.store import PgVectorStore

    store = PgVectorStore({"dsn": args.dsn, "db_schema": args.schema,
                           "row_level_security": args.row_level_security, "pool_min_size": 0})
    try:
        store.migrate(args.dimension)
    except MemplaneError as exc:
        print(f"migrate failed: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"schema {args.schema!r} is at version {SCHEMA_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

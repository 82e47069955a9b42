"""Large creates: build the HNSW graph once instead of inserting through it.

Inserting a row into a live HNSW graph costs about as much as 15 rows of a build
(docs/benchmarks.md, "pgvector store"), so an apply() that creates at least
``bulk_index_rebuild_rows`` memories, and at least as many as the table holds (a
migration, a first import), drops the index, inserts, and builds the index again,
all in the apply's one transaction: if anything fails the inserts and the DROP roll
back together and the old index is still there. The price is the lock: other
sessions' reads and writes of the table wait until the transaction commits. Index
DDL needs the table's owner; any other role inserts through the index as usual.
"""

from __future__ import annotations

from memplane_pgvector import schema as ddl
from memplane_pgvector.config import PgVectorConfig
from memplane_pgvector.plans import Plan, Step


def with_index_rebuild(s: str, cfg: PgVectorConfig, dimension: int | None, creates: int,
                       inner: Plan[None]) -> Plan[None]:
    """``inner`` (the writes), wrapped in DROP INDEX / CREATE INDEX when it pays."""
    threshold = cfg.bulk_index_rebuild_rows
    if not cfg.hnsw_index or dimension is None or threshold == 0 or creates < threshold:
        yield from inner
        return
    index = f"{s}.{ddl.hnsw_index_name(dimension)}"
    # reltuples: the planner's row estimate, the same for every session (row-level
    # security would hide rows from a count); -1 (never analysed) counts as empty
    [(has_index, owner, table_rows)] = yield Step(
        "SELECT to_regclass(%s) IS NOT NULL, pg_has_role(c.relowner, 'USAGE'), "
        "greatest(c.reltuples, 0)::bigint FROM pg_class c WHERE c.oid = %s::regclass",
        [index, f"{s}.memories"])
    if not has_index or not owner or creates < int(table_rows):
        yield from inner
        return
    # the estimate is stale until the table is analysed (a table filled by small
    # batches reads as empty): count for real, but never more rows than the batch
    # creates, so the check costs no more than the writes it guards
    [(seen,)] = yield Step(
        f"SELECT count(*) FROM (SELECT 1 FROM {s}.memories LIMIT %s) AS t", [creates])
    if int(seen) >= creates:
        yield from inner
        return
    yield Step(f"DROP INDEX {index}")
    yield from inner
    yield Step("SELECT set_config('maintenance_work_mem', %s, true)", [cfg.index_build_memory])
    yield Step(ddl.hnsw_index_sql(dimension, cfg.hnsw_m, cfg.hnsw_ef_construction).replace("{s}", s))

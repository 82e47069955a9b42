"""Large creates rebuild the HNSW index inside the apply's transaction
(memplane_pgvector.bulk): same result as inserting through it, and a failure part
way leaves the old index and no rows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import psycopg
import pytest

from memplane.errors import IdOwnedByAnotherScope
from memplane.models import Change, HistoryEntry, HistoryEvent, MemoryRecord, Scope
from memplane_pgvector.store import PgVectorStore

ALICE = Scope(user_id="alice")
BOB = Scope(user_id="bob")
Make = Callable[..., PgVectorStore]


def creates(n: int, scope: Scope = ALICE, prefix: str = "m") -> list[Change]:
    out = []
    for i in range(n):
        angle = i / n
        r = MemoryRecord(text=f"{prefix} {i}", scope=scope)
        out.append(Change(record=r, vector=[1.0, angle, 1.0 - angle, 0.5],
                          history=HistoryEntry(memory_id=r.id, event=HistoryEvent.ADD,
                                               new_text=r.text)))
    return out


def index_oid(dsn: str, store: PgVectorStore) -> int | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT to_regclass(%s)::oid",
                           [f"{store.config.db_schema}.memories_hnsw_4"]).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def test_a_large_create_rebuilds_the_index_and_search_uses_it(make_store: Make, pg_dsn: str) -> None:
    store = make_store(bulk_index_rebuild_rows=50, exact_search_max_rows=0)
    store.open(4)
    before = index_oid(pg_dsn, store)
    assert before is not None
    batch = creates(60)
    store.apply(batch)
    after = index_oid(pg_dsn, store)
    assert after is not None and after != before  # dropped and built again
    assert store.count(ALICE) == 60
    hits = store.search([1.0, 0.0, 1.0, 0.5], ALICE, limit=3)
    assert hits[0].id == batch[0].record.id
    assert store.history(batch[5].record.id, ALICE)[0].new_text == "m 5"


def test_small_creates_or_a_large_table_insert_through_the_index(make_store: Make, pg_dsn: str) -> None:
    store = make_store(bulk_index_rebuild_rows=50)
    store.open(4)
    store.apply(creates(60, prefix="first"))  # rebuilt; the build sets the row estimate
    built = index_oid(pg_dsn, store)
    store.apply(creates(49, BOB))  # below the threshold
    assert index_oid(pg_dsn, store) == built
    store.apply(creates(55, BOB, prefix="more"))  # above it, but fewer than the table's 60
    assert index_oid(pg_dsn, store) == built
    assert store.count(BOB) == 104


def test_off_and_without_index_nothing_is_rebuilt(make_store: Make, pg_dsn: str) -> None:
    off = make_store(bulk_index_rebuild_rows=0)
    off.open(4)
    built = index_oid(pg_dsn, off)
    off.apply(creates(30))
    assert index_oid(pg_dsn, off) == built
    bare = make_store(hnsw_index=False, bulk_index_rebuild_rows=1)
    bare.open(4)
    bare.apply(creates(30))
    assert index_oid(pg_dsn, bare) is None and bare.count(ALICE) == 30


def test_a_failing_bulk_create_keeps_the_old_index_and_writes_nothing(
        make_store: Make, pg_dsn: str) -> None:
    store = make_store(bulk_index_rebuild_rows=20)
    store.open(4)
    owned = creates(1, BOB, prefix="bob's")[0]
    store.apply([owned])
    before = index_oid(pg_dsn, store)
    batch = creates(40)
    # the last create takes an id another scope owns: refused after 39 inserts
    batch[-1] = Change(record=owned.record.model_copy(update={"scope": ALICE}),
                       vector=[1.0, 0.0, 0.0, 0.0])
    with pytest.raises(IdOwnedByAnotherScope):
        store.apply(batch)
    assert index_oid(pg_dsn, store) == before
    assert store.count(ALICE, include_deleted=True) == 0
    assert store.get([owned.record.id], BOB)[0].text == "bob's 0"


def test_async_apply_rebuilds_too(make_store: Make, pg_dsn: str) -> None:
    store = make_store(bulk_index_rebuild_rows=10)

    async def run() -> int:
        await store.aopen(4)
        await store.aapply(creates(12))
        count = await store.acount(ALICE)
        await store.aclose()
        return count

    store.open(4)
    before = index_oid(pg_dsn, store)
    assert asyncio.run(run()) == 12
    assert index_oid(pg_dsn, store) not in (None, before)


def test_a_role_that_does_not_own_the_table_inserts_through_the_index(
        make_store: Make, pg_dsn: str) -> None:
    owner = make_store()
    owner.open(4)
    schema = owner.config.db_schema
    role = f"{schema}_app"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'app'")
        conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}")
    try:
        built = index_oid(pg_dsn, owner)
        dsn = psycopg.conninfo.make_conninfo(pg_dsn, user=role, password="app")
        app = make_store(dsn=dsn, db_schema=schema, bulk_index_rebuild_rows=5)
        app.open(4)
        app.apply(creates(8))
        assert app.count(ALICE) == 8
        assert index_oid(pg_dsn, owner) == built
        app.close()
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")

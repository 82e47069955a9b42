"""Large creates rebuild the HNSW index inside the apply's transaction
(memplane_pgvector.bulk): same result as inserting through it, and a failure part
way leaves the old index and no rows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import psycopg
import pytest

from memplane.cli.import_file import ExportHeader, ExportLine, import_entries
from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import IdOwnedByAnotherScope
from memplane.models import Change, HistoryEntry, HistoryEvent, MemoryRecord, Scope
from memplane_pgvector.store import PgVectorStore

ALICE = Scope(user_id="alice")
BOB = Scope(user_id="bob")
Make = Callable[..., PgVectorStore]


class EightDimensions(HashingEmbedder):
    """The hashing embedder at its smallest size (vectors in the file are reused)."""

    def __init__(self) -> None:
        super().__init__({"dimension": 8})


def creates(n: int, scope: Scope = ALICE, prefix: str = "m", dimension: int = 4) -> list[Change]:
    out = []
    for i in range(n):
        angle = i / n
        r = MemoryRecord(text=f"{prefix} {i}", scope=scope)
        vector = [1.0, angle, 1.0 - angle, 0.5] + [0.0] * (dimension - 4)
        out.append(Change(record=r, vector=vector,
                          history=HistoryEntry(memory_id=r.id, event=HistoryEvent.ADD,
                                               new_text=r.text)))
    return out


def index_oid(dsn: str, store: PgVectorStore, dimension: int = 4) -> int | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT to_regclass(%s)::oid",
                           [f"{store.config.db_schema}.memories_hnsw_{dimension}"]).fetchone()
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


def test_a_table_filled_in_small_batches_is_not_taken_for_empty(make_store: Make,
                                                                pg_dsn: str) -> None:
    # no batch reaches the threshold, so nothing ever analyses the table and the
    # planner's estimate still says 0 rows: the real count must stop the rebuild
    store = make_store(bulk_index_rebuild_rows=50)
    store.open(4)
    for n in range(3):
        store.apply(creates(40, BOB, prefix=f"small{n}"))
    built = index_oid(pg_dsn, store)
    store.apply(creates(60))  # above the threshold, fewer than the table's 120
    assert index_oid(pg_dsn, store) == built
    assert store.count(ALICE) == 60


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


def _export_lines(n: int, scope: Scope) -> list[ExportLine]:
    lines = []
    for change in creates(n, scope, prefix="exported", dimension=8):
        later = HistoryEntry(memory_id=change.record.id, event=HistoryEvent.UPDATE,
                             old_text=change.record.text, new_text=change.record.text)
        assert change.history is not None and change.vector is not None
        lines.append(ExportLine(record=change.record, history=[change.history, later],
                                vector=change.vector))
    return lines


def test_import_into_pgvector_rebuilds_once_and_keeps_history(make_store: Make, pg_dsn: str) -> None:
    store = make_store(bulk_index_rebuild_rows=50)
    embedder = EightDimensions()
    store.open(embedder.dimension)
    before = index_oid(pg_dsn, store, 8)
    header = ExportHeader(format="memplane-export", version=2, scope={"user_id": "alice"},
                          embedder=embedder.identity(), vectors=True)
    lines = _export_lines(80, ALICE)
    report = import_entries(store, embedder, header, lines, force_reembed=False, show_progress=False)
    assert (report.imported, report.reembedded) == (80, 0)
    assert index_oid(pg_dsn, store, 8) not in (None, before)
    some = lines[17].record
    assert store.get([some.id], ALICE)[0].version == 2  # the second history entry applied
    assert [h.event for h in store.history(some.id, ALICE)] == [HistoryEvent.ADD, HistoryEvent.UPDATE]
    # importing again skips every id and rebuilds nothing
    rebuilt = index_oid(pg_dsn, store, 8)
    again = import_entries(store, embedder, header, lines, force_reembed=False, show_progress=False)
    assert (again.imported, again.skipped_existing) == (0, 80)
    assert index_oid(pg_dsn, store, 8) == rebuilt


def test_an_import_taking_another_scopes_id_writes_nothing(make_store: Make, pg_dsn: str) -> None:
    store = make_store(bulk_index_rebuild_rows=50)
    embedder = EightDimensions()
    store.open(embedder.dimension)
    owned = creates(1, BOB, prefix="bob's", dimension=8)[0]
    store.apply([owned])
    before = index_oid(pg_dsn, store, 8)
    header = ExportHeader(format="memplane-export", version=2, scope={"user_id": "alice"},
                          embedder=embedder.identity(), vectors=True)
    lines = _export_lines(79, ALICE)
    lines.append(ExportLine(record=owned.record.model_copy(update={"scope": ALICE}),
                            vector=owned.vector))
    with pytest.raises(IdOwnedByAnotherScope):
        import_entries(store, embedder, header, lines, force_reembed=False, show_progress=False)
    assert store.count(ALICE, include_deleted=True) == 0
    assert index_oid(pg_dsn, store, 8) == before


def test_rebuild_under_row_level_security_keeps_tenants_apart(make_store: Make, pg_dsn: str) -> None:
    store = make_store(row_level_security=True, bulk_index_rebuild_rows=10, exact_search_max_rows=0)
    store.open(4)
    before = index_oid(pg_dsn, store)
    store.apply(creates(12))
    assert index_oid(pg_dsn, store) not in (None, before)
    assert store.count(ALICE) == 12 and store.count(BOB) == 0
    assert store.search([1.0, 0.0, 1.0, 0.5], BOB, limit=3) == []

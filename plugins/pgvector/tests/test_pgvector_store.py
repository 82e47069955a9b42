"""pgvector-specific behaviour on a real server: contract v2 version checks done in
SQL, the schema-version table and explicit migrations, HNSW with iterative scans,
keyword search, hostile filter values, dropped connections."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest

from memplane.errors import (
    ConfigurationError,
    Conflict,
    DuplicateMemory,
    IdOwnedByAnotherScope,
    ProviderError,
    ValidationError,
)
from memplane.filters import parse_filter
from memplane.models import Change, HistoryEntry, HistoryEvent, MemoryRecord, Scope
from memplane.providers.base import VectorStore
from memplane_pgvector.filter_sql import FilterTranslator
from memplane_pgvector.schema import SCHEMA_VERSION
from memplane_pgvector.store import PgVectorStore

ALICE = Scope(user_id="alice")
BOB = Scope(user_id="bob")
Make = Callable[..., PgVectorStore]


def rec(text: str, scope: Scope = ALICE, **fields: object) -> MemoryRecord:
    return MemoryRecord(text=text, scope=scope, **fields)  # type: ignore[arg-type]


def create(r: MemoryRecord, vector: list[float] | None = None) -> Change:
    return Change(record=r, vector=vector or [1.0, 0.0, 0.0, 0.0],
                  history=HistoryEntry(memory_id=r.id, event=HistoryEvent.ADD, new_text=r.text))


def cas(old: MemoryRecord, text: str, expected: int | None = None) -> Change:
    version = old.version if expected is None else expected
    new = MemoryRecord.model_validate(
        old.model_copy(update={"text": text, "hash": "", "version": version + 1}).model_dump())
    return Change(record=new, expected_version=version,
                  history=HistoryEntry(memory_id=old.id, event=HistoryEvent.UPDATE,
                                       old_text=old.text, new_text=text))


# --- contract v2: versions compared and set in SQL ------------------------------------------
def test_compare_and_set_bumps_version_and_refuses_a_stale_writer(store: PgVectorStore) -> None:
    first = rec("prefers Python")
    store._apply([create(first)])
    store._apply([cas(first, "prefers TypeScript")])
    [now] = store._get([first.id], ALICE)
    assert (now.text, now.version) == ("prefers TypeScript", 2)
    with pytest.raises(Conflict) as caught:
        store._apply([cas(first, "prefers Rust")])  # read version 1, stored is 2
    assert (caught.value.memory_id, caught.value.expected, caught.value.actual) == (first.id, 1, 2)
    [after] = store._get([first.id], ALICE)
    assert (after.text, after.version) == ("prefers TypeScript", 2)
    assert [h.event for h in store._history(first.id, ALICE)] == [HistoryEvent.ADD, HistoryEvent.UPDATE]


def test_conflicting_batch_writes_nothing(store: PgVectorStore) -> None:
    old = rec("old")
    store._apply([create(old)])
    newcomer = rec("newcomer")
    with pytest.raises(Conflict):
        store._apply([create(newcomer), cas(old, "changed", expected=7)])
    assert store._get([newcomer.id], ALICE) == []
    assert store._history(newcomer.id, ALICE) == []
    assert store._get([old.id], ALICE)[0].text == "old"


def test_create_of_an_existing_id_is_a_conflict(store: PgVectorStore) -> None:
    r = rec("exists")
    store._apply([create(r)])
    again = r.model_copy(update={"text": "exists too", "hash": ""})
    with pytest.raises(Conflict) as caught:
        store._apply([create(MemoryRecord.model_validate(again.model_dump()))])
    assert caught.value.actual == 1
    assert not isinstance(caught.value, DuplicateMemory)


def test_id_of_another_scope_is_refused_and_never_moved(store: PgVectorStore) -> None:
    theirs = rec("bob's", BOB)
    store._apply([create(theirs)])
    mine = MemoryRecord(id=theirs.id, text="alice's", scope=ALICE)
    with pytest.raises(IdOwnedByAnotherScope) as caught:
        store._apply([create(mine)])
    assert "bob" not in str(caught.value)
    with pytest.raises(IdOwnedByAnotherScope):
        store._apply([cas(mine, "alice's again", expected=1)])
    assert store._get([theirs.id], BOB)[0].text == "bob's"
    assert store._get([theirs.id], ALICE) == []


def test_live_duplicate_text_in_a_scope_is_refused(store: PgVectorStore) -> None:
    a = rec("Likes tea.")
    store._apply([create(a)])
    with pytest.raises(DuplicateMemory) as caught:
        store._apply([create(rec("likes tea"))])  # same normalised hash
    assert caught.value.existing_id == a.id
    store._apply([create(rec("likes tea", BOB))])  # another scope may say the same
    with pytest.raises(DuplicateMemory):  # two in one batch
        store._apply([create(rec("x y")), create(rec("X Y"))])
    # a soft-deleted memory does not block the same text
    gone = a.model_copy(update={"deleted_at": a.updated_at, "version": 2})
    store._apply([Change(record=gone, expected_version=1)])
    store._apply([create(rec("likes tea"))])
    assert store._count(ALICE) == 1


def test_version_must_follow_expected(store: PgVectorStore) -> None:
    r = rec("v")
    store._apply([create(r)])
    wrong = r.model_copy(update={"version": 5})
    with pytest.raises(ValidationError):
        store._apply([Change(record=wrong, expected_version=1)])


def test_async_hooks_are_native_and_check_versions(store: PgVectorStore) -> None:
    r = rec("async one")

    async def scenario() -> None:
        await store._aapply([create(r)])
        await store._aapply([cas(r, "async two")])
        with pytest.raises(Conflict):
            await store._aapply([cas(r, "async stale")])
        [got] = await store._aget([r.id], ALICE)
        assert (got.text, got.version) == ("async two", 2)
        hits = await store._asearch([1.0, 0.0, 0.0, 0.0], ALICE, 3)
        assert [h.id for h in hits] == [r.id]
        assert store._apool is not None  # served by the async pool, not a thread

    asyncio.run(scenario())


# --- filters: values only ever travel as parameters --------------------------------------------
HOSTILE = ["'; DROP TABLE memories; --", "' OR '1'='1", "%s", "%(x)s", "$1", "\\", '"', "{}",
           "a'b", "-- x", "/* y */", "E'\\x27'"]


def _specs(value: str) -> list[dict[str, object]]:
    return [
        {value: value}, {value: {"ne": value}}, {value: {"in": [value, 1]}},
        {value: {"gt": value}}, {value: {"contains": value}}, {value: {"exists": True}},
        {"attributed_to": value}, {"attributed_to": {"lt": value}},
        {"OR": [{value: 1}, {"NOT": {value: {"lte": 2.5}}}]},
    ]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_filter_values_and_keys_never_change_the_sql_text(value: str) -> None:
    """The SQL text for a hostile key/value is the same as for a plain word: the value
    travels only as a parameter."""
    for spec, plain in zip(_specs(value), _specs("plain"), strict=True):
        sql, params = FilterTranslator().translate(parse_filter(spec))
        assert sql == FilterTranslator().translate(parse_filter(plain))[0], spec
        assert sql.count("%s") == len(params), spec
        flat = [x for p in params for x in (p if isinstance(p, list) else [p])]
        assert value in flat or json.dumps(value, ensure_ascii=False) in flat, spec


def test_hostile_values_select_exactly_and_break_nothing(store: PgVectorStore) -> None:
    records = [rec(f"r{i}", metadata={v: v, "k": v}) for i, v in enumerate(HOSTILE)]
    store._apply([create(r, [1.0, float(i), 0.0, 0.0]) for i, r in enumerate(records)])
    for r, v in zip(records, HOSTILE, strict=True):
        assert [x.id for x in store._list_records(ALICE, parse_filter({"k": v})).records] == [r.id]
        assert store._count(ALICE, parse_filter({v: {"exists": True}})) == 1
        assert store._count(ALICE, parse_filter({"k": {"ne": v}})) == len(HOSTILE) - 1
    assert store._count(ALICE) == len(HOSTILE)  # the table is still there


def test_nul_characters_are_a_validation_error(store: PgVectorStore) -> None:
    with pytest.raises(ValidationError):
        store._apply([create(rec("a\x00b"))])
    with pytest.raises(ValidationError):
        store._apply([create(rec("ok", metadata={"k": "a\x00"}))])
    assert store._count(ALICE, parse_filter({"k\x00": {"exists": False}})) == 0


# --- search -------------------------------------------------------------------------------------------
def _index_scans(dsn: str, schema: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes "
            "WHERE schemaname = %s AND indexrelname LIKE 'memories_hnsw_%%'", [schema]).fetchone()
        return int(row[0]) if row else 0


def _analyze(store: PgVectorStore) -> None:
    # the planner picks HNSW once it has statistics (autovacuum gathers them in production)
    with psycopg.connect(store.cfg.conninfo(), autocommit=True) as conn:
        conn.execute(f"ANALYZE {store.cfg.db_schema}.memories")


def _fill(store: PgVectorStore, n: int, scope: Scope = ALICE) -> list[MemoryRecord]:
    import numpy as np

    rng = np.random.default_rng(7)
    records = [rec(f"fact {i}", scope, metadata={"bucket": i % 20}) for i in range(n)]
    vectors = rng.normal(size=(n, 4)).tolist()
    store._apply([create(r, v) for r, v in zip(records, vectors, strict=True)])
    return records


def test_large_scopes_use_hnsw_small_ones_are_exact(make_store: Make, pg_dsn: str) -> None:
    store = make_store(exact_search_max_rows=100)
    store.open(4)
    _fill(store, 2000)
    _fill(store, 20, BOB)
    _analyze(store)
    schema = store.cfg.db_schema
    time.sleep(0.6)  # statistics are flushed about every half second
    before = _index_scans(pg_dsn, schema)
    assert len(store._search([1.0, 0.5, 0.0, 0.0], BOB, 5)) == 5
    time.sleep(0.6)
    assert _index_scans(pg_dsn, schema) == before  # 20 rows: exact
    assert len(store._search([1.0, 0.5, 0.0, 0.0], ALICE, 5)) == 5
    # a pooled backend flushes its statistics at most once a second, else only when
    # idle for 10 s: on a loaded machine 0.6 s is not always enough, so wait for them
    deadline = time.monotonic() + 15
    while _index_scans(pg_dsn, schema) <= before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _index_scans(pg_dsn, schema) > before  # 2000 rows: HNSW


def test_iterative_scan_fills_the_limit_under_a_selective_filter(
    make_store: Make, caplog: pytest.LogCaptureFixture
) -> None:
    # a filter only 1 row in 20 passes: one HNSW pass with ef_search=10 finds ~0-1 of
    # them; iterative scanning keeps going until `limit` rows pass. Without it the store
    # notices the short page and falls back to an exact search.
    caplog.set_level(logging.DEBUG, logger="memplane_pgvector")
    strict = make_store(exact_search_max_rows=0, hnsw_ef_search=10, iterative_scan="off")
    strict.open(4)
    _fill(strict, 2000)
    _analyze(strict)
    flt = parse_filter({"bucket": 3})
    query = [1.0, 0.0, 0.0, 0.0]
    assert len(strict._search(query, ALICE, 10, flt)) == 10
    assert "hnsw, then exact" in caplog.text
    caplog.clear()
    relaxed = PgVectorStore(strict.cfg.model_copy(update={"iterative_scan": "relaxed_order"}))
    exact = PgVectorStore(strict.cfg.model_copy(update={"exact_search_max_rows": 10**6}))
    try:
        hits = relaxed._search(query, ALICE, 10, flt)
        assert "search" in caplog.text and "then exact" not in caplog.text
        truth = exact._search(query, ALICE, 10, flt)
    finally:
        relaxed.close()
        exact.close()
    assert len(hits) == 10
    assert all(h.record.metadata["bucket"] == 3 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({h.id for h in hits} & {h.id for h in truth}) >= 8  # recall@10 on this tiny set


def test_a_small_scope_in_a_large_table_is_searched_exactly(
    make_store: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """HNSW walks one graph for every tenant: a scope that is a small share of the table
    would run out of max_scan_tuples before filling the page, so it is searched exactly."""
    caplog.set_level(logging.DEBUG, logger="memplane_pgvector")
    store = make_store(exact_search_max_rows=10, hnsw_max_scan_tuples=100)
    store.open(4)
    _fill(store, 2000)
    _fill(store, 50, BOB)
    _analyze(store)
    assert len(store._search([1.0, 0.0, 0.0, 0.0], BOB, 10)) == 10
    assert "exact over" in caplog.text and "hnsw" not in caplog.text


def test_keyword_search_handles_cjk_and_accents(store: PgVectorStore) -> None:
    zh = rec("我喜欢喝绿茶")
    fr = rec("Elle adore le café crème")
    other = rec("nothing relevant here")
    store._apply([create(zh), create(fr), create(other)])
    assert [h.id for h in store._keyword_search("绿茶", ALICE)] == [zh.id]
    hits = store._keyword_search("CAFE", ALICE)
    assert [h.id for h in hits] == [fr.id]
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert store._keyword_search("绿茶", BOB) == []
    assert store._keyword_search("'; DROP TABLE x; -- & | ! :*", ALICE) == []


# --- schema versions and explicit migrations ---------------------------------------------------------
def test_open_never_creates_or_alters_when_told_not_to(make_store: Make) -> None:
    store = make_store(create_schema=False)
    with pytest.raises(ConfigurationError, match="migrate"):
        store.open(4)
    store.migrate()
    store.open(4)
    assert store._count(ALICE) == 0


def test_a_newer_schema_is_refused(make_store: Make, pg_dsn: str) -> None:
    store = make_store()
    store.open(4)
    schema = store.cfg.db_schema
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"INSERT INTO {schema}.schema_version (version) VALUES (%s)", [SCHEMA_VERSION + 1])
    newer = PgVectorStore(store.cfg)
    with pytest.raises(ConfigurationError, match="newer"):
        newer.open(4)


def test_an_older_schema_is_never_altered_at_run_time_only_by_migrate(
    make_store: Make, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memplane_pgvector import schema as ddl

    store = make_store()
    store.open(4)
    store._apply([create(rec("kept across the migration"))])
    store.close()
    # this package's next schema version: one more migration
    monkeypatch.setattr(ddl, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(ddl.MIGRATIONS, SCHEMA_VERSION + 1,
                        ["ALTER TABLE {s}.memories ADD COLUMN added_later text"])
    upgraded = PgVectorStore(store.cfg)
    with pytest.raises(ConfigurationError, match="never altered at run time"):
        upgraded.open(4)
    columns = "SELECT count(*) FROM information_schema.columns WHERE table_schema = %s AND column_name = 'added_later'"
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute(columns, [store.cfg.db_schema]).fetchone() == (0,)
    upgraded.migrate()
    upgraded.open(4)
    assert upgraded._count(ALICE) == 1
    upgraded.close()
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute(columns, [store.cfg.db_schema]).fetchone() == (1,)


def test_migrate_command_line(pg_dsn: str) -> None:
    from memplane_pgvector.testing import drop_schema, fresh_schema

    schema = fresh_schema()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "memplane_pgvector", "migrate", "--dsn", pg_dsn, "--schema", schema],
            capture_output=True, text=True, timeout=120, check=True)
        assert f"version {SCHEMA_VERSION}" in out.stdout
        with psycopg.connect(pg_dsn) as conn:
            row = conn.execute(f"SELECT max(version) FROM {schema}.schema_version").fetchone()
        assert row == (SCHEMA_VERSION,)
    finally:
        drop_schema(pg_dsn, schema)


# --- failures --------------------------------------------------------------------------------------------
def test_backend_killed_between_statements_leaves_nothing(store: PgVectorStore, pg_dsn: str) -> None:
    """The memory row is written, then the history insert blocks on a lock the test
    holds; the test kills that backend with pg_terminate_backend. Nothing may remain."""
    s = store.cfg.db_schema
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(
            f"CREATE FUNCTION {s}.wait_for_test() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NEW; END $$")
        admin.execute(f"CREATE TRIGGER wait_for_test BEFORE INSERT ON {s}.history "
                      f"FOR EACH ROW EXECUTE FUNCTION {s}.wait_for_test()")
        blocker = psycopg.connect(pg_dsn)
        blocker.execute("SELECT pg_advisory_xact_lock(4242)")  # held until rollback
        victim = rec("half written")
        errors: list[BaseException] = []

        def write() -> None:
            try:
                store._apply([create(victim)])
            except BaseException as exc:
                errors.append(exc)

        writer = threading.Thread(target=write)
        writer.start()
        pid = None
        for _ in range(1200):  # up to a minute on a loaded machine
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE %s", [f"%INSERT INTO {s}.history%"]).fetchone()
            if row:
                pid = row[0]
                break
            time.sleep(0.05)
        assert pid is not None, "the writer never reached the history insert"
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        writer.join(30)
        blocker.rollback()
        blocker.close()
        admin.execute(f"DROP TRIGGER wait_for_test ON {s}.history")
    assert len(errors) == 1 and isinstance(errors[0], ProviderError), errors
    assert errors[0].retryable
    assert store._count(ALICE, include_deleted=True) == 0
    assert store._history(victim.id, ALICE) == []
    store._apply([create(victim)])  # the pool replaced the dead connection
    assert store._count(ALICE) == 1


def _increment(dsn: str, schema: str, memory_id: str, times: int, worker: int) -> int:
    """Run in another process: CAS-increment one memory, re-reading on Conflict."""
    store = PgVectorStore({"dsn": dsn, "db_schema": schema, "pool_min_size": 0})
    retries = 0
    try:
        store.open(4)
        for j in range(times):
            while True:
                [current] = store._get([memory_id], ALICE)
                try:
                    store._apply([cas(current, f"{current.text}|{worker}.{j}"),
                                  create(rec(f"worker {worker} item {j}"))])
                    break
                except Conflict:
                    retries += 1
    finally:
        store.close()
    return retries


def test_processes_writing_one_memory_lose_no_update(store: PgVectorStore) -> None:
    import concurrent.futures
    import multiprocessing

    shared = rec("counter")
    store._apply([create(shared)])
    workers, times = 3, 15
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = [pool.submit(_increment, store.cfg.conninfo(), store.cfg.db_schema, shared.id,
                               times, w) for w in range(workers)]
        retries = sum(f.result(timeout=300) for f in futures)
    [final] = store._get([shared.id], ALICE)
    assert final.version == 1 + workers * times
    assert len(final.text.split("|")) == 1 + workers * times  # every increment is there
    assert len(store._history(shared.id, ALICE)) == 1 + workers * times
    assert store._count(ALICE) == 1 + workers * times
    print(f"conflicts retried: {retries}")


def test_expired_rows_hidden_in_search(store: PgVectorStore) -> None:
    from memplane.models import utcnow

    dead = rec("dead", expires_at=utcnow() - timedelta(seconds=1))
    store._apply([create(dead)])
    assert store._search([1.0, 0.0, 0.0, 0.0], ALICE, 5) == []
    assert len(store._search([1.0, 0.0, 0.0, 0.0], ALICE, 5, None, False, True)) == 1


def test_async_api_uses_no_worker_threads(store: PgVectorStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """async_native: the public a* methods are the contract-v2 base class's (argument
    checks, then the store's native ``_a*`` hooks), which run on psycopg's async pool,
    never asyncio.to_thread."""
    public = ["aopen", "aapply", "aget", "alist_records", "acount", "asearch", "akeyword_search",
              "aget_vectors", "adelete", "ahistory", "areset"]
    for name in public:
        assert getattr(PgVectorStore, name) is getattr(VectorStore, name), name
        assert getattr(PgVectorStore, "_" + name) is not getattr(VectorStore, "_" + name), name

    def no_threads(*args: object, **kwargs: object) -> None:
        raise AssertionError("asyncio.to_thread used by an async_native store")

    monkeypatch.setattr(asyncio, "to_thread", no_threads)
    r = rec("natively async")

    async def scenario() -> None:
        await store.aopen(4)
        await store.aapply([create(r)])
        assert [x.id for x in await store.aget([r.id], ALICE)] == [r.id]
        assert await store.acount(ALICE) == 1
        assert [h.id for h in await store.asearch([1.0, 0.0, 0.0, 0.0], ALICE, limit=3)] == [r.id]
        assert [h.id for h in await store.akeyword_search("natively", ALICE)] == [r.id]
        assert len((await store.alist_records(ALICE)).records) == 1
        assert len(await store.ahistory(r.id, ALICE)) == 1
        assert list(await store.aget_vectors([r.id], ALICE)) == [r.id]
        assert await store.adelete([r.id], ALICE) == 1
        await store.areset()

    asyncio.run(scenario())

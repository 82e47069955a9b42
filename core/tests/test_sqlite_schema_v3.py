"""Schema version 3 of the sqlite store and its faster row handling: a version 2
file (per-row keyword-index trigger, full agent/run scope indexes) opens, migrates
and keeps answering as before; rows read back equal validated records."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from memplane.models import Change, MemoryRecord, Scope, text_hash
from memplane.stores.sqlite import SQLiteStore
from memplane.stores.sqlite.schema import SCHEMA_VERSION

DIM = 8
ALICE = Scope(user_id="alice")
AGENT = Scope(agent_id="helper")
RUN = Scope(run_id="r1")

# the version 2 parts that versions 3 and 4 changed, as version 2 created them
_V2 = """
DROP INDEX records_by_user;
CREATE INDEX records_by_user ON records (user_id, agent_id, run_id);
DROP INDEX records_by_agent;
DROP INDEX records_by_run;
CREATE INDEX records_by_agent ON records (agent_id, run_id);
CREATE INDEX records_by_run ON records (run_id);
CREATE TRIGGER records_fts_insert AFTER INSERT ON records BEGIN
    INSERT INTO records_fts (rowid, fts_text, scope_terms)
    VALUES (new.seq, new.fts_text, new.scope_terms);
END;
DELETE FROM schema_version WHERE version > 2;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
"""


def _vector(seed: int) -> list[float]:
    v = np.random.default_rng(seed).standard_normal(DIM)
    return (v / np.linalg.norm(v)).tolist()


def _add(store: SQLiteStore, text: str, scope: Scope, seed: int) -> MemoryRecord:
    record = MemoryRecord(text=text, scope=scope)
    store.apply([Change(record=record, vector=_vector(seed))])
    return record


def _v2_file(path: Path) -> dict[str, MemoryRecord]:
    """A file in the version 2 layout holding one record per kind of scope, written
    through the version 2 trigger."""
    store = SQLiteStore(path=str(path))
    store.open(DIM)
    store.close()
    conn = sqlite3.connect(path)
    conn.executescript(_V2)
    conn.close()
    # write like a version 2 build: raw rows, keyword index filled by the trigger
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
    conn.close()
    records = {}
    for name, scope, text, seed in (("user", ALICE, "green tea in the morning", 1),
                                    ("agent", AGENT, "the agent prefers tea", 2),
                                    ("run", RUN, "run notes about coffee", 3)):
        records[name] = _v2_insert(path, MemoryRecord(text=text, scope=scope), _vector(seed))
    return records


def _v2_insert(path: Path, record: MemoryRecord, vector: list[float]) -> MemoryRecord:
    from memplane.stores.sqlite import fts
    from memplane.stores.sqlite.codec import record_values

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    gen = conn.execute("UPDATE state SET generation = generation + 1 RETURNING generation").fetchone()[0]
    conn.execute(
        "INSERT INTO records (id, user_id, agent_id, run_id, text, fts_text, scope_terms, metadata, "
        "hash, created_at, updated_at, observed_at, deleted_at, expires_at, source, attributed_to, "
        "gen, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        record_values(record, fts.index_text(record.text), fts.scope_terms(record.scope), gen),
    )
    conn.execute("INSERT INTO vectors (seq, vector) SELECT seq, ? FROM records WHERE id = ?",
                 (np.asarray(vector, dtype=np.float32).tobytes(), record.id))
    conn.execute("COMMIT")
    conn.close()
    return record


def _plan(conn: sqlite3.Connection, where: str, params: list[str]) -> str:
    rows = conn.execute(f"EXPLAIN QUERY PLAN SELECT r.seq FROM records r WHERE {where}", params)
    return " ".join(str(row[-1]) for row in rows)


def test_a_version_2_file_migrates_and_answers_as_before(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    old = _v2_file(path)
    store = SQLiteStore(path=str(path))
    store.open(DIM)
    # every old record is still found by keyword and by vector, in its scope only
    for name, scope, query in (("user", ALICE, "tea"), ("agent", AGENT, "tea"),
                               ("run", RUN, "coffee")):
        assert [h.id for h in store.keyword_search(query, scope)] == [old[name].id]
        assert old[name].id in {h.id for h in store.search(_vector(9), scope, limit=5)}
    new = _add(store, "green tea after lunch", ALICE, 4)  # no trigger: the store indexes it
    assert {h.id for h in store.keyword_search("green tea", ALICE)} == {old["user"].id, new.id}
    store.close()

    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(SCHEMA_VERSION),)
    assert [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")][-1] == SCHEMA_VERSION
    assert conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'records_fts_insert'").fetchone() == (0,)
    indexes = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                "AND name IN ('records_by_agent', 'records_by_run')").fetchall())
    assert "WHERE agent_id IS NOT NULL" in indexes["records_by_agent"]
    assert "WHERE run_id IS NOT NULL" in indexes["records_by_run"]
    # the partial indexes still serve the scope queries that name the id
    assert "records_by_agent" in _plan(conn, "r.agent_id = ?", ["helper"])
    assert "records_by_run" in _plan(conn, "r.run_id = ?", ["r1"])
    both = _plan(conn, "r.user_id = ? AND r.agent_id = ?", ["alice", "helper"])
    assert "USING INDEX records_by_" in both and "SCAN" not in both
    # a page of a user scope's listing reads that page through the index: no sort of
    # the whole scope per page (which made exporting 100k memories quadratic)
    listing = " ".join(str(row[-1]) for row in conn.execute(
        "EXPLAIN QUERY PLAN SELECT r.seq FROM records r WHERE r.seq > ? AND r.user_id = ? "
        "AND r.deleted_at IS NULL ORDER BY r.seq LIMIT ?", [0, "alice", 10]))
    assert "records_by_user" in listing and "TEMP B-TREE" not in listing
    conn.execute("INSERT INTO records_fts (records_fts) VALUES ('integrity-check')")  # raises if not
    conn.close()


def test_keyword_index_follows_creates_updates_and_deletes_in_one_batch(tmp_path: Path) -> None:
    store = SQLiteStore(path=str(tmp_path / "k.db"))
    store.open(DIM)
    first = _add(store, "black coffee", ALICE, 1)
    changed = first.model_copy(update={"text": "oolong tea", "hash": text_hash("oolong tea"), "version": 2})
    fresh = MemoryRecord(text="jasmine tea", scope=ALICE)
    store.apply([Change(record=changed, vector=_vector(5), expected_version=1),
                 Change(record=fresh, vector=_vector(6))])
    assert {h.id for h in store.keyword_search("tea", ALICE)} == {first.id, fresh.id}
    assert store.keyword_search("coffee", ALICE) == []
    store.delete([fresh.id], ALICE)
    assert [h.id for h in store.keyword_search("tea", ALICE)] == [first.id]
    store.close()
    conn = sqlite3.connect(tmp_path / "k.db")
    conn.execute("INSERT INTO records_fts (records_fts) VALUES ('integrity-check')")
    conn.close()


def test_rows_read_back_equal_validated_records(tmp_path: Path) -> None:
    """Records are rebuilt from rows without pydantic validation: they must equal,
    field for field and in behaviour, what validation builds."""
    from datetime import UTC, datetime, timedelta

    from memplane.models import Provenance

    store = SQLiteStore(path=str(tmp_path / "r.db"))
    store.open(DIM)
    now = datetime.now(UTC)
    plain = MemoryRecord(text="plain", scope=ALICE)
    full = MemoryRecord(
        text="full", scope=Scope(user_id="u", agent_id="a", run_id="r"),
        metadata={"k": [1, 2.5, None, {"x": "é"}]}, created_at=now - timedelta(days=2),
        updated_at=now - timedelta(days=1), observed_at=now - timedelta(days=3),
        expires_at=now + timedelta(days=9),
        source=[Provenance(role="user", content="c", name="n", extra_field=3)],
        attributed_to="user",
    )
    store.apply([Change(record=plain, vector=_vector(1)), Change(record=full, vector=_vector(2))])
    for original in (plain, full):
        (got,) = store.get([original.id], original.scope)
        assert got == original
        assert got.model_dump() == original.model_dump()
        assert got.model_fields_set == MemoryRecord.model_validate(original.model_dump()).model_fields_set
        assert MemoryRecord.model_validate(got.model_dump()) == original
        got.text = "changed"  # assignment behaves as on a validated model
        assert got.text == "changed" and original.text != "changed"
    store.close()


def test_batched_vectors_are_stored_as_numpy_float32_and_bad_ones_refused(tmp_path: Path) -> None:
    """Bulk writes pack vectors with struct: the bytes must be numpy's float32, also for
    values that round or underflow, and a value float32 cannot hold is refused."""
    import pytest

    from memplane.errors import ValidationError

    rng = np.random.default_rng(1)
    raw = rng.standard_normal((20, DIM)) * 10.0 ** rng.integers(-44, 38, (20, DIM))
    store = SQLiteStore(path=str(tmp_path / "v.db"))
    store.open(DIM)
    records = [MemoryRecord(text=f"v{i}", scope=ALICE) for i in range(20)]
    store.apply([Change(record=r, vector=v.tolist()) for r, v in zip(records, raw, strict=True)])
    stored = store.get_vectors([r.id for r in records], ALICE)
    for r, v in zip(records, raw, strict=True):
        assert np.asarray(stored[r.id], dtype=np.float32).tobytes() == v.astype(np.float32).tobytes()
    too_big = [Change(record=MemoryRecord(text="big", scope=ALICE), vector=[1e39] * DIM)]
    with pytest.raises(ValidationError, match="NaN or infinity"):
        store.apply(too_big)
    assert store.count(ALICE) == 20
    store.close()

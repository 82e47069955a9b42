"""Schema version 5 of the sqlite store: the integer hash key of the duplicate check
and lazy ADD history. A version 4 file migrates in place and answers as before;
a create's ADD entry kept in its record reads exactly as the history row it
becomes at the record's first change; a process killed inside that first change
leaves either the old state or the new one."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from memplane.errors import DuplicateMemory
from memplane.models import Change, HistoryEntry, HistoryEvent, MemoryRecord, Scope
from memplane.stores.sqlite import SQLiteStore
from memplane.stores.sqlite.codec import hash_key
from memplane.stores.sqlite.schema import SCHEMA_VERSION

DIM = 8
ALICE = Scope(user_id="alice")
BOB = Scope(user_id="bob")

# what version 5 changed, undone: the version 4 layout
_V4 = """
DROP INDEX records_live_hash_key;
ALTER TABLE records DROP COLUMN hash_key;
ALTER TABLE records DROP COLUMN add_id;
ALTER TABLE records DROP COLUMN add_at;
ALTER TABLE records DROP COLUMN add_actor;
ALTER TABLE records DROP COLUMN add_reason;
CREATE INDEX records_live_hash ON records (hash, user_id, agent_id, run_id)
    WHERE deleted_at IS NULL AND hash <> '';
DELETE FROM schema_version WHERE version > 4;
UPDATE meta SET value = '4' WHERE key = 'schema_version';
"""


def _vector(seed: int) -> list[float]:
    v = np.random.default_rng(seed).standard_normal(DIM)
    return [float(x) for x in v / np.linalg.norm(v)]


def _add_entry(record: MemoryRecord, **fields: object) -> HistoryEntry:
    return HistoryEntry(memory_id=record.id, event=HistoryEvent.ADD, new_text=record.text,
                        **fields)  # type: ignore[arg-type]


def _create(store: SQLiteStore, record: MemoryRecord, seed: int = 0,
            history: HistoryEntry | None = None) -> HistoryEntry | None:
    entry = history if history is not None else _add_entry(record, actor="api")
    store.apply([Change(record=record, vector=_vector(seed), history=entry)])
    return entry


def _update(store: SQLiteStore, record: MemoryRecord, text: str, seed: int = 1) -> HistoryEntry:
    entry = HistoryEntry(memory_id=record.id, event=HistoryEvent.UPDATE, old_text=record.text,
                         new_text=text, actor="api")
    new = record.model_copy(update={"text": text, "hash": "", "version": record.version + 1})
    new = MemoryRecord.model_validate(new.model_dump())  # hash of the new text
    store.apply([Change(record=new, vector=_vector(seed), history=entry,
                        expected_version=record.version)])
    return entry


def _v4_file(path: Path) -> dict[str, tuple[MemoryRecord, list[HistoryEntry]]]:
    """A version 4 file written like a version 4 build: every entry a history row,
    the duplicate check's text index."""
    SQLiteStore(path=str(path)).open(DIM)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(_V4)
    from memplane.stores.sqlite import fts
    from memplane.stores.sqlite.codec import dt_to_db, record_values

    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    live = MemoryRecord(text="likes green tea", scope=ALICE, created_at=now, updated_at=now)
    edited0 = MemoryRecord(text="lives in Oslo", scope=ALICE, created_at=now, updated_at=now)
    edited = edited0.model_copy(update={"text": "lives in Bergen", "version": 2})
    edited = MemoryRecord.model_validate(edited.model_dump() | {"hash": ""})
    gone = MemoryRecord(text="owns a cat", scope=ALICE, created_at=now, updated_at=now,
                        deleted_at=now + timedelta(seconds=1))
    later = now + timedelta(minutes=5)
    out = {
        "live": (live, [_add_entry(live, at=now, actor="api")]),
        "edited": (edited, [_add_entry(edited0, at=now, actor="api"),
                            HistoryEntry(memory_id=edited.id, event=HistoryEvent.UPDATE,
                                         old_text=edited0.text, new_text=edited.text, at=later,
                                         actor="api", reason="moved")]),
        "gone": (gone, [_add_entry(gone, at=now, actor="api"),
                        HistoryEntry(memory_id=gone.id, event=HistoryEvent.DELETE,
                                     old_text=gone.text, at=later, actor="api")]),
    }
    conn.execute("BEGIN IMMEDIATE")
    for seed, (record, history) in enumerate(out.values()):
        gen = conn.execute("UPDATE state SET generation = generation + 1 RETURNING generation"
                           ).fetchone()[0]
        conn.execute(
            "INSERT INTO records (id, user_id, agent_id, run_id, text, fts_text, scope_terms, "
            "metadata, hash, created_at, updated_at, observed_at, deleted_at, expires_at, source, "
            "attributed_to, gen, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            record_values(record, fts.index_text(record.text), fts.scope_terms(record.scope), gen))
        conn.execute("INSERT INTO records_fts (rowid, fts_text, scope_terms) SELECT seq, fts_text, "
                     "scope_terms FROM records WHERE id = ?", (record.id,))
        conn.execute("INSERT INTO vectors (seq, vector) SELECT seq, ? FROM records WHERE id = ?",
                     (np.asarray(_vector(seed), dtype=np.float32).tobytes(), record.id))
        conn.executemany(
            "INSERT INTO history (id, memory_id, event, old_text, new_text, at, actor, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(h.id, h.memory_id, h.event.value, h.old_text, h.new_text, dt_to_db(h.at), h.actor,
              h.reason) for h in history])
    conn.execute("COMMIT")
    conn.close()
    return out


def test_a_version_4_file_migrates_and_answers_as_before(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "v4.db"
    old = _v4_file(path)
    store = SQLiteStore(path=str(path))
    with caplog.at_level(logging.WARNING, logger="memplane.stores.sqlite.schema"):
        store.open(DIM)
        store.get([], ALICE)  # the first statement creates or migrates the schema
    # a slow open of a large file says why, and that it happens once
    assert any("from schema version 4 to 5" in r.getMessage() and "runs once" in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]
    for record, history in old.values():
        assert store.history(record.id, ALICE) == history
        assert store.get([record.id], ALICE) == [record]
    # the migrated rows are in the new duplicate index: live ones refuse a duplicate,
    # the soft-deleted one does not, another scope is another scope
    with pytest.raises(DuplicateMemory) as caught:
        _create(store, MemoryRecord(text="likes green tea", scope=ALICE))
    assert caught.value.existing_id == old["live"][0].id
    with pytest.raises(DuplicateMemory):
        _create(store, MemoryRecord(text="lives in Bergen", scope=ALICE))
    _create(store, MemoryRecord(text="lives in Oslo", scope=ALICE))  # the old text is free
    _create(store, MemoryRecord(text="owns a cat", scope=ALICE))
    _create(store, MemoryRecord(text="likes green tea", scope=BOB))
    # an old record's next change appends to its rows (there is nothing pending)
    live, history = old["live"]
    update = _update(store, live, "likes black tea")
    assert store.history(live.id, ALICE) == [*history, update]
    store.close()

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)
        assert SCHEMA_VERSION == 5
        assert [v for (v,) in conn.execute("SELECT version FROM schema_version")][-1] == 5
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'records_live_hash'"
                            ).fetchone() == (0,)
        for rid, hash_, key in conn.execute("SELECT id, hash, hash_key FROM records"):
            assert key == hash_key(hash_), rid
        plan = " ".join(str(row[-1]) for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT r.id FROM records r WHERE r.hash_key IN (?, ?) "
            "AND r.deleted_at IS NULL AND r.hash_key IS NOT NULL ORDER BY r.seq", [1, 2]))
        assert "records_live_hash_key" in plan
    finally:
        conn.close()


def test_a_lazy_add_entry_reads_as_the_row_it_becomes(tmp_path: Path) -> None:
    store = SQLiteStore(path=str(tmp_path / "lazy.db"))
    store.open(DIM)
    created = datetime(2026, 3, 1, 12, 0, 0, 1, tzinfo=UTC)
    same_time = MemoryRecord(text="plays chess", scope=ALICE, created_at=created,
                             updated_at=created)
    other_time = MemoryRecord(text="plays go", scope=ALICE, created_at=created, updated_at=created)
    entries = {
        same_time.id: _create(store, same_time, history=_add_entry(same_time, at=created,
                                                                    actor="api")),
        # another time (in another zone), another actor, a reason: all kept
        other_time.id: _create(store, other_time, history=_add_entry(
            other_time, at=datetime(2026, 3, 1, 14, 30, tzinfo=UTC).astimezone(
                timezone(timedelta(hours=2))),
            actor="importer", reason="from a file")),
    }
    conn = sqlite3.connect(tmp_path / "lazy.db")
    assert conn.execute("SELECT count(*) FROM history").fetchone() == (0,)  # nothing written yet
    assert conn.execute("SELECT count(*) FROM records WHERE add_id IS NOT NULL").fetchone() == (2,)
    before = {rid: store.history(rid, ALICE) for rid in entries}
    assert before == {rid: [entry] for rid, entry in entries.items()}
    assert store.history(same_time.id, BOB) == []  # scoped as rows are
    # the first change writes the row from the pending entry, then its own
    update = _update(store, same_time, "plays chess on Sundays")
    assert store.history(same_time.id, ALICE) == [entries[same_time.id], update]
    assert store.history(other_time.id, ALICE) == before[other_time.id]
    rows = conn.execute("SELECT id, event FROM history ORDER BY seq").fetchall()
    assert rows == [(entries[same_time.id].id, "ADD"), (update.id, "UPDATE")]  # type: ignore[union-attr]
    assert conn.execute("SELECT add_id FROM records WHERE id = ?", (same_time.id,)).fetchone() == (None,)
    # a soft delete through apply, then a hard delete, take the entry with them
    deleted = other_time.model_copy(update={"deleted_at": created, "version": 2})
    gone = HistoryEntry(memory_id=other_time.id, event=HistoryEvent.DELETE,
                        old_text=other_time.text, actor="api")
    store.apply([Change(record=deleted, history=gone, expected_version=1)])
    assert store.history(other_time.id, ALICE) == [entries[other_time.id], gone]
    assert store.delete([other_time.id, same_time.id], ALICE) == 2
    assert conn.execute("SELECT count(*) FROM history").fetchone() == (0,)
    conn.close()
    store.close()


def test_entries_that_are_not_a_plain_add_are_written_as_rows(tmp_path: Path) -> None:
    store = SQLiteStore(path=str(tmp_path / "rows.db"))
    store.open(DIM)
    imported = MemoryRecord(text="text now", scope=ALICE)
    first = HistoryEntry(memory_id=imported.id, event=HistoryEvent.ADD, new_text="text then")
    odd = MemoryRecord(text="restored", scope=ALICE)
    restore = HistoryEntry(memory_id=odd.id, event=HistoryEvent.RESTORE, new_text="restored")
    plain = MemoryRecord(text="plain", scope=ALICE)
    store.apply([Change(record=imported, vector=_vector(1), history=first),
                 Change(record=odd, vector=_vector(2), history=restore),
                 Change(record=plain, vector=_vector(3))])  # no entry at all
    assert store.history(imported.id, ALICE) == [first]
    assert store.history(odd.id, ALICE) == [restore]
    assert store.history(plain.id, ALICE) == []
    conn = sqlite3.connect(tmp_path / "rows.db")
    assert conn.execute("SELECT count(*) FROM history").fetchone() == (2,)
    assert conn.execute("SELECT count(*) FROM records WHERE add_id IS NOT NULL").fetchone() == (0,)
    conn.close()
    # an entry id already used by a row is ignored, as the history insert always did
    again = MemoryRecord(text="reuses an entry id", scope=ALICE)
    store.apply([Change(record=again, vector=_vector(4), history=_add_entry(again, id=first.id))])
    assert store.history(again.id, ALICE) == []
    assert store.history(imported.id, ALICE) == [first]
    # so is a second use of one id within a batch: the first in the batch keeps it
    a, b = (MemoryRecord(text=f"twin {n}", scope=ALICE) for n in (1, 2))
    shared = _add_entry(a, id="shared-entry")
    store.apply([Change(record=a, vector=_vector(5), history=shared),
                 Change(record=b, vector=_vector(6), history=_add_entry(b, id="shared-entry"))])
    assert store.history(a.id, ALICE) == [shared]
    assert store.history(b.id, ALICE) == []
    # and the id of a pending entry written out in the same batch
    c = MemoryRecord(text="pending", scope=ALICE)
    pending = _create(store, c, 7)
    assert pending is not None
    d = MemoryRecord(text="takes the pending id", scope=ALICE)
    update = HistoryEntry(memory_id=c.id, event=HistoryEvent.UPDATE, old_text=c.text,
                          new_text="pending, edited")
    edited = MemoryRecord.model_validate(c.model_dump() | {"text": "pending, edited", "hash": "",
                                                           "version": 2})
    store.apply([Change(record=d, vector=_vector(8), history=_add_entry(d, id=pending.id)),
                 Change(record=edited, history=update, expected_version=1)])
    assert store.history(c.id, ALICE) == [pending, update]
    assert store.history(d.id, ALICE) == []
    store.close()


def test_the_hash_key_finds_duplicates_and_tells_colliding_hashes_apart(tmp_path: Path) -> None:
    store = SQLiteStore(path=str(tmp_path / "keys.db"))
    store.open(DIM)
    prefix = "ab" * 8
    one = MemoryRecord(text="one", scope=ALICE, hash=prefix + "0" * 48)
    two = MemoryRecord(text="two", scope=ALICE, hash=prefix + "1" * 48)  # the same key
    odd = MemoryRecord(text="odd", scope=ALICE, hash="not hex at all")
    assert hash_key(one.hash) == hash_key(two.hash)
    for seed, record in enumerate((one, two, odd)):
        _create(store, record, seed)  # a shared key is no duplicate
    for record in (one, two, odd):
        with pytest.raises(DuplicateMemory) as caught:
            _create(store, MemoryRecord(text="copy", scope=ALICE, hash=record.hash))
        assert caught.value.existing_id == record.id
    _create(store, MemoryRecord(text="copy", scope=BOB, hash=one.hash))  # another scope
    assert hash_key("") is None
    assert hash_key("ab") == hash_key("ab") != hash_key("ac")
    store.close()


_KILLED_WRITER = r"""
import sys, time
from pathlib import Path
from memplane.models import Change, HistoryEntry, HistoryEvent, MemoryRecord, Scope
from memplane.stores.sqlite import SQLiteStore

path, marker = sys.argv[1], Path(sys.argv[2])
store = SQLiteStore(path=path)
store.open(8)
scope = Scope(user_id="alice")
records = [MemoryRecord(text=f"fact {i}", scope=scope) for i in range(500)]
store.apply([Change(record=r, vector=[1.0] * 7 + [float(i)],
                    history=HistoryEntry(memory_id=r.id, event=HistoryEvent.ADD, new_text=r.text))
             for i, r in enumerate(records)])
updates = []
for r in records:
    new = MemoryRecord.model_validate(r.model_dump() | {"text": r.text + " (edited)", "hash": "",
                                                        "version": 2})
    updates.append(Change(record=new, expected_version=1, history=HistoryEntry(
        memory_id=r.id, event=HistoryEvent.UPDATE, old_text=r.text, new_text=new.text)))
steps = {"n": 0}

def hold_the_transaction_open() -> int:
    steps["n"] += 1
    if steps["n"] == 50:  # inside the first update's transaction: say so, then wait to die
        marker.write_text("inside")
        time.sleep(600)
    return 0

with store._db.connections.use() as conn:
    conn.set_progress_handler(hold_the_transaction_open, 100)
store.apply(updates)
"""


def test_a_process_killed_inside_the_first_update_leaves_the_pending_entries(tmp_path: Path) -> None:
    path, marker = tmp_path / "killed.db", tmp_path / "inside"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(path), str(marker)])
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "the writer exited before the update"
            assert time.monotonic() < deadline, "the writer never reached the update"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    store = SQLiteStore(path=str(path))
    store.open(DIM)
    scope = Scope(user_id="alice")
    records = store.list_records(scope, limit=1000).records
    assert len(records) == 500 and {r.version for r in records} == {1}
    for record in records:  # all as before the update: one ADD entry each, from the row
        [entry] = store.history(record.id, scope)
        assert (entry.event, entry.new_text, entry.old_text) == (HistoryEvent.ADD, record.text, None)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM history").fetchone() == (0,)
    conn.close()
    # and the first update, run again, goes through whole
    first = records[0]
    update = _update(store, first, "fact edited later")
    [added, updated] = store.history(first.id, scope)
    assert (added.event, added.new_text, updated) == (HistoryEvent.ADD, first.text, update)
    store.close()


def test_utc_times_are_written_as_isoformat_writes_them() -> None:
    from memplane.stores.sqlite.codec import dt_to_db

    rng = np.random.default_rng(5)
    edges = [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
             datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(999, 9, 9, 9, 9, 9, 9, tzinfo=UTC)]
    for value in edges + [datetime.fromtimestamp(float(t), UTC) for t in
                          rng.uniform(-6e10, 2.5e11, size=2000)]:
        assert dt_to_db(value) == value.isoformat(timespec="microseconds")
        # the same instant in another zone, or naive (read as UTC), gives the same text
        assert dt_to_db(value.replace(tzinfo=None)) == dt_to_db(value)
        if 2 <= value.year <= 9998:
            assert dt_to_db(value.astimezone(timezone(timedelta(hours=-7)))) == dt_to_db(value)


def test_new_rows_of_mixed_null_columns_keep_their_values_and_batch_order(tmp_path: Path) -> None:
    from memplane.stores.sqlite.writes import _OPTIONAL, _shape

    store = SQLiteStore(path=str(tmp_path / "shapes.db"))
    store.open(DIM)
    when = datetime(2025, 6, 1, 8, 30, tzinfo=UTC)
    scopes = [ALICE, Scope(agent_id="helper"), Scope(user_id="alice", run_id="r1"),
              Scope(user_id="alice", agent_id="helper", run_id="r2")]
    records = []
    for i in range(40):  # every few rows another set of NULL columns, interleaved
        fields: dict[str, object] = {"text": f"shaped {i}", "scope": scopes[i % 4]}
        if i % 3 == 0:
            fields["observed_at"] = when
        if i % 5 == 0:
            fields["expires_at"] = when + timedelta(days=3650)
        if i % 7 == 0:
            fields["deleted_at"] = when
        if i % 2 == 0:
            fields["attributed_to"] = "assistant"
        if i % 6 == 0:
            fields["hash"] = ""
        records.append(MemoryRecord(**fields))  # type: ignore[arg-type]
    store.apply([Change(record=r, vector=_vector(i),
                        history=_add_entry(r, actor="api" if i % 4 else None) if i % 3 else None)
                 for i, r in enumerate(records)])
    for scope in scopes:  # every value as written
        mine = [r for r in records if r.scope == scope]
        assert store.get([r.id for r in mine], scope, include_deleted=True) == mine
    conn = sqlite3.connect(tmp_path / "shapes.db")
    order = [rid for (rid,) in conn.execute("SELECT id FROM records ORDER BY seq")]
    conn.close()
    assert order == [r.id for r in records]  # seq follows the batch, as listing shows it
    # the spelled-out shape is the one the optional positions name
    rng = np.random.default_rng(3)
    for _ in range(200):
        row = tuple(None if rng.random() < 0.5 else k for k in range(23))
        assert _shape(row) == tuple(row[i] is None for i in _OPTIONAL)
    store.close()

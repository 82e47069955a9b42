"""The sqlite store's own records (the ``meta`` table: vector dimension and the
embedder identity) edited by hand into nonsense: a typed error that names the
repair, and the repair it names works. Real files, edited with the sqlite3 module
as a user with the sqlite3 shell would."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import ConfigurationError, EmbedderMismatch
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.providers.identity import EMBEDDER_KEY
from memplane.stores.sqlite import SQLiteStore

DIM = 32
USER = "alice"

NONSENSE: list[object] = ["banana", "", " ", "-3", "0", "1e3", "16.0", "9" * 5000, "٣٢",
                          b"\x00\x01", 0, -7]


def memory(path: Path) -> Memory:
    return Memory(llm=ScriptedLLM(), embedder=HashingEmbedder({"dimension": DIM}),
                  vector_store=SQLiteStore({"path": str(path)}))


def edit(path: Path, key: str, value: object) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
        assert conn.total_changes == 1


def run_repair(path: Path, message: str) -> None:
    """Run the SQL statement the error message quotes, as a user would."""
    found = re.search(r'`sqlite3 \S+ "([^"]+)"`', message)
    assert found, message
    with sqlite3.connect(path) as conn:
        conn.execute(found.group(1))


@pytest.mark.parametrize("value", NONSENSE, ids=lambda v: repr(v)[:12])
def test_a_nonsense_dimension_is_a_typed_error_with_a_working_repair(tmp_path: Path,
                                                                     value: object) -> None:
    path = tmp_path / "m.db"
    with memory(path) as m:
        m.add("I like tea", user_id=USER, infer=False)
    edit(path, "dimension", value)
    with pytest.raises(ConfigurationError, match="not a positive integer") as caught:
        memory(path).add("I like coffee", user_id=USER, infer=False)
    message = str(caught.value)
    assert f"value = '{DIM}'" in message and str(path) in message
    run_repair(path, message)
    with memory(path) as m:
        assert m.search("tea", user_id=USER)[0].record.text == "I like tea"


def test_a_nonsense_dimension_in_an_empty_store_says_to_drop_the_record(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    SQLiteStore({"path": str(path)}).open(DIM)
    edit(path, "dimension", "banana")
    store = SQLiteStore({"path": str(path)})
    with pytest.raises(ConfigurationError, match="DELETE FROM meta") as caught:
        store.open(DIM)
    run_repair(path, str(caught.value))
    store.open(DIM)
    store.close()


@pytest.mark.parametrize("value", ["not json", "", "[]", "null", '{"dimension": "x"}',
                                   '{"name": 1}', "x" * 1_000_000, b"\xff\xfe"],
                         ids=lambda v: repr(v)[:12])
def test_a_nonsense_embedder_record_is_a_typed_refusal_and_export_still_works(
        tmp_path: Path, value: object) -> None:
    path = tmp_path / "i.db"
    with memory(path) as m:
        m.add("I like tea", user_id=USER, infer=False)
    edit(path, "info:" + EMBEDDER_KEY, value)
    with memory(path) as m:
        with pytest.raises(EmbedderMismatch, match="unreadable") as caught:
            m.search("tea", user_id=USER)
        assert "memplane export" in str(caught.value)  # the way out it names
        assert "again, or" not in str(caught.value)  # no "configure <nonsense> again"
        assert caught.value.unreadable
        assert len(str(caught.value)) < 2000  # the nonsense is quoted, not dumped
        # the way out works on the damaged store: reads do not embed
        assert [r.text for r in m.get_all(user_id=USER).records] == ["I like tea"]


@pytest.mark.parametrize("blob", [b"\x00" * 7, b"", b"\x00" * (4 * DIM + 4), "text", 12],
                         ids=["short", "empty", "long", "text", "integer"])
def test_a_damaged_vector_is_a_typed_error_naming_the_memory_and_the_repair(
        tmp_path: Path, blob: object) -> None:
    path = tmp_path / "v.db"
    with memory(path) as m:
        tea_id = m.add("I like tea", user_id=USER, infer=False).events[0].id
        m.add("I like coffee", user_id=USER, infer=False)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE vectors SET vector = ? WHERE seq = "
                     "(SELECT seq FROM records WHERE id = ?)", (blob, tea_id))
    with memory(path) as m:
        with pytest.raises(ConfigurationError, match="edited or damaged") as caught:
            m.search("tea", user_id=USER)
        message = str(caught.value)
        assert tea_id in message
        run_repair(path, message.replace("FILE", str(path)))
        # the memory stays, without a vector; the update the message names embeds it again
        assert {h.record.text for h in m.search("tea", user_id=USER)} >= {"I like coffee"}
        m.update(tea_id, "I like green tea", user_id=USER)
        assert m.search("green tea", user_id=USER)[0].id == tea_id

"""The store records its embedder; another embedder of the same size is refused
where it would embed, and the way out the error names (export, then import with
the new embedder) works, through the real CLI in subprocesses.

The second embedder is a real one of the same vector size with other vectors
(``conformance_other_hashing``: the hashing embedder over salted text), installed
as a distribution with an entry point like any plugin.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from memplane.async_memory import AsyncMemory
from memplane.cli.providers import _recorded_embedder
from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import DimensionMismatch, EmbedderMismatch, MemplaneError
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.providers.identity import EMBEDDER_KEY, EmbedderIdentity
from memplane.stores.inmemory import InMemoryStore
from memplane.stores.sqlite import SQLiteStore
from memplane_conformance.store_identity import OtherHashingEmbedder

DIM = 64
USER = "alice"


def hashing() -> HashingEmbedder:
    return HashingEmbedder({"dimension": DIM})


def other() -> OtherHashingEmbedder:
    return OtherHashingEmbedder({"dimension": DIM})


def memory(path: Path, embedder: HashingEmbedder) -> Memory:
    return Memory(llm=ScriptedLLM(), embedder=embedder, vector_store=SQLiteStore({"path": str(path)}))


def recorded(path: Path) -> EmbedderIdentity | None:
    with SQLiteStore({"path": str(path)}) as store:
        value = store.get_info(EMBEDDER_KEY)
    return None if value is None else EmbedderIdentity.decode(value)


# --- the API on a real sqlite file ----------------------------------------------------


def test_first_vector_write_records_the_embedder(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with memory(db, hashing()) as m:
        assert list(m.search("anything", user_id=USER)) == []  # a search records nothing
        assert recorded(db) is None
        m.add("I live in Lisbon", user_id=USER, infer=False)
    assert recorded(db) == hashing().identity()
    assert recorded(db) == EmbedderIdentity(provider="hashing", model="feature-hashing-v1", dimension=DIM)


def test_other_embedder_of_same_size_is_refused_and_reads_still_work(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with memory(db, hashing()) as m:
        event = m.add("I live in Lisbon", user_id=USER, infer=False).events[0]
        m.update(event.id, "I live in Porto", user_id=USER)
    with memory(db, other()) as m:
        for call in (lambda: m.search("Porto", user_id=USER),
                     lambda: m.add("I like tea", user_id=USER, infer=False),
                     lambda: m.add("I like tea", user_id=USER),
                     lambda: m.update(event.id, "I live in Faro", user_id=USER)):
            with pytest.raises(EmbedderMismatch) as caught:
                call()
            assert isinstance(caught.value, MemplaneError)
            message = str(caught.value)
            assert "hashing:feature-hashing-v1 (64 dimensions)" in message
            assert "conformance_other_hashing:salted-feature-hashing (64 dimensions)" in message
            assert str(db) in message
            assert "memplane export" in message and "memplane import" in message
        # nothing was written, and everything that embeds nothing works
        page = m.get_all(user_id=USER)
        assert [r.text for r in page.records] == ["I live in Porto"]
        assert m.get(event.id, user_id=USER).version == 2
        assert [h.event.value for h in m.history(event.id, user_id=USER)] == ["ADD", "UPDATE"]
        m.delete(event.id, user_id=USER)
        m.restore(event.id, user_id=USER)
    assert recorded(db) == hashing().identity()  # the refused embedder took nothing over


def test_async_memory_is_refused_too(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with memory(db, hashing()) as m:
        m.add("I live in Lisbon", user_id=USER, infer=False)

    async def run() -> None:
        store = SQLiteStore({"path": str(db)})
        async with AsyncMemory(llm=ScriptedLLM(), embedder=other(), vector_store=store) as am:
            with pytest.raises(EmbedderMismatch):
                await am.search("Lisbon", user_id=USER)
            with pytest.raises(EmbedderMismatch):
                await am.add("I like tea", user_id=USER, infer=False)
            assert len((await am.get_all(user_id=USER)).records) == 1
        store.close()

    asyncio.run(run())


def test_reset_frees_the_store_and_delete_all_does_not(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with memory(db, hashing()) as m:
        m.add("I live in Lisbon", user_id=USER, infer=False)
        m.delete_all(user_id=USER)  # soft: the vectors stay for a restore, so does the record
    assert recorded(db) == hashing().identity()
    with memory(db, other()) as m:
        with pytest.raises(EmbedderMismatch):
            m.add("I like tea", user_id=USER, infer=False)
        m.reset()  # nothing embeds: allowed, and an empty store takes any embedder
        m.add("I like tea", user_id=USER, infer=False)
        assert [h.record.text for h in m.search("tea", user_id=USER)] == ["I like tea"]
    assert recorded(db) == other().identity()


def test_an_unreadable_record_is_never_trusted(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with SQLiteStore({"path": str(db)}) as store:
        store.claim_info(EMBEDDER_KEY, "not json")
    with memory(db, hashing()) as m, pytest.raises(EmbedderMismatch, match="unreadable"):
        m.add("I like tea", user_id=USER, infer=False)


def test_a_store_without_store_info_is_not_checked_and_doctor_warns() -> None:
    class Forgetful(InMemoryStore):
        name = "forgetful"
        capabilities = frozenset({"keyword_search", "atomic_apply", "vector_read"})

    store = Forgetful()
    with Memory(llm=ScriptedLLM(), embedder=hashing(), vector_store=store) as m:
        m.add("I live in Lisbon", user_id=USER, infer=False)
    with Memory(llm=ScriptedLLM(), embedder=other(), vector_store=store) as m:
        m.add("I like tea", user_id=USER, infer=False)  # cannot be detected
    check = _recorded_embedder(store, other().identity())
    assert check.ok and check.detail.startswith("warning:") and "cannot record" in check.detail


# --- processes racing on a fresh file ---------------------------------------------------


RACER = textwrap.dedent("""
    import sys, time
    from memplane.errors import EmbedderMismatch
    from memplane.llms.scripted import ScriptedLLM
    from memplane.memory import Memory
    from memplane.stores.sqlite import SQLiteStore
    from memplane_conformance.store_identity import embedder_of
    path, variant, go = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    store = SQLiteStore({"path": path})
    with Memory(llm=ScriptedLLM(), embedder=embedder_of(variant), vector_store=store) as m:
        time.sleep(max(0.0, go - time.time()))
        try:
            m.add(f"fact of process {variant}", user_id="racer", infer=False)
            print("ok")
        except EmbedderMismatch:
            print("mismatch")
    store.close()
""")


@pytest.mark.parametrize("trial", range(3))
def test_two_processes_with_different_embedders_one_identity_wins(tmp_path: Path, trial: int) -> None:
    import time

    db = tmp_path / "race.db"
    SQLiteStore({"path": str(db)}).close()  # the file exists; nothing is recorded
    go = time.time() + 4.0  # both processes are ready by then and start together
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(db), str(n), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in (0, 1)]
    outcomes = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outcomes.append(out.strip())
    assert sorted(outcomes) == ["mismatch", "ok"], outcomes
    winner = outcomes.index("ok")
    from memplane_conformance.store_identity import embedder_of

    assert recorded(db) == embedder_of(winner).identity()
    with SQLiteStore({"path": str(db)}) as store:
        store.open(DIM)
        from memplane.models import Scope

        texts = [r.text for r in store.list_records(Scope(user_id="racer")).records]
    assert texts == [f"fact of process {winner}"]


# --- the way out, through the CLI ------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A distribution whose entry point installs the second embedder."""
    root = tmp_path / "site"
    info = root / "memplane_salted-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: memplane-salted\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[memplane.embedders]\n"
        "conformance_other_hashing = memplane_conformance.store_identity:OtherHashingEmbedder\n")
    return root


def config(tmp_path: Path, name: str, embedder: str, db: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "llm": "rules",
        "embedder": {"provider": embedder, "config": {"dimension": DIM}},
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / db)}},
    }))
    return path


def run(site: Path, cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMPLANE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    env["MEMPLANE_HOME"] = str(cfg.parent / "home")
    return subprocess.run([sys.executable, "-m", "memplane.cli.main", "--config", str(cfg), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_cli_refuses_then_export_and_import_move_the_store(tmp_path: Path, site: Path) -> None:
    old = config(tmp_path, "old", "hashing", "old.db")
    switched = config(tmp_path, "switched", "conformance_other_hashing", "old.db")
    fresh = config(tmp_path, "fresh", "conformance_other_hashing", "new.db")

    added = run(site, old, "--json", "add", "--user", USER, "--no-infer", "I live in Lisbon")
    assert added.returncode == 0, added.stderr
    memory_id = json.loads(added.stdout)["events"][0]["id"]
    assert run(site, old, "--user", USER, "add", "--no-infer", "I like green tea").returncode == 0

    # the switched embedder: every embedding command refuses and names the way out
    for args in (["search", "Lisbon"], ["add", "--no-infer", "I like tea"],
                 ["update", memory_id, "I live in Porto"]):
        refused = run(site, switched, "--user", USER, *args)
        assert refused.returncode != 0, args
        assert "EmbedderMismatch" not in refused.stderr  # a message, not a traceback
        assert "hashing:feature-hashing-v1" in refused.stderr
        assert "memplane export" in refused.stderr and "memplane import" in refused.stderr
    doctor = run(site, switched, "doctor")
    assert doctor.returncode == 1
    assert str(tmp_path / "old.db") in doctor.stdout and "EmbedderMismatch" in doctor.stdout

    # the reads work, so the way out works
    listed = run(site, switched, "--json", "--user", USER, "list")
    assert listed.returncode == 0, listed.stderr
    assert sorted(r["text"] for r in json.loads(listed.stdout)["records"]) == [
        "I like green tea", "I live in Lisbon"]
    assert run(site, switched, "--user", USER, "get", memory_id).returncode == 0
    assert run(site, switched, "--user", USER, "history", memory_id).returncode == 0
    exported = tmp_path / "alice.jsonl"
    out = run(site, switched, "--user", USER, "export", "--vectors", "--output", str(exported))
    assert out.returncode == 0, out.stderr
    # an import that would write into the mismatched store is refused, whatever the
    # file's vectors (here: the store's own embedder's), and writes nothing
    back = run(site, switched, "--user", "bob", "import", "--no-progress", str(exported))
    assert back.returncode != 0 and "memplane export" in back.stderr
    assert json.loads(run(site, old, "--json", "--user", "bob", "list").stdout)["records"] == []

    imported = run(site, fresh, "--json", "import", "--no-progress", str(exported))
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout) == {"imported": 2, "skipped_existing": 0, "reembedded": 2}
    found = run(site, fresh, "--json", "--user", USER, "search", "Where does she live? Lisbon")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert hits[0]["record"]["text"] == "I live in Lisbon"
    assert run(site, fresh, "--user", USER, "add", "--no-infer", "I like tea").returncode == 0
    doctor = run(site, fresh, "doctor")
    assert "conformance_other_hashing:salted-feature-hashing (64 dimensions) (matches" in doctor.stdout
    assert str(tmp_path / "new.db") in doctor.stdout


def test_store_location_is_absolute_for_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # doctor and the mismatch error print it; "./memories.db" says nothing once you cd
    monkeypatch.chdir(tmp_path)
    with SQLiteStore({"path": "./memories.db"}) as store:
        assert store.location == str((tmp_path / "memories.db").resolve())
    assert SQLiteStore({"path": ":memory:"}).location == ":memory:"


def test_refused_before_any_embedding_or_llm_call(tmp_path: Path) -> None:
    """A refused add spends nothing: the first embed call is refused, before the LLM."""
    db = tmp_path / "m.db"
    with memory(db, hashing()) as m:
        m.add("I live in Lisbon", user_id=USER, infer=False)
    embedder, llm = CountingEmbedder({"dimension": DIM}), ScriptedLLM()
    with Memory(llm=llm, embedder=embedder, vector_store=SQLiteStore({"path": str(db)})) as m:
        with pytest.raises(EmbedderMismatch):
            m.add("I moved to Porto", user_id=USER)
        with pytest.raises(EmbedderMismatch):
            m.search("Porto", user_id=USER)
    assert embedder.calls == 0 and llm.requests == []


class CountingEmbedder(OtherHashingEmbedder):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.calls = 0

    def embed(self, texts, *, purpose="document"):  # type: ignore[no-untyped-def]
        self.calls += 1
        return super().embed(texts, purpose=purpose)


def test_a_dimension_mismatch_names_the_recorded_embedder(tmp_path: Path) -> None:
    # the way out (export with the old embedder) needs to know which one that was
    db = tmp_path / "m.db"
    with memory(db, hashing()) as m:
        m.add("I live in Lisbon", user_id=USER, infer=False)
    with pytest.raises(DimensionMismatch) as caught:
        memory(db, HashingEmbedder({"dimension": DIM * 2}))
    assert caught.value.recorded == "hashing:feature-hashing-v1 (64 dimensions)"
    assert "`memplane export` with the embedder the store was built with (hashing:" in str(caught.value)

"""`memplane keys`, `memplane serve --workers 2` and `memplane --server URL ...`, as a
user runs them (subprocesses, real ports)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import free_port, wait_ready

MEMPLANE = [sys.executable, "-c", "import sys; from memplane.cli.main import main; sys.exit(main())"]


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    done = subprocess.run([*MEMPLANE, *args], capture_output=True, text=True, input=stdin,
                          env={**os.environ, **(env or {})}, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("serve")
    config = tmp / "server.yaml"
    config.write_text(
        f"keys_db: {tmp / 'server.db'}\n"
        "memory:\n  llm: rules\n  embedder: {provider: hashing, config: {dimension: 64}}\n"
        f"  vector_store: {{provider: sqlite, config: {{path: {tmp / 'memory.db'}}}}}\n")
    port = free_port()
    proc = subprocess.Popen([*MEMPLANE, "serve", "--config", str(config), "--port", str(port),
                             "--workers", "2"], stdout=subprocess.DEVNULL,
                            stderr=(tmp / "serve.log").open("wb"))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)  # type: ignore[arg-type]
        yield url, config
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_keys_lifecycle(tmp_path: Path) -> None:
    db = str(tmp_path / "keys.db")
    key = run("keys", "create", "--user", "alice", "--name", "laptop", "--keys-db", db).strip()
    assert key.startswith("mp_")
    created = json.loads(run("keys", "create", "--admin", "--json", "--keys-db", db))
    multi = json.loads(run("keys", "create", "--user", "carol", "--scope", "user=bob,agent=x",
                           "--scope", "agent=y", "--json", "--keys-db", db))
    assert multi["scopes"] == [{"user_id": "carol"}, {"user_id": "bob", "agent_id": "x"},
                               {"agent_id": "y"}]
    listed = json.loads(run("keys", "list", "--json", "--keys-db", db))
    assert sorted(map(str, (k["scopes"] for k in listed))) == sorted(map(str, (
        [{"user_id": "alice"}], [], multi["scopes"])))
    key_id = key.split("_")[1]
    rotated = run("keys", "rotate", key_id, "--keys-db", db).strip()
    assert rotated.startswith(f"mp_{key_id}_") and rotated != key
    run("keys", "revoke", created["key_id"], "--keys-db", db)
    states = {k["key_id"]: k["revoked_at"] for k in json.loads(run("keys", "list", "--json",
                                                                  "--keys-db", db))}
    assert states[created["key_id"]] is not None and states[key_id] is None
    assert key.split("_")[2] not in Path(db).read_bytes().decode("latin-1")
    refused = subprocess.run([*MEMPLANE, "keys", "create", "--keys-db", db], capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 2 and "scope" in refused.stderr


def test_serve_and_cli_against_the_server(served: tuple[str, Path], tmp_path: Path) -> None:
    url, config = served
    key = run("keys", "create", "--user", "carol", "--config", str(config)).strip()
    env = {"MEMPLANE_API_KEY": key}
    run("--server", url, "add", "I live in Porto", "--no-infer", env=env)
    listed = json.loads(run("--server", url, "list", "--json", env=env))
    assert [r["text"] for r in listed["records"]] == ["I live in Porto"]
    hits = json.loads(run("--server", url, "search", "Porto", "--json", env=env))
    assert hits[0]["record"]["text"] == "I live in Porto"
    export = run("--server", url, "export", env=env)
    assert len(export.splitlines()) == 2
    (tmp_path / "carol.jsonl").write_text(export)
    report = json.loads(run("--server", url, "import", str(tmp_path / "carol.jsonl"), "--json",
                            env=env))
    assert report == {"imported": 0, "skipped_existing": 1, "reembedded": 0}
    refused = subprocess.run([*MEMPLANE, "--server", url, "list", "--user", "dave"],
                             capture_output=True, text=True, env={**os.environ, **env}, timeout=60)
    assert refused.returncode == 2 and "may not touch" in refused.stderr
    # the CLI against a server loads no provider: it starts instantly
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sys; from memplane.cli.main import main; main(['--server', sys.argv[1], 'list']);"
         "print(sorted(m for m in sys.modules if m.startswith(('memplane.stores', "
         "'memplane.embedders', 'memplane.llms', 'numpy'))))", url],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip().splitlines()[-1] == "[]"

"""CLI errors name CLI flags, not Python keyword arguments."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from memplane.cli.main import main


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("MEMPLANE_CONFIG", "MEMPLANE_LLM", "MEMPLANE_EMBEDDER", "MEMPLANE_VECTOR_STORE",
                 "MEMPLANE_RERANKER"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"llm": "scripted", "embedder": "hashing",
                                    "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "m.db")}}}))
    return path


def run(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    status = main(["--config", str(config), *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_deleted_and_expired_hints_name_flags(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, config, "--json", "add", "--user", "u", "--no-infer", "I like tea")
    memory_id = json.loads(out)["events"][0]["id"]
    run(capsys, config, "delete", memory_id, "--user", "u")
    status, _, err = run(capsys, config, "get", memory_id, "--user", "u")
    assert status == 2 and "--include-deleted" in err and "include_deleted=True" not in err
    _, out, _ = run(capsys, config, "--json", "add", "--user", "u", "--no-infer",
                    "--expires-at", "2001-01-01", "old news")
    expired = json.loads(out)["events"][0]["id"]
    status, _, err = run(capsys, config, "get", expired, "--user", "u")
    assert "--include-expired" in err and "include_expired=True" not in err


def test_rerank_without_reranker_names_the_config(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, config, "search", "tea", "--user", "u", "--rerank")
    assert status == 2 and "reranker: llm" in err and "reranker=" not in err and "Memory" not in err


#: a Python keyword argument or call in advice (``include_deleted=True``, ``search(x=...)``,
#: ``errors='replace'``); config keys and KEY=VALUE placeholders are not lowercase words
PYTHON_ADVICE = re.compile(r"\b[a-z_]+=(True|False|None|'|\s|,|\)|$)|\b[a-z_]+\([a-z_]+=")


def test_no_cli_error_gives_python_advice(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, config, "--json", "add", "--user", "u", "--no-infer", "I like tea")
    memory_id = json.loads(out)["events"][0]["id"]
    run(capsys, config, "delete", memory_id, "--user", "u")
    cases = [
        ["add", "--user", "u", "--no-infer", "tea \udcff"],  # a non-UTF-8 byte in argv
        ["search", "tea"],
        ["get", memory_id, "--user", "u"],
        ["update", memory_id, "coffee", "--user", "u"],
        ["search", "tea", "--user", "u", "--rerank"],
        ["add", "--user", "u", "--no-infer", "x" * 200_001],
        ["list", "--user", "u", "--filter", '{"a": {"between": 1}}'],
    ]
    for args in cases:
        status, _, err = run(capsys, config, *args)
        assert status == 2 and err.startswith("error: "), (args, err)
        assert not PYTHON_ADVICE.search(err), (args, err)
    status, _, err = run(capsys, config, "add", "--user", "u", "--no-infer", "tea \udcff")
    assert "not UTF-8" in err and "errors=" not in err

"""The stdio entry points: scope from flags or env (never from tools), refusal
without one, and the three ways to start it (memplane mcp, memplane-mcp, -m).

Troubleshooting: ``memplane mcp`` missing means the memplane.plugins entry point
of memplane-server is not installed (``pip install -e server[mcp]``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mcp_testkit import base_env, memory_env, ok, stdio_session

from memplane.errors import ValidationError
from memplane_server.mcp.stdio import scope_from

BIN = os.path.dirname(sys.executable)


def test_scope_from_flags_and_environment() -> None:
    env = {"MEMPLANE_MCP_USER_ID": "alice", "MEMPLANE_MCP_RUN_ID": "r1"}
    assert scope_from(environ=env).items() == [("user_id", "alice"), ("run_id", "r1")]
    assert scope_from(user_id="bob", environ=env).items() == [("user_id", "bob"), ("run_id", "r1")]
    assert scope_from(agent_id="a", environ={}).items() == [("agent_id", "a")]
    assert scope_from(environ={"MEMPLANE_MCP_USER_ID": ""}, agent_id="a").items() == [("agent_id", "a")]
    with pytest.raises(ValidationError, match="needs a scope"):
        scope_from(environ={"MEMPLANE_MCP_USER_ID": ""})


@pytest.mark.parametrize("argv", [
    [sys.executable, "-m", "memplane_server.mcp"],
    [os.path.join(BIN, "memplane-mcp")],
    [os.path.join(BIN, "memplane"), "mcp"],
])
def test_without_a_scope_the_server_refuses_to_start(argv: list[str], tmp_path: Path) -> None:
    done = subprocess.run(argv, env={**base_env(), **memory_env(tmp_path / "m.db")},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "needs a scope" in done.stderr and "MEMPLANE_MCP_USER_ID" in done.stderr
    assert done.stdout == "", "stdout is the protocol channel: nothing else may go there"


def test_without_the_mcp_sdk_the_command_says_what_to_install() -> None:
    # sys.modules[name] = None makes `import mcp` fail as if the extra were not installed
    code = ("import sys; sys.modules['mcp'] = None; from memplane_server.mcp.cli import main; "
            "sys.exit(main(['--user', 'alice']))")
    done = subprocess.run([sys.executable, "-c", code], env=base_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "pip install 'memplane-server[mcp]'" in done.stderr


async def test_flags_bind_the_scope_and_win_over_the_environment(tmp_path: Path) -> None:
    memplane = shutil.which("memplane", path=BIN)
    assert memplane
    env = {**memory_env(tmp_path / "m.db"), "MEMPLANE_MCP_USER_ID": "from-env"}
    async with stdio_session(env, command=memplane, args=["--agent", "helper", "mcp", "--user", "from-flag"]) as s:
        added = await ok(s, "add_memory", text="I like rooibos")
        assert added["events"][0]["scope"] == {"user_id": "from-flag", "agent_id": "helper", "run_id": None}
    async with stdio_session({**env, "MEMPLANE_MCP_USER_ID": "someone-else"}) as s:
        assert (await ok(s, "list_memories"))["records"] == []


async def test_a_config_file_is_read_like_the_cli(tmp_path: Path) -> None:
    config = tmp_path / "memplane.yaml"
    config.write_text(f"llm: rules\nembedder: hashing\nvector_store:\n  provider: sqlite\n"
                      f"  config:\n    path: {tmp_path / 'from-file.db'}\n", encoding="utf-8")
    async with stdio_session({"MEMPLANE_CONFIG": str(config), "MEMPLANE_MCP_USER_ID": "alice"}) as s:
        await ok(s, "add_memory", text="I like mate")
    assert (tmp_path / "from-file.db").is_file()

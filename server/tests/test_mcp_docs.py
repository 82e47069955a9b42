"""docs/mcp.md's client configurations are the ones that work: each JSON block is
parsed out of the page and launched (stdio: exactly its command, args and env) or
connected to (HTTP: exactly its path and headers, on a test server's port).

Troubleshooting: if the page changed shape, keep one ```json block per
`mcpServers` entry named memplane (stdio), memplane-http and memplane-team.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import mcp_testkit as kit
import pytest
from mcp_testkit import TOOLS, HttpServer, fails, http_session, ok, stdio_session

from memplane.models import Scope
from memplane_server.auth import Grant

DOC = Path(__file__).resolve().parents[2] / "docs" / "mcp.md"
pytestmark = pytest.mark.skipif(not DOC.is_file(), reason="docs/ is not next to this checkout")
http_server = kit.http_server  # fixture


def servers() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S):
        found.update(json.loads(block)["mcpServers"])
    return found


def test_the_page_holds_the_three_configurations() -> None:
    assert set(servers()) == {"memplane", "memplane-http", "memplane-team"}


async def test_the_stdio_configuration_runs_as_written(tmp_path: Path) -> None:
    entry = servers()["memplane"]
    command = shutil.which(entry["command"], path=os.path.dirname(sys.executable) + os.pathsep
                           + os.environ.get("PATH", ""))
    assert command, f"{entry['command']!r} is not installed next to this Python"
    # The page's env as is; HOME only relocates the default ~/.memplane database.
    env = {**entry["env"], "HOME": str(tmp_path)}
    async with stdio_session(env, command=command, args=entry["args"]) as s:
        assert {t.name for t in (await s.list_tools()).tools} == TOOLS
        added = await ok(s, "add_memory", text="I like green tea")
        assert added["events"][0]["event"] == "ADD"
        assert added["events"][0]["scope"]["user_id"] == entry["env"]["MEMPLANE_MCP_USER_ID"]
    assert (tmp_path / ".memplane" / "memory.db").is_file()


def _url(http_server: HttpServer, entry: dict[str, Any]) -> str:
    assert entry["type"] == "http"
    parts = urlsplit(entry["url"])
    assert parts.hostname == "127.0.0.1"
    return f"http://127.0.0.1:{http_server.port}{parts.path}"


def _token(entry: dict[str, Any]) -> str:
    return str(entry["headers"]["Authorization"]).removeprefix("Bearer ")


async def test_the_http_configuration_connects_as_written(http_server: HttpServer) -> None:
    entry = servers()["memplane-http"]
    http_server.keys[_token(entry)] = Grant(key_id="docs", admin=False,
                                                scopes=(Scope(user_id="alice-docs"),))
    async with http_session(_url(http_server, entry), entry["headers"]) as s:
        added = await ok(s, "add_memory", text="I like oolong", infer=False)
        assert added["events"][0]["scope"]["user_id"] == "alice-docs"


async def test_the_team_configuration_picks_its_scope_by_header(http_server: HttpServer) -> None:
    entry = servers()["memplane-team"]
    picked = entry["headers"]["X-Memplane-User-Id"]
    http_server.keys[_token(entry)] = Grant(key_id="team", admin=False,
                                                scopes=(Scope(user_id="alice"), Scope(user_id=picked)))
    async with http_session(_url(http_server, entry), entry["headers"]) as s:
        added = await ok(s, "add_memory", text="Team standup is at nine", infer=False)
        assert added["events"][0]["scope"]["user_id"] == picked
        await fails(s, "get_memory", memory_id="nope")


async def test_the_page_documents_every_tool_argument_and_resource() -> None:
    from memplane_server.mcp.tools import build_server

    def no_memory() -> Any:
        raise AssertionError("listing needs no Memory")

    server = build_server(no_memory, lambda _ctx: Scope(user_id="docs"))
    doc = DOC.read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in doc.splitlines() if line.startswith("| `")}
    for tool in await server.list_tools():
        assert tool.name in rows, f"docs/mcp.md has no table row for {tool.name}"
        for argument in tool.input_schema.get("properties", {}):
            assert f"`{argument}`" in rows[tool.name], f"{tool.name}: argument {argument} undocumented"
    for template in await server.list_resource_templates():
        assert f"`{template.uri_template}`" in doc


async def test_the_python_client_example_runs(http_server: HttpServer, capsys: pytest.CaptureFixture[str]) -> None:
    (example,) = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    entry = servers()["memplane-http"]
    assert entry["url"] in example and _token(entry) in example, "the example uses the HTTP entry's url and key"
    http_server.keys[_token(entry)] = Grant(key_id="docs", admin=False, scopes=(Scope(user_id="alice-docs"),))
    # The page's code as is, inside a coroutine, pointed at the test server's port.
    source = example.replace(entry["url"], _url(http_server, entry))
    namespace: dict[str, Any] = {}
    exec("async def example():\n" + "".join(f"    {line}\n" for line in source.splitlines()), namespace)
    await namespace["example"]()
    assert "'results': [" in capsys.readouterr().out

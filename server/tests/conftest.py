from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # live_app / support, next to the tests

from support import Live, ScriptServer, memory_config, uvicorn_process

from memplane_server.settings import ServerSettings


@pytest.fixture(scope="session")
def script() -> Iterator[ScriptServer]:
    server = ScriptServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, script: ScriptServer) -> Iterator[Live]:
    """One real uvicorn with two worker processes sharing one SQLite store."""
    tmp = tmp_path_factory.mktemp("live")
    settings = ServerSettings(memory=memory_config(tmp), keys_db=tmp / "server.db",
                              rate_limit_per_minute=0, max_body_bytes=64 * 1024)
    with uvicorn_process(settings, script, workers=2, log=tmp / "uvicorn.log") as server:
        yield server


@pytest.fixture(scope="session")
def admin_key(live: Live) -> str:
    return live.key(admin=True)

"""create_app's seams for the other server pieces: guarded optional imports, lifespan
hooks, and the shared credential resolver."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from memplane.models import Scope
from memplane_server import auth
from memplane_server.app import _optional, create_app
from memplane_server.settings import ServerSettings

MEMORY = {"llm": "rules", "embedder": "hashing", "vector_store": "memory"}


def test_optional_pieces_are_skipped_only_when_absent(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert _optional("memplane_server.no_such_piece") is None
    assert _optional("memplane_no_such_package.http") is None
    (tmp_path / "broken_piece.py").write_text("import memplane_definitely_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError):  # installed but broken: loud, never silently dropped
        _optional("broken_piece")
    sys.modules.pop("broken_piece", None)


def test_lifespan_hooks_and_shared_resolver(tmp_path: Path) -> None:
    app = create_app(ServerSettings(memory=MEMORY, keys_db=tmp_path / "k.db"))
    seen: list[str] = []

    @contextlib.asynccontextmanager
    async def hook(a: FastAPI) -> AsyncIterator[None]:
        seen.append("start" if a is app else "?")
        yield
        seen.append("stop")

    app.state.lifespan_hooks.append(hook)
    assert not hasattr(app.state, "server")  # nothing starts before the lifespan
    with TestClient(app) as client:
        assert client.get("/readyz").json()["status"] == "ready"
        token = app.state.grant_resolver.keys.create(scopes=[Scope(user_id="a")])[0]
        grant = client.portal.call(auth.resolve_grant, f"Bearer {token}")  # type: ignore[union-attr]
        assert grant.scopes == (Scope(user_id="a"),) and not grant.admin
        with pytest.raises(auth.AuthError):
            client.portal.call(auth.resolve_grant, "Bearer mp_nope_nope")  # type: ignore[union-attr]
    assert seen == ["start", "stop"]

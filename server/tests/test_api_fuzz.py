"""schemathesis drives every route of the published schema (docs/openapi.json) with
generated valid and malformed requests, as no one, as a scoped key and as admin,
against a real server: no 5xx, responses match the schema, and a refused request
writes nothing (the audit log records every write, so its length must not move).

Bounded by max_examples so the run stays well under two minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from support import Live, memory_config, uvicorn_thread

from memplane.models import Scope
from memplane_server.settings import ServerSettings

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
MAX_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@schemathesis.serializer("application/x-ndjson")
def ndjson(context: Any, value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


schema = schemathesis.openapi.from_path(PUBLISHED)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("fuzz")
    config = {**memory_config(tmp), "llm": "rules"}
    settings = ServerSettings(memory=config, keys_db=tmp / "server.db", rate_limit_per_minute=0,
                              max_body_bytes=16 * 1024, max_import_bytes=64 * 1024)
    with uvicorn_thread(settings) as live:
        yield live


@pytest.fixture(scope="module")
def credentials(fuzz_server: Live) -> dict[str, str | None]:
    revoked = fuzz_server.key(Scope(user_id="gone"))
    fuzz_server.keys.revoke(revoked.split("_")[1])
    return {"none": None, "garbage": "mp_0000_nope", "revoked": revoked,
            "alice": fuzz_server.key(Scope(user_id="alice")),
            "admin": fuzz_server.key(admin=True)}


def _audit_length(live: Live) -> int:
    from memplane_server.audit import AuditLog
    from memplane_server.db import ServerDB

    return AuditLog(ServerDB(live.settings.keys_db)).count()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_fuzz(case: Any, fuzz_server: Live, credentials: dict[str, str | None]) -> None:
    for who, credential in credentials.items():
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        before = _audit_length(fuzz_server)
        response = case.call(base_url=fuzz_server.url, headers=headers)
        case.validate_response(response, checks=CHECKS)
        if response.status_code >= 400:
            assert _audit_length(fuzz_server) == before, f"{who}: a refused request wrote"
        if who in ("none", "garbage", "revoked") and case.path.startswith("/v1"):
            assert response.status_code in (401, 404, 405, 413, 422), (who, response.status_code)

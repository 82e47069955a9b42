"""Every write and admin action lands in the append-only audit log, queryable by admin."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from support import Live

from memplane.client import MemoryClient, ScopeForbidden
from memplane.models import Scope


def test_writes_are_audited_and_admin_only(live: Live, admin_key: str) -> None:
    key = live.key(Scope(user_id="audited"))
    key_id = key.split("_")[1]
    with MemoryClient(live.url, api_key=key) as client:
        mid = client.add("I like tea", infer=False).events[0].id
        client.update(mid, "I like green tea")
        client.search("tea")  # a read: not audited
        client.delete(mid)
        client.restore(mid)
        assert client.delete_all() == 1
        with pytest.raises(ScopeForbidden):
            client.search("tea", user_id="someone-else")
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {key}"}) as alice:
        refused = alice.get("/v1/audit")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_required"
    with httpx.Client(base_url=live.url,
                      headers={"Authorization": f"Bearer {admin_key}"}) as admin:
        entries = admin.get("/v1/audit", params={"key_id": key_id}).json()
        assert [e["operation"] for e in entries] == [
            "add", "update", "delete", "restore", "delete_all"]
        assert all(e["scope"] == {"user_id": "audited"} and e["memory_ids"] == [mid]
                   for e in entries)
        by_memory = admin.get("/v1/audit", params={"memory_id": mid}).json()
        assert len(by_memory) == 5
        scopes = admin.get("/v1/scopes").json()
        assert {"user_id": "audited", "agent_id": None, "run_id": None} in scopes["scopes"]
    # append-only: the database itself refuses to rewrite or drop entries
    conn = sqlite3.connect(live.settings.keys_db)
    for statement in ("UPDATE audit SET key_id = 'x'", "DELETE FROM audit"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(statement)
    conn.close()

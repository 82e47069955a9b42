"""A key bound to alice, used by a hostile caller, against every route.

Policy (docs/server.md): naming another scope anywhere (query, body, filter, cursor,
export, import file) is 403 ``scope_forbidden``; another tenant's memory id inside
alice's own scope is 404 ``memory_not_found`` (existence is never revealed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from support import Live

from memplane.client import MemoryClient, ScopeForbidden
from memplane.errors import MemoryNotFound
from memplane.models import Scope

BOB = {"user_id": "iso-bob"}


@pytest.fixture(scope="module")
def world(live: Live, admin_key: str) -> dict[str, object]:
    """Bob's memories (seeded by admin), alice's key, and a cursor from bob's listing."""
    admin = MemoryClient(live.url, api_key=admin_key)
    bob_ids = [admin.add(f"bob secret {i}", infer=False, user_id="iso-bob", metadata={"n": i})
               .events[0].id for i in range(3)]
    bob_cursor = admin.get_all(user_id="iso-bob", limit=1).next_cursor
    alice_key = live.key(Scope(user_id="iso-alice"))
    alice_id = MemoryClient(live.url, api_key=alice_key).add(
        "alice note", infer=False).events[0].id
    return {"bob_ids": bob_ids, "bob_cursor": bob_cursor, "alice_key": alice_key,
            "alice_id": alice_id, "admin": admin}


@pytest.fixture
def alice(live: Live, world: dict[str, object]) -> Iterator[httpx.Client]:
    with live.client(str(world["alice_key"])) as client:
        yield client


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def _bob_unchanged(world: dict[str, object]) -> None:
    admin = world["admin"]
    assert isinstance(admin, MemoryClient)
    page = admin.get_all(user_id="iso-bob", include_deleted=True)
    assert sorted(r.id for r in page.records) == sorted(world["bob_ids"])  # type: ignore[arg-type]
    assert all(r.deleted_at is None and r.text.startswith("bob secret") for r in page.records)


def test_naming_another_scope_is_403_on_every_route(alice: httpx.Client,
                                                    world: dict[str, object]) -> None:
    bob_id = world["bob_ids"][0]  # type: ignore[index]
    for scope in (BOB, {"user_id": "iso-bob", "agent_id": "x"}, {"agent_id": "any"},
                  {"run_id": "r1"}, {"user_id": "iso-alicex"}):
        q = {k: v for k, v in scope.items()}
        calls = [
            alice.post("/v1/memories", json={"messages": "hi", "infer": False, **scope}),
            alice.post("/v1/memories/search", json={"query": "secret", **scope}),
            alice.get("/v1/memories", params=q),
            alice.get(f"/v1/memories/{bob_id}", params=q),
            alice.patch(f"/v1/memories/{bob_id}", json={"text": "pwned", **scope}),
            alice.delete(f"/v1/memories/{bob_id}", params=q),
            alice.post(f"/v1/memories/{bob_id}/restore", json=scope),
            alice.get(f"/v1/memories/{bob_id}/history", params=q),
            alice.delete("/v1/memories", params=q),
            alice.get("/v1/export", params=q),
            alice.post("/v1/import", params=q, content=b"",
                       headers={"content-type": "application/x-ndjson"}),
        ]
        for response in calls:
            assert response.status_code == 403, (response.request.url, response.text)
            assert _code(response) == "scope_forbidden"
    _bob_unchanged(world)


def test_other_tenants_ids_are_404_inside_own_scope(alice: httpx.Client,
                                                    world: dict[str, object]) -> None:
    for bob_id in world["bob_ids"]:  # type: ignore[attr-defined]
        for response in (
            alice.get(f"/v1/memories/{bob_id}", params={"include_deleted": True}),
            alice.patch(f"/v1/memories/{bob_id}", json={"text": "pwned"}),
            alice.delete(f"/v1/memories/{bob_id}"),
            alice.post(f"/v1/memories/{bob_id}/restore"),
            alice.get(f"/v1/memories/{bob_id}/history"),
        ):
            assert response.status_code == 404, response.text
            assert _code(response) == "memory_not_found"
    _bob_unchanged(world)


def test_a_body_cannot_widen_the_scope(alice: httpx.Client, world: dict[str, object]) -> None:
    for extra in ({"scope": BOB}, {"scope": {"user_id": "iso-bob"}, "user_id": None},
                  {"admin": True}, {"key_id": "x"}):
        response = alice.post("/v1/memories", json={"messages": "x", "infer": False, **extra})
        assert response.status_code in (403, 422) and response.status_code != 200, response.text
    hits = alice.post("/v1/memories/search", json={"query": "bob secret", "limit": 50}).json()
    assert {h["record"]["scope"]["user_id"] for h in hits["results"]} <= {"iso-alice"}
    listed = alice.get("/v1/memories", params={"limit": 1000, "include_deleted": True}).json()
    assert [r["id"] for r in listed["records"]] == [world["alice_id"]]
    # a message carrying a scope in its metadata stays alice's
    added = alice.post("/v1/memories", json={"messages": "m", "infer": False,
                                             "metadata": {"user_id": "iso-bob"}}).json()
    assert added["events"][0]["scope"]["user_id"] == "iso-alice"
    alice.delete(f"/v1/memories/{added['events'][0]['id']}")
    _bob_unchanged(world)


def test_filters_cannot_reach_another_scope(alice: httpx.Client, world: dict[str, object]) -> None:
    for filters in ({"user_id": "iso-bob"}, {"OR": [{"n": 1}, {"user_id": "iso-bob"}]},
                    {"NOT": {"agent_id": {"exists": True}}}, {"run_id": {"in": ["a"]}}):
        search = alice.post("/v1/memories/search", json={"query": "secret", "filters": filters})
        listing = alice.get("/v1/memories", params={"filters": json.dumps(filters)})
        for response in (search, listing):
            assert response.status_code == 403 and _code(response) == "scope_forbidden"
    # metadata filters work, and only ever inside alice's scope
    hits = alice.post("/v1/memories/search", json={"query": "secret", "filters": {"n": 1}})
    assert hits.status_code == 200 and hits.json()["results"] == []


def test_cursors_are_bound_to_their_scope(alice: httpx.Client, world: dict[str, object]) -> None:
    bob_cursor = world["bob_cursor"]
    assert isinstance(bob_cursor, str)
    response = alice.get("/v1/memories", params={"cursor": bob_cursor})
    assert response.status_code == 403 and _code(response) == "scope_forbidden"
    payload, _, mac = bob_cursor.partition(".")
    for forged in ("1", "0", "-1", "abc", payload, f"{payload}.{'0' * 32}", f"{payload}.{mac}x",
                   "%00", "." * 5):
        response = alice.get("/v1/memories", params={"cursor": forged})
        assert response.status_code == 422 and _code(response) == "validation_error", forged


def test_export_and_import_stay_in_scope(live: Live, alice: httpx.Client,
                                         world: dict[str, object]) -> None:
    admin = world["admin"]
    assert isinstance(admin, MemoryClient)
    bob_file = list(admin.export_lines(user_id="iso-bob"))
    # bob's export replayed under alice's key: refused whole, nothing written
    response = alice.post("/v1/import", content="\n".join(bob_file).encode(),
                          headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 403 and _code(response) == "scope_forbidden"
    # bob's ids relabelled as alice's: the import must not take over bob's memories
    relabelled = [bob_file[0]] + [
        line.replace('"user_id":"iso-bob"', '"user_id":"iso-alice"') for line in bob_file[1:]]
    response = alice.post("/v1/import", content="\n".join(relabelled).encode(),
                          headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 422, response.text  # the store refuses to move an id
    _bob_unchanged(world)
    exported = [json.loads(line) for line in alice.get("/v1/export").text.splitlines()[1:]]
    assert exported and {e["record"]["scope"]["user_id"] for e in exported} == {"iso-alice"}
    assert not set(world["bob_ids"]) & {e["record"]["id"] for e in exported}  # type: ignore[call-overload]


def test_import_cannot_write_into_another_memorys_history(
        alice: httpx.Client, world: dict[str, object]) -> None:
    lines = alice.get("/v1/export").text.splitlines()
    entry = json.loads(lines[1])
    entry["record"]["id"] = "f" * 32
    for h in entry["history"]:
        h["memory_id"], h["new_text"] = world["bob_ids"][0], "INJECTED"  # type: ignore[index]
    response = alice.post("/v1/import", content="\n".join([lines[0], json.dumps(entry)]).encode(),
                          headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 422 and _code(response) == "validation_error"
    admin = world["admin"]
    assert isinstance(admin, MemoryClient)
    bob_history = admin.history(world["bob_ids"][0], user_id="iso-bob")  # type: ignore[index]
    assert [h.new_text for h in bob_history] == ["bob secret 0"]
    assert alice.get(f"/v1/memories/{'f' * 32}").status_code == 404


def test_client_raises_typed_errors(live: Live, world: dict[str, object]) -> None:
    with MemoryClient(live.url, api_key=str(world["alice_key"])) as client:
        with pytest.raises(ScopeForbidden) as info:
            client.search("x", user_id="iso-bob")
        assert info.value.code == "scope_forbidden" and info.value.status == 403
        with pytest.raises(MemoryNotFound):
            client.get(world["bob_ids"][0])  # type: ignore[index]
        with pytest.raises(ScopeForbidden):
            list(client.export_lines(user_id="iso-bob"))
        with pytest.raises(ScopeForbidden):
            client.reset()
    _bob_unchanged(world)


def test_hostile_filters_are_refused_not_crashing(alice: httpx.Client) -> None:
    """A deeply nested filter overflowed SQLite's parser (502) and Python's recursion
    (500); the server bounds filters before any store sees them."""
    for depth in (20, 700, 990):
        tree = '{"NOT": ' * depth + '{"n": 1}' + "}" * depth
        search = alice.post("/v1/memories/search", content=f'{{"query": "x", "filters": {tree}}}',
                            headers={"content-type": "application/json"})
        listing = alice.get("/v1/memories", params={"filters": tree})
        for response in (search, listing):
            assert response.status_code == 422, (depth, response.text[:200])
            assert _code(response) == "validation_error"
    wide = {"OR": [{"n": i} for i in range(300)]}
    response = alice.post("/v1/memories/search", json={"query": "x", "filters": wide})
    assert response.status_code == 422

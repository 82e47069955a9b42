"""Load and isolation figures for memplane-server (not part of the test run).

    python -m tests.bench.server_load [--requests 4000] [--clients 32] [--tenants 100] [--workers 2]

Starts `uvicorn --workers N` on loopback (sqlite store, `hashing` embedder, a scripted
LLM that answers one ADD of the message for infer=True adds), gives each of the
tenants its own API key, and runs a fixed number of mixed requests from concurrent
clients: add (infer=False and infer=True), search, list, delete. It reports throughput,
p50/p99 per route, errors (must be 0), cross-tenant results (must be 0) and final
consistency (every acknowledged write present; each memory's history replays to its
state), then a search-only phase against in-process ``Memory.search`` on the same data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from memplane.llms.scripted import ScriptedLLM
from memplane.models import ChatMessage
from memplane.providers.base import LLMResponse

WORDS = ["coffee", "tea", "jazz", "chess", "padel", "lisbon", "porto", "kyoto", "ramen", "cello", "nurse", "cats", "hiking", "python", "rust", "piano", "garden", "cycling", "sushi", "tango", "opera"]


class EchoScriptedLLM(ScriptedLLM):
    """The scripted LLM, scripted to answer one new fact (ADD) to every add."""

    def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> LLMResponse:
        self.queue({"decisions": [{"event": "ADD", "text": f"User fact {uuid.uuid4().hex[:12]}"}]})
        return super().generate(messages, **kwargs)


def memory_config(tmp: Path) -> dict[str, Any]:
    return {"embedder": {"provider": "hashing", "config": {"dimension": 384}},
            "vector_store": {"provider": "sqlite", "config": {"path": str(tmp / "memory.db")}},
            "llm": "scripted"}


def make_app() -> Any:
    """uvicorn factory (each worker): the server with the echo-scripted LLM."""
    from memplane.async_memory import AsyncMemory
    from memplane_server.app import create_app
    from memplane_server.settings import ServerSettings

    settings = ServerSettings.from_env()
    return create_app(settings, memory=AsyncMemory(settings.memory_config, llm=EchoScriptedLLM()))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


class Load:
    def __init__(self, url: str, keys: dict[str, str], seed: int) -> None:
        self.url, self.keys = url, keys
        self.rng = random.Random(seed)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.cross_tenant = 0
        self.written: dict[str, dict[str, str]] = defaultdict(dict)  # tenant -> id -> text
        self.deleted: dict[str, set[str]] = defaultdict(set)

    def _check_scope(self, tenant: str, records: list[dict[str, Any]]) -> None:
        self.cross_tenant += sum(1 for r in records if r["scope"]["user_id"] != tenant)

    async def one(self, http: httpx.AsyncClient, op: str) -> None:
        tenant = self.rng.choice(list(self.keys))
        headers = {"Authorization": f"Bearer {self.keys[tenant]}"}
        words = " ".join(self.rng.sample(WORDS, 3))
        if op == "delete" and not (set(self.written[tenant]) - self.deleted[tenant]):
            op = "add"
        start = time.perf_counter()
        try:
            response = await self._send(http, op, tenant, headers, words)
        except httpx.TransportError as exc:  # counted, never hidden
            self.errors.append(f"{op} transport {type(exc).__name__}")
            return
        self.latency[op].append(time.perf_counter() - start)
        if response.status_code != 200:
            self.errors.append(f"{op} {response.status_code} {response.text[:200]}")
            return
        self._record(op, tenant, response.json())

    async def _send(self, http: httpx.AsyncClient, op: str, tenant: str,
                    headers: dict[str, str], words: str) -> httpx.Response:
        if op in ("add", "add_infer"):
            response = await http.post("/v1/memories", headers=headers, json={
                "messages": f"{tenant} likes {words}", "infer": op == "add_infer"})
        elif op == "search":
            response = await http.post("/v1/memories/search", headers=headers,
                                       json={"query": words, "limit": 5})
        elif op == "list":
            response = await http.get("/v1/memories", headers=headers, params={"limit": 20})
        elif op == "healthz":  # the HTTP floor: no auth, no memplane work
            response = await http.get("/healthz")
        else:
            victim = self.rng.choice(sorted(set(self.written[tenant]) - self.deleted[tenant]))
            self.deleted[tenant].add(victim)  # claimed before the await: no double delete
            response = await http.delete(f"/v1/memories/{victim}", headers=headers)
        return response

    def _record(self, op: str, tenant: str, data: Any) -> None:
        if op in ("add", "add_infer"):
            for event in data["events"]:
                if event["event"] == "ADD":
                    self.written[tenant][event["id"]] = event["text"]
                    self.cross_tenant += event["scope"]["user_id"] != tenant
        elif op == "search":
            self._check_scope(tenant, [h["record"] for h in data["results"]])
        elif op == "list":
            self._check_scope(tenant, data["records"])

    async def run(self, ops: list[str], clients: int) -> float:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for op in ops:
            queue.put_nowait(op)
        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(base_url=self.url, timeout=120, limits=limits) as http:

            async def worker() -> None:
                while not queue.empty():
                    await self.one(http, queue.get_nowait())

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(clients)))
            return time.perf_counter() - start


def consistency(url: str, admin: str, load: Load) -> dict[str, int]:
    """Every acknowledged write present (deleted ones soft-deleted), history replays."""
    missing = wrong_state = replay_mismatch = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"},
                      timeout=60) as http:
        for tenant, written in load.written.items():
            records: dict[str, Any] = {}
            cursor = None
            while True:
                params = {"user_id": tenant, "limit": 500, "include_deleted": "true",
                          **({"cursor": cursor} if cursor else {})}
                page = http.get("/v1/memories", params=params).json()
                records.update({r["id"]: r for r in page["records"]})
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            for mid, text in written.items():
                record = records.get(mid)
                if record is None:
                    missing += 1
                    continue
                if (record["deleted_at"] is not None) != (mid in load.deleted[tenant]) or (
                        record["text"] != text):
                    wrong_state += 1
                history = http.get(f"/v1/memories/{mid}/history",
                                   params={"user_id": tenant}).json()["history"]
                state_text, deleted = None, False
                for entry in history:
                    if entry["event"] in ("ADD", "UPDATE"):
                        state_text = entry["new_text"]
                    deleted = {"DELETE": True, "RESTORE": False}.get(entry["event"], deleted)
                if state_text != record["text"] or deleted != (record["deleted_at"] is not None):
                    replay_mismatch += 1
    return {"acknowledged_writes": sum(len(w) for w in load.written.values()),
            "missing": missing, "wrong_text_or_deleted_state": wrong_state,
            "history_replay_mismatch": replay_mismatch}


def in_process_search(config: dict[str, Any], tenants: list[str], n: int, seed: int) -> float:
    from memplane.memory import Memory

    rng = random.Random(seed)
    with Memory(config, llm=EchoScriptedLLM()) as memory:
        start = time.perf_counter()
        for _ in range(n):
            memory.search(" ".join(rng.sample(WORDS, 3)), user_id=rng.choice(tenants), limit=5)
        return n / (time.perf_counter() - start)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--search-requests", type=int, default=1000)
    parser.add_argument("--sequential", type=int, default=300,
                        help="searches from one client, against as many in-process ones")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=18931)
    args = parser.parse_args(argv)

    from memplane.models import Scope
    from memplane_server.db import ServerDB
    from memplane_server.keys import KeyStore
    from memplane_server.settings import SETTINGS_ENV, ServerSettings

    tmp = Path(tempfile.mkdtemp(prefix="memplane-load-"))
    config = memory_config(tmp)
    settings = ServerSettings(memory=config, keys_db=tmp / "server.db", rate_limit_per_minute=0)
    store = KeyStore(ServerDB(settings.keys_db))
    tenants = [f"tenant-{i:03d}" for i in range(args.tenants)]
    keys = {t: store.create(scopes=[Scope(user_id=t)])[0] for t in tenants}
    admin = store.create(scopes=[], admin=True)[0]
    url = f"http://127.0.0.1:{args.port}"
    env = {**os.environ, SETTINGS_ENV: settings.to_env(), "MEMPLANE_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "tests.bench.server_load:make_app",
                             "--factory", "--host", "127.0.0.1", "--port", str(args.port),
                             "--workers", str(args.workers), "--log-level", "warning",
                             "--timeout-keep-alive", "30"], env=env)
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        rng = random.Random(args.seed)
        mix = ["add"] * 30 + ["add_infer"] * 10 + ["search"] * 40 + ["list"] * 15 + ["delete"] * 5
        ops = [rng.choice(mix) for _ in range(args.requests)]
        load = Load(url, keys, args.seed)
        elapsed = asyncio.run(load.run(ops, args.clients))
        sequential = Load(url, keys, args.seed + 2)  # one client: overhead without queueing
        sequential_elapsed = asyncio.run(sequential.run(["search"] * args.sequential, 1))
        floor = Load(url, keys, args.seed + 3)
        floor_elapsed = asyncio.run(floor.run(["healthz"] * args.search_requests, args.clients))
        search_only = Load(url, keys, args.seed + 1)
        search_elapsed = asyncio.run(search_only.run(["search"] * args.search_requests,
                                                     args.clients))
        result = {
            "setup": {"requests": args.requests, "clients": args.clients, "tenants": args.tenants,
                      "workers": args.workers, "store": "sqlite", "embedder": "hashing (384)",
                      "llm": "scripted (ADD echo)", "cpus": os.cpu_count()},
            "mixed": {"seconds": round(elapsed, 2),
                      "requests_per_s": round(args.requests / elapsed, 1),
                      "routes": {op: {"n": len(v), "p50_ms": round(pct(v, 0.5), 1),
                                      "p99_ms": round(pct(v, 0.99), 1)}
                                 for op, v in sorted(load.latency.items())},
                      "errors": len(load.errors) + len(search_only.errors) + len(floor.errors),
                      "error_samples": (load.errors + search_only.errors + floor.errors)[:5],
                      "cross_tenant_results": load.cross_tenant + search_only.cross_tenant},
            "consistency": consistency(url, admin, load),
            "search": {"sequential_server_ms": round(sequential_elapsed / args.sequential * 1000, 2),
                       "server_per_s": round(args.search_requests / search_elapsed, 1),
                       "healthz_same_clients_per_s": round(args.search_requests / floor_elapsed, 1),
                       "server_p50_ms": round(pct(search_only.latency["search"], 0.5), 1),
                       "server_p99_ms": round(pct(search_only.latency["search"], 0.99), 1)},
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    inproc = in_process_search(config, tenants, args.search_requests, args.seed)
    result["search"]["sequential_in_process_ms"] = round(1000 / in_process_search(
        config, tenants, args.sequential, args.seed + 2), 2)
    result["search"]["in_process_per_s"] = round(inproc, 1)
    result["search"]["server_to_in_process"] = round(result["search"]["server_per_s"] / inproc, 2)
    result["load_average"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    ok = (result["mixed"]["errors"] == 0 and result["mixed"]["cross_tenant_results"] == 0
          and not any(v for k, v in result["consistency"].items() if k != "acknowledged_writes"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

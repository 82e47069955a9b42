"""The one call path: every provider call of Memory, AsyncMemory, the LLM reranker
and the CLI goes through :class:`CallRunner`, so the ``memplane_provider_call`` hook
(pluggy wrappers included) sees all of them, sync and async.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from memplane.pipeline.effects import Call, Flow, run_async, run_sync
from memplane.plugins.hooks import PluginManager, ProviderCall
from memplane.providers.base import Kind, Provider

if TYPE_CHECKING:
    from memplane.pipeline.identity_gate import EmbedderGate

T = TypeVar("T")
P = TypeVar("P", bound=Provider)

#: the provider methods that go through the runner, per kind.
ROUTED_METHODS: dict[Kind, tuple[str, ...]] = {
    "llms": ("generate",),
    "embedders": ("embed",),
    "vector_stores": (
        "open", "apply", "get", "list_records", "count", "search", "keyword_search",
        "search_candidates", "get_vectors", "delete", "history", "reset",
    ),
    "rerankers": ("rerank",),
}


class CallRunner:
    """Performs :class:`Call` values for one set of providers through the hooks."""

    def __init__(self, providers: Mapping[Kind, Provider | None], plugins: PluginManager,
                 gate: EmbedderGate | None = None) -> None:
        self.providers = dict(providers)
        self.plugins = plugins
        #: asked before each call: refuses vector calls a store's embedder record forbids
        self.gate = gate
        # the legacy memplane_wrap_call wrappers, applied once per method
        self._targets: dict[tuple[str, str], Callable[..., Any]] = {}
        for kind, provider in self.providers.items():
            if provider is None:
                continue
            for method in ROUTED_METHODS[kind]:
                for name in (method, "a" + method):
                    self._targets[(kind, name)] = plugins.wrap(
                        kind, name, provider, getattr(provider, name))

    def perform(self, call: Call) -> Any:
        if self.gate is not None:
            self.gate.before(call)
        target = self._targets[(call.kind, call.method)]
        args, kwargs = call.args, call.kwargs
        if not self.plugins.hooks_calls:  # no plugin would see it: skip pluggy's dispatch
            return target(*args, **kwargs)
        return self.plugins.call(ProviderCall(
            call.kind, call.method, self.providers[call.kind], args, kwargs,
            invoke=lambda: target(*args, **kwargs)))

    async def aperform(self, call: Call) -> Any:
        if self.gate is not None:
            await self.gate.abefore(call)
        target = self._targets[(call.kind, "a" + call.method)]
        args, kwargs = call.args, call.kwargs
        if not self.plugins.hooks_calls:  # no plugin would see it: skip the thread hop
            return await target(*args, **kwargs)
        loop = asyncio.get_running_loop()

        def on_the_loop() -> Any:
            # the hook runs in a worker thread; the provider coroutine on our loop
            return asyncio.run_coroutine_threadsafe(target(*args, **kwargs), loop).result()

        return await asyncio.to_thread(self.plugins.call, ProviderCall(
            call.kind, call.method, self.providers[call.kind], args, kwargs,
            is_async=True, invoke=on_the_loop))

    def run(self, flow: Flow[T]) -> T:
        return run_sync(flow, self.perform)

    async def arun(self, flow: Flow[T]) -> T:
        return await run_async(flow, self.aperform)

    def routed(self, kind: Kind, provider: P) -> P:
        """``provider`` as seen through the runner: its routed methods (sync and async)
        go through the hooks, everything else is the provider's own."""
        return cast(P, _Routed(self, kind, provider))


class _Routed:
    def __init__(self, runner: CallRunner, kind: Kind, provider: Provider) -> None:
        self._runner, self._kind, self._provider = runner, kind, provider

    def __getattr__(self, name: str) -> Any:
        methods = ROUTED_METHODS[self._kind]
        if name in methods:
            def sync(*args: Any, **kwargs: Any) -> Any:
                return self._runner.perform(Call(self._kind, name, args, kwargs))
            return sync
        if name.startswith("a") and name[1:] in methods:
            async def coro(*args: Any, **kwargs: Any) -> Any:
                return await self._runner.aperform(Call(self._kind, name[1:], args, kwargs))
            return coro
        return getattr(self._provider, name)

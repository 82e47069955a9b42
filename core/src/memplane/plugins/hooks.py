"""Cross-cutting hooks (pluggy), loaded from the ``memplane.plugins`` group.

Hook plugins can wrap every provider call (tracing, caching, retries, redaction),
observe applied memory events, and add CLI commands. Each plugin is registered on
its own: one that fails to import or register is recorded and skipped. Set
``MEMPLANE_DISABLE_PLUGIN_AUTOLOAD=1`` to register none automatically.
"""

from __future__ import annotations

import importlib.metadata as md
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from memplane.models import MemoryEvent

PROJECT = "memplane"
HOOK_GROUP = "memplane.plugins"
AUTOLOAD_ENV = "MEMPLANE_DISABLE_PLUGIN_AUTOLOAD"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
log = logging.getLogger(__name__)


@dataclass
class ProviderCall:
    """One provider call as hooks see it: ``kind`` (llms, embedders, vector_stores,
    rerankers), ``method`` (the sync name, also for async calls), the arguments, and
    ``is_async`` when an AsyncMemory made it. ``invoke()`` performs it."""

    kind: str
    method: str
    provider: Any
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    is_async: bool = False
    invoke: Callable[[], Any] = lambda: None


class _CoreCall:
    """The innermost implementation: performs the call. Wrappers (``wrapper=True``)
    run around it; a plugin returning a non-None result first (a cache) replaces it."""

    @hookimpl(trylast=True)
    def memplane_provider_call(self, call: ProviderCall) -> Any:
        return call.invoke()


class HookSpecs:
    @hookspec(firstresult=True)
    def memplane_provider_call(self, call: ProviderCall) -> Any:
        """Every provider call of Memory, AsyncMemory, the LLM reranker and the CLI
        (export/import) goes through this hook, sync and async alike (an async call
        runs the hook in a worker thread while the provider coroutine runs on the
        event loop). Implement it as a pluggy wrapper to trace, time or redact::

            @hookimpl(wrapper=True)
            def memplane_provider_call(self, call):
                started = time.perf_counter()
                result = yield  # the provider's result (or its exception is raised)
                record(call.kind, call.method, time.perf_counter() - started)
                return result
        """

    @hookspec
    def memplane_wrap_call(
        self, kind: str, method: str, provider: Any, call: Callable[..., Any]
    ) -> Callable[..., Any] | None:
        """Return a callable that wraps ``call`` (same signature), or None.

        Called once per provider method when a Memory is built; wrappers nest in
        registration order. ``kind`` is llms/embedders/vector_stores/rerankers.
        Kept for existing plugins; prefer ``memplane_provider_call`` (one hook for
        sync and async, with pluggy's ordering, wrappers and tracing).
        """

    @hookspec
    def memplane_memory_event(self, event: MemoryEvent) -> None:
        """Observe an ADD/UPDATE/DELETE/NONE event after it has been applied.

        Errors raised here are logged and never undo or fail the applied change.
        """

    @hookspec
    def memplane_cli_commands(self, subparsers: Any) -> None:
        """Add subcommands to the ``memplane`` CLI (an argparse subparsers object)."""


class PluginManager:
    """A typed facade over pluggy with per-plugin failure isolation."""

    def __init__(self, *, autoload: bool | None = None) -> None:
        self._pm = pluggy.PluginManager(PROJECT)
        self._pm.add_hookspecs(HookSpecs)
        self._pm.register(_CoreCall(), name="memplane.core")
        self.failures: dict[str, str] = {}
        if autoload is None:
            autoload = os.environ.get(AUTOLOAD_ENV, "") not in ("1", "true", "yes")
        if autoload:
            self.load_entry_points()

    def load_entry_points(self) -> None:
        for ep in sorted(md.entry_points(group=HOOK_GROUP), key=lambda e: e.name):
            if self._pm.get_plugin(ep.name) is not None:
                continue
            try:
                self._pm.register(ep.load(), name=ep.name)
            except Exception as exc:  # a broken plugin must not take down the others
                self.failures[ep.name] = f"{type(exc).__name__}: {exc}"
                log.warning("memplane hook plugin %r failed to load: %s", ep.name, exc)

    def register(self, plugin: object, name: str | None = None) -> None:
        self._pm.register(plugin, name=name)

    def unregister(self, plugin: object) -> None:
        self._pm.unregister(plugin)

    @property
    def plugin_names(self) -> list[str]:
        return [n for n, _ in self._pm.list_name_plugin() if n != "memplane.core"]

    @property
    def hooks_calls(self) -> bool:
        """Whether any plugin implements ``memplane_provider_call``."""
        return len(self._pm.hook.memplane_provider_call.get_hookimpls()) > 1

    def call(self, call: ProviderCall) -> Any:
        """Perform ``call`` through pluggy's hook calling (wrappers, order, tracing)."""
        return self._pm.hook.memplane_provider_call(call=call)

    def wrap(self, kind: str, method: str, provider: Any, call: Callable[..., Any]) -> Callable[..., Any]:
        impls = self._pm.hook.memplane_wrap_call.get_hookimpls()
        for impl in impls:  # pluggy lists them in registration order
            wrapped = impl.function(kind=kind, method=method, provider=provider, call=call)
            if callable(wrapped):
                call = wrapped
        return call

    def memory_event(self, event: MemoryEvent) -> None:
        for impl in self._pm.hook.memplane_memory_event.get_hookimpls():
            try:
                impl.function(event=event)
            except Exception:
                log.exception("memplane hook %r failed on a memory event", impl.plugin_name)

    def cli_commands(self, subparsers: Any) -> None:
        for impl in self._pm.hook.memplane_cli_commands.get_hookimpls():
            try:
                impl.function(subparsers=subparsers)
            except Exception as exc:
                self.failures[impl.plugin_name] = f"{type(exc).__name__}: {exc}"
                log.warning("memplane hook %r failed to add CLI commands: %s", impl.plugin_name, exc)

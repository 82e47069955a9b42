"""The memplane MCP server: tools and resources over ``AsyncMemory``'s public API.

Both transports build the server here and differ only in two callables: where the
``AsyncMemory`` comes from, and which scope a request is bound to (stdio: fixed at
start-up from configuration; HTTP: the API key's grant). No tool takes a scope
argument, so a model (or a prompt injected into it) can never pick a tenant.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypedDict, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from memplane import __version__ as memplane_version
from memplane.async_memory import AsyncMemory
from memplane.errors import (
    ConfigurationError,
    MemoryNotFound,
    MemplaneError,
    ProviderError,
    ProviderUnavailable,
    RateLimitError,
    ScopeRequired,
    UnsupportedCapability,
    ValidationError,
)
from memplane.models import (
    SCOPE_FIELDS,
    AddResult,
    HistoryEntry,
    MemoryEvent,
    MemoryRecord,
    Page,
    Scope,
    SearchHit,
)

# Caps on what one call may carry: a tool call is untrusted input (a model can be
# talked into sending anything), and each of these ends up in an LLM prompt, an
# embedding call or a store query.
MAX_TEXT_CHARS = 20_000
MAX_MESSAGES = 100
MAX_TOTAL_CHARS = 100_000
MAX_JSON_BYTES = 16_384
MAX_ID_CHARS = 256
MAX_CURSOR_CHARS = 2_048
MAX_SEARCH_LIMIT = 100
MAX_LIST_LIMIT = 200

T = TypeVar("T")
MemoryGetter = Callable[[], AsyncMemory]
#: the scope a request is bound to; raises ScopeRequired when there is none.
ScopeResolver = Callable[["Context[Any, Any]"], Scope]
#: called after each successful write tool with (ctx, operation, scope, memory ids):
#: the server records MCP writes in its audit log through it.
WriteRecorder = Callable[["Context[Any, Any]", str, Scope, list[str]], Awaitable[None]]


class ScopeArgs(TypedDict):
    """A scope as Memory's keyword arguments."""

    user_id: str | None
    agent_id: str | None
    run_id: str | None


def scope_args(scope: Scope) -> ScopeArgs:
    return ScopeArgs(user_id=scope.user_id, agent_id=scope.agent_id, run_id=scope.run_id)


class ToolFailure(Exception):
    """A refusal the MCP layer itself makes (before any Memory call)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- argument and result shapes --------------------------------------------------


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system", "tool"] = "user"
    content: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class SearchResults(BaseModel):
    """``search_memories``' result: the best hits first, scores in [0, 1]."""

    results: list[SearchHit]


class MemoryHistory(BaseModel):
    """``memory_history``' result: every change of one memory, oldest first."""

    memory_id: str
    history: list[HistoryEntry]


MemoryId = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, description="a memory's id")]


# --- errors ----------------------------------------------------------------------

# Most specific first; the codes are the REST API's (spec/server-api.md), so a client
# handles both surfaces alike.
_ERROR_CODES: tuple[tuple[type[Exception], str], ...] = (
    (MemoryNotFound, "memory_not_found"),
    (ScopeRequired, "scope_required"),
    (ValidationError, "validation_error"),
    (UnsupportedCapability, "unsupported"),
    (ConfigurationError, "configuration_error"),
    (RateLimitError, "rate_limited"),
    (ProviderUnavailable, "provider_unavailable"),
    (ProviderError, "provider_error"),
)


def error_code(exc: Exception) -> str:
    if isinstance(exc, ToolFailure):
        return exc.code
    for cls, code in _ERROR_CODES:
        if isinstance(exc, cls):
            return code
    return "error"


def error_result(exc: Exception) -> CallToolResult:
    """A tool error (isError) whose text is the core's own message, prefixed by a
    stable code. No structured content: it would not match the output schema."""
    text = f"{error_code(exc)}: {' '.join(str(exc).split())}"
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


# --- text renderings (what a model or a person reads) ----------------------------


def _record_line(record: MemoryRecord) -> str:
    state = " (deleted)" if record.deleted_at is not None else ""
    return f"[{record.id}]{state} {record.text}"


def render_add(result: AddResult) -> str:
    lines = [f"{e.event} [{e.id}] {e.text or ''}".rstrip() for e in result.events]
    lines += [f"diagnostic {d.code}: {d.message}" for d in result.diagnostics]
    return "\n".join(lines) or "nothing to remember (no changes)"


def render_search(results: SearchResults) -> str:
    return "\n".join(f"{h.score:.3f} {_record_line(h.record)}" for h in results.results) or "no memories found"


def render_page(page: Page) -> str:
    lines = [_record_line(r) for r in page.records] or ["no memories"]
    if page.next_cursor:
        lines.append(f"more: call list_memories with cursor={page.next_cursor}")
    return "\n".join(lines)


def render_event(event: MemoryEvent) -> str:
    if event.event == "UPDATE":
        return f"UPDATE [{event.id}] {event.previous_text!r} -> {event.text!r}"
    return f"{event.event} [{event.id}] {event.text or ''}".rstrip()


def render_history(history: MemoryHistory) -> str:
    lines = []
    for h in history.history:
        change = h.new_text if h.old_text is None else f"{h.old_text!r} -> {h.new_text!r}"
        lines.append(f"{h.at.isoformat()} {h.event.value} {change or ''}".rstrip())
    return "\n".join(lines) or "no history"


def _structured(model: BaseModel, text: str) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json"),
    )


# --- argument checks -------------------------------------------------------------


def _json_size(value: Any, name: str) -> None:
    try:
        size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))
    except (TypeError, ValueError) as exc:  # pragma: no cover - pydantic gave us JSON already
        raise ToolFailure("validation_error", f"{name} must be JSON: {exc}") from None
    if size > MAX_JSON_BYTES:
        raise ToolFailure("validation_error", f"{name} is {size} bytes; the limit is {MAX_JSON_BYTES}")


def _scope_keys(value: Any) -> set[str]:
    """Keys named like a scope field anywhere in a nested dict/list."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        for key, item in value.items():
            bare = str(key).removeprefix("metadata.")
            if bare in SCOPE_FIELDS:
                found.add(str(key))
            found |= _scope_keys(item)
    elif isinstance(value, list):
        for item in value:
            found |= _scope_keys(item)
    return found


def _no_scope_keys(value: Any, name: str) -> None:
    # Refused rather than stored: a model told to "save this for bob" or "search
    # user_id=bob" must learn that the scope is not its to choose, and a metadata
    # key named user_id would look like one to whoever reads the memory later.
    keys = _scope_keys(value)
    if keys:
        raise ToolFailure(
            "validation_error",
            f"{name} may not use {', '.join(sorted(keys))}: the scope comes from the "
            "connection (configuration or API key), never from tool arguments",
        )


def _messages(text: str | None, messages: list[Message] | None) -> str | list[dict[str, Any]]:
    if (text is None) == (messages is None):
        raise ToolFailure("validation_error", "add_memory takes either text or messages (exactly one)")
    if text is not None:
        return text
    assert messages is not None
    if not messages:
        raise ToolFailure("validation_error", "messages must not be empty")
    total = sum(len(m.content) for m in messages)
    if total > MAX_TOTAL_CHARS:
        raise ToolFailure("validation_error", f"messages hold {total} characters; the limit is {MAX_TOTAL_CHARS}")
    return [m.model_dump() for m in messages]


def _inside(scope: Scope, record_scope: Scope) -> None:
    # The core already filters by scope; checking again here means a store bug
    # cannot turn into a cross-tenant answer through this surface (fail closed).
    if not scope.matches(record_scope):
        raise ToolFailure("scope_violation", "refused: the store returned a memory outside this "
                          "connection's scope (a store bug); nothing was returned")


# --- the server ------------------------------------------------------------------

INSTRUCTIONS = """\
Long-term memory for the person (or agent) this connection belongs to. Call
search_memories before answering questions that may depend on what you were told
earlier; call add_memory with what the user says so facts are remembered, updated
when they change, and forgotten when retracted. Every tool works inside one fixed
scope chosen by the connection; no argument can reach another user's memories."""


def _written_ids(value: object) -> list[str]:
    """The memory ids a write tool's result names (NONE events changed nothing)."""
    if isinstance(value, AddResult):
        return [e.id for e in value.events if e.id and e.event != "NONE"]
    if isinstance(value, MemoryEvent):
        return [value.id] if value.id else []
    if isinstance(value, MemoryRecord):
        return [value.id]
    return []


def build_server(memory: MemoryGetter, scope_of: ScopeResolver, *, name: str = "memplane",
                 on_write: WriteRecorder | None = None) -> MCPServer[Any]:
    """An MCPServer whose tools run against ``memory()`` inside ``scope_of(ctx)``;
    ``on_write`` (optional) hears of every successful write."""
    # MCPServer() calls logging.basicConfig on the root logger; an app that mounts
    # us keeps its own logging set-up (stdio configures stderr logging itself).
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        server: MCPServer[Any] = MCPServer(name, instructions=INSTRUCTIONS, version=memplane_version)
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers

    async def run(ctx: Context[Any, Any], op: Callable[[AsyncMemory, ScopeArgs], Awaitable[T]],
                  render: Callable[[T], tuple[BaseModel, str]], *,
                  write: str | None = None) -> CallToolResult:
        try:
            scope = scope_of(ctx)
            value = await op(memory(), scope_args(scope))
            model, text = render(value)
        except (MemplaneError, ToolFailure) as exc:
            return error_result(exc)
        if write is not None and on_write is not None:
            await on_write(ctx, write, scope, _written_ids(value))
        return _structured(model, text)

    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
    writes = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)

    @server.tool(annotations=writes)
    async def add_memory(
        ctx: Context[Any, Any],
        text: Annotated[str | None, Field(
            min_length=1, max_length=MAX_TEXT_CHARS, description="one user message (or give messages)")] = None,
        messages: Annotated[list[Message] | None, Field(
            max_length=MAX_MESSAGES, description="a conversation: [{role, content}, ...]")] = None,
        metadata: Annotated[dict[str, Any] | None, Field(
            description="stored with every memory this call creates")] = None,
        observed_at: Annotated[datetime | None, Field(
            description="when it was said (ISO 8601), for back-filling old conversations")] = None,
        infer: Annotated[bool, Field(
            description="true: the memory LLM decides what to ADD/UPDATE/DELETE; "
            "false: store the text verbatim as one memory")] = True,
    ) -> Annotated[CallToolResult, AddResult]:
        """Remember what a conversation says. The memory LLM compares it with what is
        already known and ADDs new facts, UPDATEs changed ones (old text kept in
        history), DELETEs retracted ones (restorable) or does nothing (NONE).
        Returns the applied events with each memory's id."""
        async def op(m: AsyncMemory, scope: ScopeArgs) -> AddResult:
            payload = _messages(text, messages)
            if metadata is not None:
                _json_size(metadata, "metadata")
                _no_scope_keys(metadata, "metadata")
            return await m.add(payload, metadata=metadata, observed_at=observed_at, infer=infer, **scope)

        return await run(ctx, op, lambda r: (r, render_add(r)), write="add")

    @server.tool(annotations=read_only)
    async def search_memories(
        ctx: Context[Any, Any],
        query: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)],
        filters: Annotated[dict[str, Any] | None, Field(
            description='metadata filter, e.g. {"topic": "food", "stars": {"gte": 3}}; '
            "operators eq ne in nin gt gte lt lte contains exists, AND/OR/NOT")] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_SEARCH_LIMIT)] = 10,
        as_of: Annotated[datetime | None, Field(
            description="search as of this ISO 8601 time: memories observed later are not "
            "found, recency counts back from it")] = None,
        max_age_days: Annotated[float | None, Field(
            gt=0, description="only memories observed within this many days before as_of (else now)")] = None,
    ) -> Annotated[CallToolResult, SearchResults]:
        """Find the memories most relevant to a query, best first, each with a
        similarity score in [0, 1]."""
        async def op(m: AsyncMemory, scope: ScopeArgs) -> SearchResults:
            if filters is not None:
                _json_size(filters, "filters")
                _no_scope_keys(filters, "filters")
            hits = await m.search(query, filters=filters, limit=limit, as_of=as_of,
                                  max_age_days=max_age_days, **scope)
            bound = Scope(**scope)
            for hit in hits:
                _inside(bound, hit.record.scope)
            return SearchResults(results=hits)

        return await run(ctx, op, lambda r: (r, render_search(r)))

    @server.tool(annotations=read_only)
    async def list_memories(
        ctx: Context[Any, Any],
        cursor: Annotated[str | None, Field(
            max_length=MAX_CURSOR_CHARS, description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_LIST_LIMIT)] = 50,
        include_deleted: Annotated[bool, Field(description="also list deleted (restorable) memories")] = False,
    ) -> Annotated[CallToolResult, Page]:
        """List the memories page by page; pass next_cursor back for the next page."""
        async def op(m: AsyncMemory, scope: ScopeArgs) -> Page:
            page = await m.get_all(cursor=cursor, limit=limit, include_deleted=include_deleted, **scope)
            bound = Scope(**scope)
            for record in page.records:
                _inside(bound, record.scope)
            return page

        return await run(ctx, op, lambda r: (r, render_page(r)))

    @server.tool(annotations=read_only)
    async def get_memory(
        ctx: Context[Any, Any], memory_id: MemoryId,
        include_deleted: Annotated[bool, Field(description="also return a deleted memory")] = False,
    ) -> Annotated[CallToolResult, MemoryRecord]:
        """One memory by id, with its metadata and timestamps."""
        async def op(m: AsyncMemory, scope: ScopeArgs) -> MemoryRecord:
            record = await m.get(memory_id, include_deleted=include_deleted, **scope)
            _inside(Scope(**scope), record.scope)
            return record

        return await run(ctx, op, lambda r: (r, _record_line(r)))

    @server.tool(annotations=writes)
    async def update_memory(
        ctx: Context[Any, Any], memory_id: MemoryId,
        text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)],
        metadata: Annotated[dict[str, Any] | None, Field(
            description="entries merged into the memory's metadata")] = None,
    ) -> Annotated[CallToolResult, MemoryEvent]:
        """Replace a memory's text (the old text stays in its history)."""
        async def op(m: AsyncMemory, scope: ScopeArgs) -> MemoryEvent:
            if metadata is not None:
                _json_size(metadata, "metadata")
                _no_scope_keys(metadata, "metadata")
            return await m.update(memory_id, text, metadata=metadata, **scope)

        return await run(ctx, op, lambda r: (r, render_event(r)), write="update")

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True,
                                             idempotent_hint=True, open_world_hint=False))
    async def delete_memory(ctx: Context[Any, Any], memory_id: MemoryId) -> Annotated[CallToolResult, MemoryEvent]:
        """Delete a memory. Soft: it disappears from search and lists but stays in
        its history and can be brought back with restore_memory."""
        async def op(m: AsyncMemory, scope: ScopeArgs) -> MemoryEvent:
            return await m.delete(memory_id, **scope)

        return await run(ctx, op, lambda r: (r, render_event(r)), write="delete")

    @server.tool(annotations=writes)
    async def restore_memory(ctx: Context[Any, Any], memory_id: MemoryId) -> Annotated[CallToolResult, MemoryRecord]:
        """Bring back a deleted memory."""
        async def op(m: AsyncMemory, scope: ScopeArgs) -> MemoryRecord:
            return await m.restore(memory_id, **scope)

        return await run(ctx, op, lambda r: (r, "RESTORE " + _record_line(r)), write="restore")

    @server.tool(annotations=read_only)
    async def memory_history(ctx: Context[Any, Any], memory_id: MemoryId) -> Annotated[CallToolResult, MemoryHistory]:
        """Every change of one memory (ADD, UPDATE, DELETE, RESTORE), oldest first."""
        async def op(m: AsyncMemory, scope: ScopeArgs) -> MemoryHistory:
            return MemoryHistory(memory_id=memory_id, history=await m.history(memory_id, **scope))

        return await run(ctx, op, lambda r: (r, render_history(r)))

    # Resources let a client attach a memory (or its history) to a conversation by
    # URI without a tool call; same scope binding, same not-found for other scopes.
    async def read(ctx: Context[Any, Any], fetch: Callable[[AsyncMemory, ScopeArgs], Awaitable[BaseModel]]) -> str:
        try:
            scope = scope_of(ctx)
            return (await fetch(memory(), scope_args(scope))).model_dump_json(indent=2)
        except MemoryNotFound as exc:
            raise ResourceNotFoundError(str(exc)) from None
        except (MemplaneError, ToolFailure) as exc:
            raise ResourceError(f"{error_code(exc)}: {exc}") from None

    @server.resource("memory://{memory_id}", name="memory", mime_type="application/json",
                     description="one memory as JSON (same shape as get_memory)")
    async def memory_resource(memory_id: str, ctx: Context[Any, Any]) -> str:
        async def fetch(m: AsyncMemory, scope: ScopeArgs) -> BaseModel:
            record = await m.get(memory_id, **scope)
            _inside(Scope(**scope), record.scope)
            return record

        return await read(ctx, fetch)

    @server.resource("memory://{memory_id}/history", name="memory-history", mime_type="application/json",
                     description="a memory's change history as JSON (same shape as memory_history)")
    async def history_resource(memory_id: str, ctx: Context[Any, Any]) -> str:
        async def fetch(m: AsyncMemory, scope: ScopeArgs) -> BaseModel:
            return MemoryHistory(memory_id=memory_id, history=await m.history(memory_id, **scope))

        return await read(ctx, fetch)

    return server

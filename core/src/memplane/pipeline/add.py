"""The ``add`` pipeline as a flow of provider calls (see :mod:`memplane.pipeline.effects`).

Single pass (default)::

    embed new messages -> retrieve top-k memories of the scope -> one LLM call
    (DecisionList schema) -> parse -> plan (id map, checks) -> embed new texts
    -> ONE vector_store.apply(changes)

Two-pass mode first asks for a :class:`~memplane.models.FactList`, retrieves per
fact, then runs the same decision call with the facts as the new input.

Nothing is written before the single ``apply``; an exception anywhere before it
leaves the store untouched, and a store with ``atomic_apply`` lands the batch
all-or-nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from memplane.config import PipelineConfig
from memplane.errors import Conflict, DuplicateMemory
from memplane.models import (
    AddResult,
    Change,
    ChatMessage,
    DecisionList,
    Diagnostic,
    FactList,
    HistoryEntry,
    HistoryEvent,
    MemoryEvent,
    MemoryRecord,
    Provenance,
    Scope,
    SearchHit,
    Usage,
    text_hash,
)
from memplane.pipeline import calls, prompts
from memplane.pipeline.decide import IdMap, Plan, Step, plan_decisions
from memplane.pipeline.effects import Flow
from memplane.pipeline.parsing import (
    REJECTED,
    ParsedDecisions,
    ReplyUnusable,
    note,
    parse_decisions,
    parse_facts,
)
from memplane.providers.base import LLMResponse, Purpose
from memplane.tokens import estimate_tokens

DECISIONS_SCHEMA = DecisionList.model_json_schema()
FACTS_SCHEMA = FactList.model_json_schema()
_SCHEMA_TOKENS = {
    "decisions": estimate_tokens(json.dumps(DECISIONS_SCHEMA)),
    "facts": estimate_tokens(json.dumps(FACTS_SCHEMA)),
}
SOURCE_ROLES = ("user", "assistant")

P = TypeVar("P")


@dataclass(frozen=True)
class MessageFields:
    """One message's metadata and observed_at, already merged over the call's."""

    metadata: dict[str, Any]
    observed_at: datetime | None
    #: the message's own metadata and time (before the merge), for memories made
    #: from several messages
    own_metadata: dict[str, Any] = field(default_factory=dict)
    own_observed_at: datetime | None = None


@dataclass
class AddRequest:
    messages: list[ChatMessage]
    scope: Scope
    settings: PipelineConfig
    now: datetime
    metadata: dict[str, Any] = field(default_factory=dict)
    infer: bool = True
    observed_at: datetime | None = None
    expires_at: datetime | None = None
    #: name of the LLM provider (recorded as the history actor).
    llm_name: str = "llm"
    #: whether the LLM receives the schema natively (it then costs prompt tokens).
    schema_in_request: bool = True
    #: per message (aligned with ``messages``; empty: the call's for every message)
    fields: list[MessageFields] = field(default_factory=list)

    def fields_for(self, sources: Sequence[ChatMessage]) -> MessageFields:
        """The fields of a memory made from ``sources``: their metadata merged in
        message order over the call's (a later message wins a key), and the newest
        of their observed_at (the call's when none has one)."""
        by_message = {id(m): f for m, f in zip(self.messages, self.fields, strict=False)}
        own = [by_message[id(m)] for m in sources if id(m) in by_message]
        if not own:
            return MessageFields(dict(self.metadata), self.observed_at)
        metadata: dict[str, Any] = dict(self.metadata)
        for f in own:
            metadata.update(f.own_metadata)
        times = [f.own_observed_at for f in own if f.own_observed_at is not None]
        return MessageFields(metadata, max(times) if times else self.observed_at)


@dataclass
class _State:
    usage: Usage = field(default_factory=Usage)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: document vectors by text, so a re-plan after a Conflict does not embed again
    embedded: dict[str, list[float]] = field(default_factory=dict)


def add_flow(req: AddRequest) -> Flow[AddResult]:
    state = _State()
    sources = [m for m in req.messages if m.role in SOURCE_ROLES and m.content.strip()]
    ignored = len(req.messages) - len(sources)
    if ignored:
        state.diagnostics.append(
            note("ignored_messages", f"{ignored} message(s) ignored (empty, system or tool)", "info")
        )
    if not sources:
        return _result([], state)
    if not req.infer:
        events = yield from _store_verbatim(req, sources, state)
        return _result(events, state)

    if req.settings.mode == "two_pass":
        facts = yield from _extract_facts(req, sources, state)
        if not facts:
            return _result([], state)
        probes = facts
        new_items = [{"role": "fact", "content": f} for f in facts]
    else:
        probes = [m.content for m in sources]
        new_items = prompts.message_items(sources)

    vectors = yield from _embed(probes, "query", state)
    events = yield from _decide_and_apply(req, probes, new_items, vectors, sources, state, replan=True)
    return _result(events, state)


def _decide_and_apply(
    req: AddRequest, probes: list[str], new_items: list[dict[str, str]],
    vectors: list[list[float]], sources: list[ChatMessage], state: _State, *, replan: bool,
) -> Flow[list[MemoryEvent]]:
    """Retrieve, ask the LLM, plan, apply. The apply is compare-and-set: when another
    writer got there first (Conflict), re-read and re-plan once — asking the LLM
    again only if a memory the plan decided on changed — then let Conflict through."""
    existing = yield from _related(vectors, req.scope, req.settings.top_k)

    # Exact duplicates of known memories need no LLM call.
    known = {r.hash: r for r in existing}
    if all(text_hash(p) in known for p in probes):
        return _unique_events([_none_event(known[text_hash(p)], "already known") for p in probes])

    ids = IdMap(existing)
    template = req.settings.custom_update_prompt or prompts.DEFAULT_UPDATE_PROMPT
    request = prompts.update_request(template, ids.shown(), new_items, req.now.date())
    parsed = yield from _ask(req, request, "decisions", parse_decisions, state)
    if parsed is None:
        return []
    state.diagnostics.extend(parsed.invalid)
    plan = plan_decisions(parsed.decisions, ids, invalid_items=len(parsed.invalid))
    state.diagnostics.extend(plan.diagnostics)
    try:
        return (yield from _apply_plan(req, plan, sources, state))
    except Conflict as exc:
        if not replan:
            raise
        state.diagnostics.append(note("conflict_retry", f"re-planned after a concurrent write ({exc})", "info"))
        if (yield from _decided_on_changed(plan, req.scope)):
            return (yield from _decide_and_apply(req, probes, new_items, vectors, sources, state, replan=False))
        plan = yield from _without_known_adds(plan, req.scope, state)
        return (yield from _apply_plan(req, plan, sources, state))


def _decided_on_changed(plan: Plan, scope: Scope) -> Flow[bool]:
    """Whether a memory the plan updates, deletes or keeps is no longer as read."""
    targets = {s.target.id: s.target for s in plan.steps if s.target is not None}
    if not targets:
        return False
    current = yield from calls.get(list(targets), scope, include_deleted=True)
    now = {r.id: r for r in current if scope.matches(r.scope)}
    return any(rid not in now or now[rid].version != t.version for rid, t in targets.items())


def _without_known_adds(plan: Plan, scope: Scope, state: _State) -> Flow[Plan]:
    """The plan with every ADD whose text a live memory of the scope now holds
    (another writer added it meanwhile) turned into NONE on that memory."""
    steps: list[Step] = []
    for step in plan.steps:
        vector = state.embedded.get(step.text or "") if step.event == "ADD" else None
        if vector is not None and step.text is not None:
            owner = yield from _live_with_hash(vector, text_hash(step.text), scope)
            if owner is not None:
                steps.append(Step(event="NONE", target=owner, reason="added concurrently"))
                continue
        steps.append(step)
    return Plan(steps=steps, diagnostics=plan.diagnostics)


def _live_with_hash(vector: list[float], hash_: str, scope: Scope) -> Flow[MemoryRecord | None]:
    # the same text embeds to the same vector: the owner is among the nearest hits
    hits = yield from calls.search(vector, scope, limit=5)
    return next((h.record for h in hits if h.record.hash == hash_ and h.record.scope == scope), None)


# --- steps ---------------------------------------------------------------------


def _embed(texts: Sequence[str], purpose: Purpose, state: _State) -> Flow[list[list[float]]]:
    """One embedding call, texts sent shortest first: local embedders pad each batch to
    its longest text, so a batch mixing short turns with long answers would cost every
    short one a long one's compute (measured: 150 assist turns took 42.8 s in the given
    order, 22.1 s sorted). The vectors come back in the given order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = yield from calls.embed([texts[i] for i in order], purpose)
    state.usage.add(vectors.usage)
    out: list[list[float]] = [[] for _ in texts]
    for position, i in enumerate(order):
        out[i] = list(vectors[position])
    return out


def _related(vectors: Sequence[Sequence[float]], scope: Scope, top_k: int) -> Flow[list[MemoryRecord]]:
    """The top-k memories of the scope closest to any of the probe vectors."""
    if top_k <= 0:
        return []
    best: dict[str, SearchHit] = {}
    for vector in vectors:
        hits = yield from calls.search(vector, scope, limit=top_k)
        for hit in hits:
            if not scope.matches(hit.record.scope):  # the core re-checks every result
                continue
            if hit.id not in best or hit.score > best[hit.id].score:
                best[hit.id] = hit
    ranked = sorted(best.values(), key=lambda h: -h.score)[:top_k]
    return [h.record for h in ranked]


def _count_llm_usage(
    req: AddRequest, request: Sequence[ChatMessage], response: LLMResponse, schema: str, state: _State
) -> None:
    state.usage.llm_calls += 1
    prompt = response.usage.prompt_tokens
    if prompt <= 0:
        prompt = sum(estimate_tokens(m.content) for m in request)
        prompt += _SCHEMA_TOKENS[schema] if req.schema_in_request else 0
    completion = response.usage.completion_tokens
    if completion <= 0:
        reply = response.text or (json.dumps(response.structured) if response.structured else "")
        completion = estimate_tokens(reply)
    state.usage.prompt_tokens += prompt
    state.usage.completion_tokens += completion


def _ask(
    req: AddRequest,
    request: list[ChatMessage],
    schema: str,
    parse: Callable[[LLMResponse], P],
    state: _State,
) -> Flow[P | None]:
    """One LLM call plus at most ``max_repair_retries`` repairs.

    Returns the first fully valid reply; else the latest reply that at least had the
    expected shape (its invalid items become diagnostics); else None, meaning no
    attempt was usable and nothing may be written.
    """
    json_schema = DECISIONS_SCHEMA if schema == "decisions" else FACTS_SCHEMA
    best: P | None = None
    attempts = req.settings.max_repair_retries + 1
    error = ""
    for attempt in range(attempts):
        if attempt:
            state.diagnostics.append(note("repair_retry", f"asked the LLM again because {error}"))
        response = yield from calls.generate(
            request, json_schema=json_schema, schema_name=schema, max_tokens=req.settings.max_tokens)
        _count_llm_usage(req, request, response, schema, state)
        reply_text = response.text or json.dumps(response.structured or {})
        try:
            parsed = parse(response)
        except ReplyUnusable as exc:
            error = str(exc)
            if best is None and attempt == attempts - 1:
                state.diagnostics.append(
                    note("unusable_reply", f"the LLM reply could not be used ({error}); nothing was written",
                         REJECTED, reply=reply_text[:500], attempts=attempts)
                )
        else:
            invalid = _invalid_items(parsed)
            best = parsed
            if not invalid:
                break
            error = "; ".join(d.message for d in invalid[:5])
        request = prompts.repair_request(request, reply_text, error)
    if best is not None:
        _keep_notes(best, state)
    return best


def _invalid_items(parsed: object) -> list[Diagnostic]:
    if isinstance(parsed, ParsedDecisions):
        return parsed.invalid
    if isinstance(parsed, tuple):
        return list(parsed[2])
    return []


def _keep_notes(parsed: object, state: _State) -> None:
    if isinstance(parsed, ParsedDecisions):
        state.diagnostics.extend(parsed.notes)
    elif isinstance(parsed, tuple):
        state.diagnostics.extend(parsed[1])
        state.diagnostics.extend(parsed[2])


def _extract_facts(req: AddRequest, sources: list[ChatMessage], state: _State) -> Flow[list[str]]:
    template = req.settings.custom_extraction_prompt or prompts.DEFAULT_EXTRACTION_PROMPT
    request = prompts.extraction_request(template, sources, req.now.date())
    parsed = yield from _ask(req, request, "facts", parse_facts, state)
    if parsed is None:
        return []
    facts, _, _ = parsed
    unique: dict[str, str] = {}
    for fact in facts:
        unique.setdefault(text_hash(fact), fact)
    return list(unique.values())


# --- applying ------------------------------------------------------------------


def _attribution(sources: Sequence[ChatMessage]) -> str | None:
    roles = {m.role for m in sources}
    return next(iter(roles)) if len(roles) == 1 else None


def _provenance(sources: Sequence[ChatMessage]) -> list[Provenance]:
    return [Provenance(role=m.role, content=m.content, name=m.name) for m in sources]


def _new_record(req: AddRequest, text: str, sources: Sequence[ChatMessage], attributed_to: str | None) -> MemoryRecord:
    fields = req.fields_for(sources)
    return MemoryRecord(
        text=text,
        scope=req.scope,
        metadata=fields.metadata,
        created_at=req.now,
        updated_at=req.now,
        observed_at=fields.observed_at,
        expires_at=req.expires_at,
        source=_provenance(sources),
        attributed_to=attributed_to,
    )


def _store_verbatim(req: AddRequest, sources: list[ChatMessage], state: _State) -> Flow[list[MemoryEvent]]:
    """infer=False: one memory per message, exactly as given, no LLM call."""
    seen: set[str] = set()
    unique = []
    for message in sources:  # one memory per distinct text (the first one's fields): hashes are unique
        if text_hash(message.content) not in seen:
            seen.add(text_hash(message.content))
            unique.append(message)
    vectors = yield from _embed([m.content for m in unique], "document", state)
    for attempt in range(2):  # the store refuses a text the scope holds live: NONE
        changes: list[Change] = []
        events: list[MemoryEvent] = []
        for message, vector in zip(unique, vectors, strict=True):
            owner = (yield from _live_with_hash(vector, text_hash(message.content), req.scope)) \
                if attempt else None
            if owner is not None:
                events.append(_none_event(owner, "already known"))
                continue
            record = _new_record(req, message.content, [message], message.role)
            changes.append(_change(record, vector, HistoryEvent.ADD, None, record.text, "api", None, req.now))
            events.append(MemoryEvent(event="ADD", id=record.id, text=record.text, scope=req.scope))
        if not changes:
            return events
        try:
            yield from calls.apply(changes)
        except DuplicateMemory:
            if attempt:
                raise
            continue
        return events
    raise AssertionError("unreachable")  # pragma: no cover


def _change(
    record: MemoryRecord, vector: list[float] | None, event: HistoryEvent,
    old: str | None, new: str | None, actor: str, reason: str | None, at: datetime,
    expected_version: int | None = None,
) -> Change:
    """``expected_version`` None creates; else the version the plan read (CAS)."""
    return Change(
        record=record,
        vector=vector,
        history=HistoryEntry(memory_id=record.id, event=event, old_text=old, new_text=new,
                             at=at, actor=actor, reason=reason),
        expected_version=expected_version,
    )


def _apply_plan(
    req: AddRequest, plan: Plan, sources: list[ChatMessage], state: _State
) -> Flow[list[MemoryEvent]]:
    texts = [s.text for s in plan.writes() if s.event in ("ADD", "UPDATE") and s.text
             and s.text not in state.embedded]
    vectors = (yield from _embed(texts, "document", state)) if texts else []
    state.embedded.update(zip(texts, vectors, strict=True))
    by_text = state.embedded
    actor = f"llm:{req.llm_name}"
    default_attribution = _attribution(sources)
    changes: list[Change] = []
    events: list[MemoryEvent] = []
    for step in plan.steps:
        if step.event == "NONE":
            if step.target is not None:
                events.append(_none_event(step.target, step.reason))
            continue
        if step.event == "ADD":
            assert step.text is not None
            record = _new_record(req, step.text, sources, step.attributed_to or default_attribution)
            changes.append(_change(record, by_text[step.text], HistoryEvent.ADD, None, step.text, actor, step.reason, req.now))
            events.append(MemoryEvent(event="ADD", id=record.id, text=record.text, reason=step.reason, scope=record.scope))
            continue
        target = step.target
        assert target is not None
        if step.event == "UPDATE":
            assert step.text is not None
            fields = req.fields_for(sources)
            updated = target.model_copy(update={
                "text": step.text,
                "hash": text_hash(step.text),
                "updated_at": req.now,
                "metadata": {**target.metadata, **fields.metadata},
                "observed_at": fields.observed_at or target.observed_at,
                "source": [*target.source, *_provenance(sources)],
                "version": target.version + 1,
            })
            changes.append(_change(updated, by_text[step.text], HistoryEvent.UPDATE, target.text, step.text, actor, step.reason, req.now, target.version))
            events.append(MemoryEvent(event="UPDATE", id=target.id, text=step.text, previous_text=target.text, reason=step.reason, scope=target.scope))
        else:  # DELETE: soft, restorable
            deleted = target.model_copy(update={"deleted_at": req.now, "updated_at": req.now,
                                                "version": target.version + 1})
            changes.append(_change(deleted, None, HistoryEvent.DELETE, target.text, None, actor, step.reason, req.now, target.version))
            events.append(MemoryEvent(event="DELETE", id=target.id, text=target.text, previous_text=target.text, reason=step.reason, scope=target.scope))
    if changes:
        yield from calls.apply(changes)
    return events


def _none_event(record: MemoryRecord, reason: str | None) -> MemoryEvent:
    return MemoryEvent(event="NONE", id=record.id, text=record.text, reason=reason, scope=record.scope)


def _unique_events(events: list[MemoryEvent]) -> list[MemoryEvent]:
    seen: set[tuple[str, str | None]] = set()
    out = []
    for e in events:
        if (e.event, e.id) not in seen:
            seen.add((e.event, e.id))
            out.append(e)
    return out


def _result(events: list[MemoryEvent], state: _State) -> AddResult:
    return AddResult(events=events, usage=state.usage, diagnostics=state.diagnostics)

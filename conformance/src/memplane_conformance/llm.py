"""``LLMContract``: the behaviour every ``memplane.llms`` provider owes.

Subclass it and supply two fixtures::

    import pytest
    from memplane_conformance import LLMContract
    from memplane_openai.testing import OpenAILoopback

    class TestOpenAIContract(LLMContract):
        @pytest.fixture
        def scripted_endpoint(self):
            with OpenAILoopback() as server:      # a ScriptedEndpoint on 127.0.0.1
                yield server

        @pytest.fixture
        def llm_factory(self, scripted_endpoint):
            def make(**overrides):                # the suite passes max_retries=N
                return OpenAILLM({"base_url": scripted_endpoint.base_url,
                                  "api_key": "sk-loopback", "timeout": 1.0, **overrides})
            return make

        @pytest.fixture
        def live_llm_factory(self):               # optional: the real API
            if not os.environ.get("OPENAI_API_KEY"):
                return None                       # live tests skip, naming the reason
            return lambda **overrides: OpenAILLM({"model": "gpt-4o-mini", **overrides})

The scripted tests drive the real pipeline (``memplane.memory.Memory`` with the
``hashing`` embedder and the ``memory`` store) against every reply shape models
produce, inject faults, and count requests at the endpoint. The ``live`` tests
(:class:`LLMBehaviourContract`, included here) run behavioural scenarios against the
real service.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from memplane.errors import (
    AuthenticationError,
    MemplaneError,
    ProviderError,
    ProviderTimeout,
    RateLimitError,
)
from memplane.models import ChatMessage, DecisionList, Scope
from memplane.providers.base import LLM
from memplane_conformance.contract import ContractBase, async_native_probe, skip_unless_capable
from memplane_conformance.endpoint import ScriptedEndpoint
from memplane_conformance.guard import suite_skip
from memplane_conformance.malformed import MalformedResponseContract
from memplane_conformance.parts import Parts, optional_fixture, parts_from_fixtures
from memplane_conformance.retries import RetryPolicyContract

FACT = "User lives in Lisbon"
CLEAN = json.dumps({"decisions": [{"event": "ADD", "text": FACT, "reason": "new fact"}]})

#: one reply for "I moved to Lisbon", in each form models have been seen to produce.
REPLY_SHAPES: dict[str, str] = {
    "clean_json": CLEAN,
    "fenced_json": f"```json\n{CLEAN}\n```",
    "fenced_no_language": f"```\n{CLEAN}\n```",
    "chatty_around_json": f"Sure! Here is the memory diff you asked for:\n\n{CLEAN}\n\n"
                          "Let me know if you need anything else.",
    "trailing_comma": CLEAN[:-2] + ",]}",
    "bare_list": json.dumps([{"event": "ADD", "text": FACT}]),
}
WRONG_FIELD_NAMES = json.dumps({"memory": [{"action": "add", "fact": FACT}]})
TRUNCATED = CLEAN[: len(CLEAN) // 2]


def _texts(memory: Any, user: str) -> list[str]:
    page = memory.get_all(user_id=user)
    records = getattr(page, "records", page)
    return [getattr(r, "text", None) or r["text"] for r in records]


def _chat(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="system", content="You answer in JSON."),
            ChatMessage(role="user", content=text)]


class LLMBehaviourContract(ContractBase):
    """Behavioural scenarios against the real service (``live``). Needs the
    ``live_llm_factory`` fixture (class, module or conftest level); without one, or
    when it returns None, they skip."""

    _memplane_suite_class: ClassVar[bool] = True

    @pytest.fixture
    def live_memory(self, request: pytest.FixtureRequest) -> Iterator[Any]:
        live_llm_factory = optional_fixture(request, "live_llm_factory")
        if live_llm_factory is None:
            suite_skip("live: no credentials for the real service (live_llm_factory is None)")
        from memplane.embedders.hashing import HashingEmbedder
        from memplane.memory import Memory
        from memplane.stores.inmemory import InMemoryStore

        memory = Memory(llm=live_llm_factory(), embedder=HashingEmbedder({"dimension": 256}),
                        vector_store=InMemoryStore())
        yield memory
        memory.close()

    @pytest.mark.live
    def test_live_new_fact_is_added(self, live_memory: Any) -> None:
        """A plain new fact produces an ADD whose text carries the fact.

        Troubleshooting: the model must answer in the decision schema; check the system
        prompt reaches it and that structured output is enabled.
        """
        result = live_memory.add("Hi! My name is Priya and I am a vegetarian.", user_id="live")
        assert result.by_event("ADD"), result
        assert any("vegetarian" in t.lower() for t in _texts(live_memory, "live"))

    @pytest.mark.live
    def test_live_small_talk_adds_nothing(self, live_memory: Any) -> None:
        """Small talk and questions do not become memories.

        Troubleshooting: a model that stores everything ignores the instructions; try a
        stronger model or a lower temperature.
        """
        result = live_memory.add("What's the weather like today?", user_id="live")
        assert not result.by_event("ADD"), result

    @pytest.mark.live
    def test_live_contradiction_updates_the_old_fact(self, live_memory: Any) -> None:
        """A changed fact updates (or replaces) the old one instead of adding a rival.

        Troubleshooting: the model must reuse the integer id shown for the existing
        memory; check ids survive your request/response mapping.
        """
        live_memory.add("I live in Munich.", user_id="live")
        result = live_memory.add("Actually I live in Berlin now, not Munich.", user_id="live")
        assert result.by_event("UPDATE") or result.by_event("DELETE"), result
        texts = [t.lower() for t in _texts(live_memory, "live")]
        assert any("berlin" in t for t in texts), texts
        assert not any("munich" in t and "berlin" not in t for t in texts), texts

    @pytest.mark.live
    def test_live_duplicate_is_not_stored_twice(self, live_memory: Any) -> None:
        """Repeating a known fact does not create a second memory.

        Troubleshooting: the model should answer NONE for known facts; core also turns
        exact duplicates into NONE, so a failure means a reworded duplicate was added.
        """
        live_memory.add("My favourite colour is green.", user_id="live")
        before = len(_texts(live_memory, "live"))
        live_memory.add("My favourite colour is green.", user_id="live")
        assert len(_texts(live_memory, "live")) == before

    @pytest.mark.live
    def test_live_retraction_deletes(self, live_memory: Any) -> None:
        """"Forget that ..." removes the fact from current memories.

        Troubleshooting: the model must answer DELETE with the memory's id.
        """
        live_memory.add("I have a cat named Miso.", user_id="live")
        live_memory.add("Please forget that I have a cat named Miso.", user_id="live")
        assert not any("miso" in t.lower() for t in _texts(live_memory, "live"))


class LLMContract(MalformedResponseContract, RetryPolicyContract, LLMBehaviourContract):
    """The LLM contract. Needs ``llm_factory`` and ``scripted_endpoint``. Includes the
    malformed-response corpus (:mod:`memplane_conformance.malformed`) for endpoints
    with a wire adapter, and the shared retry policy's checks
    (:mod:`memplane_conformance.retries`) for providers with ``max_retry_wait``."""

    _memplane_suite_class: ClassVar[bool] = True

    @pytest.fixture
    def endpoint(self, scripted_endpoint: ScriptedEndpoint) -> ScriptedEndpoint:
        """The author's endpoint, emptied before the test."""
        assert isinstance(scripted_endpoint, ScriptedEndpoint), (
            "scripted_endpoint must implement memplane_conformance.endpoint.ScriptedEndpoint"
        )
        scripted_endpoint.reset()
        return scripted_endpoint

    @pytest.fixture
    def parts(self, request: pytest.FixtureRequest, endpoint: ScriptedEndpoint) -> Iterator[Parts]:
        # only the LLM is under test here; MemoryContract combines kinds
        yield from parts_from_fixtures(request, frozenset({"llms"}))

    @pytest.fixture
    def memory(self, parts: Parts) -> Iterator[Any]:
        memory = parts.memory()
        yield memory
        memory.close()

    # direct calls ----------------------------------------------------------------
    def test_text_reply_and_usage(self, endpoint: ScriptedEndpoint,
                                  llm_factory: Callable[..., LLM]) -> None:
        """A plain reply comes back as ``text`` with token usage and one request.

        Troubleshooting: copy the API's usage block into ``LLMResponse.usage``
        (prompt_tokens, completion_tokens); do not send duplicate requests.
        """
        endpoint.enqueue_text("hello from the model")
        response = llm_factory().generate(_chat("say hello"))
        assert "hello from the model" in response.text
        assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
        assert len(endpoint.requests) == 1

    def test_request_carries_the_json_schema(self, endpoint: ScriptedEndpoint,
                                             llm_factory: Callable[..., LLM]) -> None:
        """With ``json_schema`` declared, the request carries the schema natively and the
        parsed object comes back in ``structured``.

        Troubleshooting: send the schema as strict structured output (response_format,
        responseSchema) or as a forced tool's input schema, and parse the reply into
        ``LLMResponse.structured``.
        """
        llm = llm_factory()
        skip_unless_capable(llm, "json_schema")
        reply = {"decisions": [{"event": "ADD", "text": FACT}]}
        endpoint.enqueue_structured(reply)
        response = llm.generate(_chat("remember"), json_schema=DecisionList.model_json_schema(),
                                schema_name="decisions")
        [request] = endpoint.requests
        schema = endpoint.json_schema_of(request)
        assert schema is not None, "the request did not carry the JSON schema"
        assert "decisions" in json.dumps(schema)
        assert response.structured == reply

    def test_async_generate_mirrors_sync(self, endpoint: ScriptedEndpoint,
                                         llm_factory: Callable[..., LLM]) -> None:
        """``agenerate`` sends the same request and returns the same answer.

        Troubleshooting: if you override ``agenerate`` (``async_native``), share the
        request building and response parsing with ``generate``; declare
        ``async_native`` only when ``agenerate`` is your own native implementation.
        """
        endpoint.enqueue_text("async answer")
        llm = llm_factory()
        with async_native_probe(llm, LLM, {"agenerate": "generate"}):
            response = asyncio.run(llm.agenerate(_chat("async please")))
        assert "async answer" in response.text
        assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0, (
            "agenerate dropped the token usage")
        assert len(endpoint.requests) == 1

    def test_json_mode_reply_is_json(self, endpoint: ScriptedEndpoint,
                                     llm_factory: Callable[..., LLM]) -> None:
        """With ``json_mode``, a request with a schema comes back as JSON (in ``text``
        or ``structured``), whatever channel the provider used.

        Troubleshooting: turn on the API's JSON mode (``response_format`` json_object,
        ``responseMimeType``) when a schema is passed and the model cannot enforce it.
        """
        llm = llm_factory()
        skip_unless_capable(llm, "json_mode")
        reply = {"decisions": [{"event": "ADD", "text": FACT}]}
        endpoint.enqueue_structured(reply)
        response = llm.generate(_chat("remember"), json_schema=DecisionList.model_json_schema(),
                                schema_name="decisions")
        assert response.structured == reply or json.loads(response.text) == reply

    def test_structured_reply_reports_usage(self, endpoint: ScriptedEndpoint,
                                            llm_factory: Callable[..., LLM]) -> None:
        """A structured (or JSON) reply reports the provider's token usage too, sync and
        async: the pipeline's own estimate must not be what hides a zero.

        Troubleshooting: read the usage block on every response path (tool calls,
        structured output), not only for plain text.
        """
        llm = llm_factory()
        schema = DecisionList.model_json_schema() if llm.has("json_schema") else None
        reply = {"decisions": [{"event": "ADD", "text": FACT}]}
        def sync() -> Any:
            return llm.generate(_chat("remember"), json_schema=schema, schema_name="decisions")

        def in_loop() -> Any:
            return asyncio.run(llm.agenerate(_chat("remember"), json_schema=schema,
                                             schema_name="decisions"))

        for call in (sync, in_loop):
            if schema is not None:
                endpoint.enqueue_structured(reply)
            else:
                endpoint.enqueue_text(json.dumps(reply))
            response = call()
            assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0, (
                "a structured reply came back without token usage")

    def test_async_errors_are_typed_like_sync(self, endpoint: ScriptedEndpoint,
                                              llm_factory: Callable[..., LLM]) -> None:
        """``agenerate`` maps failures as ``generate`` does: 401 -> ``AuthenticationError``
        after one request, 429 -> ``RateLimitError`` with ``retry_after``, retries bounded.

        Troubleshooting: share the error mapping between the sync and async clients
        (the async SDK raises its own exception types).
        """
        endpoint.enqueue_fault("auth")
        with pytest.raises(AuthenticationError):
            asyncio.run(llm_factory(max_retries=3).agenerate(_chat("hi")))
        assert len(endpoint.requests) == 1
        for _ in range(4):
            endpoint.enqueue_fault("rate_limit", retry_after=7)
        with pytest.raises(RateLimitError) as caught:
            asyncio.run(llm_factory(max_retries=0).agenerate(_chat("hi")))
        assert caught.value.retry_after == pytest.approx(7, abs=1), "async 429 lost Retry-After"
        assert len(endpoint.requests) == 2
        endpoint.reset()  # drops the unused faults; factories made afterwards see the reset
        for _ in range(8):
            endpoint.enqueue_fault("rate_limit", retry_after=0)
        with pytest.raises(RateLimitError):
            asyncio.run(llm_factory(max_retries=2).agenerate(_chat("hi")))
        assert 1 <= len(endpoint.requests) <= 3

    def test_rate_limit_carries_retry_after(self, endpoint: ScriptedEndpoint,
                                            llm_factory: Callable[..., LLM]) -> None:
        """A 429 with ``Retry-After: 7`` raises ``RateLimitError(retry_after=7)``.

        Troubleshooting: read the header (``memplane.providers.retry_after.retry_after_seconds`` handles
        seconds, milliseconds and HTTP dates) into the error, so callers can wait.
        """
        for _ in range(4):
            endpoint.enqueue_fault("rate_limit", retry_after=7)
        with pytest.raises(RateLimitError) as caught:
            llm_factory(max_retries=0).generate(_chat("hi"))
        assert caught.value.retry_after == pytest.approx(7, abs=1), "429 lost Retry-After"
        assert len(endpoint.requests) == 1

    # errors and retries ---------------------------------------------------------
    def test_auth_failure_is_typed_and_not_retried(
        self, endpoint: ScriptedEndpoint, llm_factory: Callable[..., LLM]
    ) -> None:
        """A rejected key raises ``AuthenticationError`` after exactly one request.

        Troubleshooting: map 401/403 to ``memplane.errors.AuthenticationError`` and do
        not retry it; the SDK's own retry loop may need ``max_retries=0``.
        """
        for _ in range(4):
            endpoint.enqueue_fault("auth")
        with pytest.raises(AuthenticationError):
            llm_factory(max_retries=3).generate(_chat("hi"))
        assert len(endpoint.requests) == 1

    def test_rate_limit_is_typed_and_retries_are_bounded(
        self, endpoint: ScriptedEndpoint, llm_factory: Callable[..., LLM]
    ) -> None:
        """Endless 429s raise ``RateLimitError`` after at most ``max_retries + 1`` requests.

        Troubleshooting: cap retries by the config's ``max_retries`` (count your own loop
        and the SDK's together) and map 429 to ``RateLimitError(retry_after=...)``.
        """
        for _ in range(8):
            endpoint.enqueue_fault("rate_limit", retry_after=0)
        with pytest.raises(RateLimitError):
            llm_factory(max_retries=2).generate(_chat("hi"))
        assert 1 <= len(endpoint.requests) <= 3

    def test_no_retry_when_max_retries_is_zero(
        self, endpoint: ScriptedEndpoint, llm_factory: Callable[..., LLM]
    ) -> None:
        """With ``max_retries=0`` a retryable failure is raised after one request,
        as a ``ProviderError`` with ``retryable=True``.

        Troubleshooting: pass ``max_retries`` through to the SDK client as well as to
        your own loop; map 5xx to ``ProviderError(retryable=True)``.
        """
        for _ in range(4):
            endpoint.enqueue_fault("server_error")
        with pytest.raises(ProviderError) as caught:
            llm_factory(max_retries=0).generate(_chat("hi"))
        assert caught.value.retryable is True
        assert len(endpoint.requests) == 1

    @pytest.mark.parametrize("fault", ["server_error", "rate_limit"])
    def test_retryable_failure_is_retried_within_max_retries(
        self, endpoint: ScriptedEndpoint, llm_factory: Callable[..., LLM], fault: str
    ) -> None:
        """A provider with a ``max_retries`` setting retries one transient failure and
        returns the answer that follows.

        Troubleshooting: retry ``ProviderError(retryable=True)`` cases (429, 5xx,
        timeouts) up to ``max_retries`` times, honouring Retry-After.
        """
        llm = llm_factory(max_retries=2)
        if "max_retries" not in type(llm).Config.model_fields:
            suite_skip(f"llms provider {llm.name!r} has no 'max_retries' setting (never retries)")
        endpoint.enqueue_fault(fault, retry_after=0)  # type: ignore[arg-type]
        endpoint.enqueue_text("recovered")
        response = llm.generate(_chat("hi"))
        assert "recovered" in response.text
        assert len(endpoint.requests) == 2

    def test_timeout_is_typed(self, endpoint: ScriptedEndpoint,
                              llm_factory: Callable[..., LLM]) -> None:
        """A response slower than the client's timeout raises ``ProviderTimeout``.

        Troubleshooting: map the SDK's timeout exception to
        ``memplane.errors.ProviderTimeout``; make the factory's client timeout shorter
        than the endpoint's delay.
        """
        for _ in range(2):
            endpoint.enqueue_fault("timeout")
        with pytest.raises(ProviderTimeout):
            llm_factory(max_retries=0).generate(_chat("hi"))

    def test_malformed_body_is_a_provider_error(
        self, endpoint: ScriptedEndpoint, llm_factory: Callable[..., LLM]
    ) -> None:
        """An unparsable response body raises a memplane error, not the SDK's.

        Troubleshooting: catch the SDK's decoding/validation errors and raise
        ``ProviderError``.
        """
        for _ in range(2):
            endpoint.enqueue_fault("malformed")
        with pytest.raises(MemplaneError):
            llm_factory(max_retries=0).generate(_chat("hi"))

    # through the pipeline ---------------------------------------------------------
    @pytest.mark.parametrize("shape", sorted(REPLY_SHAPES))
    def test_reply_shapes_become_the_right_decisions(
        self, parts: Parts, memory: Any, shape: str
    ) -> None:
        """Every text shape models produce (clean, fenced, chatty, trailing comma, bare
        list) yields the ADD it encodes.

        Troubleshooting: return the model's text unchanged in ``LLMResponse.text``; do
        not strip or re-encode it, and leave ``structured`` None when the API gave text.
        """
        parts.endpoint.enqueue_text(REPLY_SHAPES[shape])
        parts.decide()  # what a repair retry would get; must not be needed
        result = memory.add("I moved to Lisbon last year.", user_id="shapes")
        assert [(e.event, e.text) for e in result.events] == [("ADD", FACT)], result
        assert _texts(memory, "shapes") == [FACT]

    def test_structured_reply_becomes_the_right_decisions(self, parts: Parts, memory: Any) -> None:
        """A reply through the native structured channel (strict JSON or tool-call
        arguments) yields the ADD it encodes, and the request carried the decision
        schema when ``json_schema`` is declared.

        Troubleshooting: put the parsed tool arguments / structured content in
        ``LLMResponse.structured``.
        """
        parts.endpoint.enqueue_structured({"decisions": [{"event": "ADD", "text": FACT}]})
        result = memory.add("I moved to Lisbon last year.", user_id="structured")
        assert [(e.event, e.text) for e in result.events] == [("ADD", FACT)], result
        if parts.llm.has("json_schema"):
            schema = parts.endpoint.json_schema_of(parts.endpoint.requests[0])
            assert schema is not None, "the pipeline's request went out without the schema"
            assert "decisions" in json.dumps(schema)

    def test_truncated_reply_is_repaired_by_one_retry(self, parts: Parts, memory: Any) -> None:
        """A truncated reply triggers one repair request whose good answer is applied.

        Troubleshooting: surface a cut-off reply as text (with ``finish_reason``) instead
        of raising, so the pipeline can ask again.
        """
        parts.endpoint.enqueue_text(TRUNCATED)
        parts.decide({"event": "ADD", "text": FACT})
        result = memory.add("I moved to Lisbon last year.", user_id="trunc")
        assert [(e.event, e.text) for e in result.events] == [("ADD", FACT)], result
        assert len(parts.endpoint.requests) == 2

    def test_unusable_reply_is_a_diagnostic_not_a_write(self, parts: Parts, memory: Any) -> None:
        """Two truncated replies (the answer and its one repair) write nothing and are
        reported in ``diagnostics``; the pipeline stops after the bounded retry.

        Troubleshooting: return bad text as text; never invent an empty decision list.
        """
        parts.endpoint.enqueue_text(TRUNCATED)
        parts.endpoint.enqueue_text(TRUNCATED)
        parts.decide({"event": "ADD", "text": "must never be used"})
        result = memory.add("I moved to Lisbon last year.", user_id="bad")
        assert not [e for e in result.events if e.event != "NONE"], result
        assert result.diagnostics, "an unusable reply vanished without a diagnostic"
        assert _texts(memory, "bad") == []
        assert len(parts.endpoint.requests) == 2

    def test_wrong_field_names_are_mapped_or_reported(self, parts: Parts, memory: Any) -> None:
        """A reply with other field names ("memory", "action", "fact") is either
        understood or reported; it never writes anything else.

        Troubleshooting: pass the text through untouched; the core does the mapping.
        """
        parts.endpoint.enqueue_text(WRONG_FIELD_NAMES)
        parts.decide()
        result = memory.add("I moved to Lisbon last year.", user_id="wrong")
        events = [(e.event, e.text) for e in result.events if e.event != "NONE"]
        assert events in ([("ADD", FACT)], []), result
        if not events:
            assert result.diagnostics
        assert _texts(memory, "wrong") == [e[1] for e in events]

    def test_invented_ids_are_diagnostics_not_writes(self, parts: Parts, memory: Any) -> None:
        """UPDATE/DELETE of ids the prompt never showed change nothing and are reported.

        Troubleshooting: keep the ``id`` integers from the reply as they are; the core
        checks them against the ids it showed.
        """
        memory.add("User prefers Python", user_id="ids", infer=False)
        parts.decide({"event": "UPDATE", "id": 7, "text": "User prefers Go"},
                     {"event": "DELETE", "id": 42})
        result = memory.add("I like Go now", user_id="ids")
        assert not [e for e in result.events if e.event in ("UPDATE", "DELETE")], result
        assert result.diagnostics
        assert _texts(memory, "ids") == ["User prefers Python"]

    def test_usage_is_reported_through_the_pipeline(self, parts: Parts, memory: Any) -> None:
        """``AddResult.usage`` counts the LLM call and its tokens.

        Troubleshooting: fill ``LLMResponse.usage`` from the API's usage block.
        """
        parts.decide({"event": "ADD", "text": FACT})
        result = memory.add("I moved to Lisbon last year.", user_id="usage")
        assert result.usage.llm_calls >= 1
        assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0

    def test_provider_failure_leaves_memories_unchanged(self, parts: Parts, memory: Any) -> None:
        """When the LLM call fails, ``add`` raises the typed error and stores nothing.

        Troubleshooting: raise ``memplane.errors`` types from ``generate``; never return
        an empty reply on failure.
        """
        memory.add("User prefers Python", user_id="fail", infer=False)
        for _ in range(6):
            parts.endpoint.enqueue_fault("auth")
        with pytest.raises(AuthenticationError):
            memory.add("I switched to Go", user_id="fail")
        assert _texts(memory, "fail") == ["User prefers Python"]
        assert memory.search("Python", user_id="fail")[0].record.scope == Scope(user_id="fail")

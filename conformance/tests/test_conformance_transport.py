"""Tier 1 for LLM authors: a model class and its parameters, run through the whole
LLMContract on a scripted transport. The honest model passes; a model that does not
send the schema, or that ignores statuses, is rejected by the test aimed at it."""

from __future__ import annotations

import pytest
from suite_outcomes import failed_tests, run, summary

from memplane_conformance.transport import ScriptedTransport, TransportResponse

PROBE = """
import pytest
from memplane_conformance.transport import TransportLLMContract
from tier1_models import {cls}

class TestTier1(TransportLLMContract):
    @pytest.fixture
    def llm_class(self):
        return {cls}

    @pytest.fixture
    def llm_params(self):
        return {{"model": "tiny-chat", "timeout": 1.0}}
"""


def test_honest_model_passes_tier_one(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_tier1=PROBE.format(cls="TransportChatLLM"))
    result, outcomes = run(suite)
    assert failed_tests(outcomes) == set(), summary(result)
    assert result.ret == pytest.ExitCode.OK
    out = result.stdout.str()
    # the malformed-response corpus and the fault mapping ran, not skipped
    assert "test_garbled_body_is_retried" in " ".join(outcomes.get("PASSED", []))
    assert "capability async_native: declared, tested by" in out


@pytest.mark.parametrize(("cls", "rejecting"), [
    ("SchemaInTextLLM", "test_request_carries_the_json_schema"),
    ("StatusBlindLLM", "test_auth_failure_is_typed_and_not_retried"),
])
def test_broken_model_is_rejected_in_tier_one(suite: pytest.Pytester, cls: str,
                                              rejecting: str) -> None:
    suite.makepyfile(test_tier1=PROBE.format(cls=cls))
    result, outcomes = run(suite, "-k", rejecting)
    assert rejecting in failed_tests(outcomes), summary(result)


def test_transport_refuses_a_request_of_another_shape() -> None:
    transport = ScriptedTransport()
    with pytest.raises(AssertionError, match="messages"):
        transport.send({"prompt": "hi"})
    with pytest.raises(AssertionError, match="role"):
        transport.send({"messages": [{"role": "user", "content": 3}]})


def test_transport_answers_in_order_and_signals_faults() -> None:
    transport = ScriptedTransport()
    transport.enqueue_text("one")
    transport.enqueue_fault("rate_limit", retry_after=7)
    transport.enqueue_fault("timeout")
    request = {"messages": [{"role": "user", "content": "hi"}]}
    first = transport.send(request)
    assert first.status == 200 and first.json()["choices"][0]["message"]["content"] == "one"
    limited = transport.send(request)
    assert (limited.status, limited.headers["retry-after"]) == (429, "7")
    with pytest.raises(TimeoutError):
        transport.send(request)
    assert len(transport.requests) == 3
    assert isinstance(transport.send(request), TransportResponse)  # an empty queue answers ""

"""A corpus of malformed provider responses, and the checks every LLM provider owes on it.

Real services, proxies and "OpenAI-compatible" servers sometimes answer HTTP 200 with
a body that is not what the API promises: cut off, not UTF-8, an HTML error page, an
answer list holding ``null``, text that is a number, token counts that are strings.
A provider must turn each of these into a :class:`memplane.errors.ProviderError` —
never an ``AttributeError``, ``TypeError``, ``UnicodeDecodeError`` or pydantic's
``ValidationError`` from deep inside the SDK or the parsing code — and mark it
``retryable`` exactly when another attempt can help:

- *garbled bodies* (truncated, invalid UTF-8, not JSON, empty) are transport or proxy
  accidents: ``retryable=True``, and the provider's retry loop tries again;
- *wrong shapes* (valid JSON that breaks the API's schema) come from a server that
  will answer the same way next time: ``retryable=False``, one request only.

The cases are generic; a provider's loopback server turns each into its own wire body
by implementing :class:`MalformedWire` (a *wire adapter*): ``well_formed_body(text)``
gives a correct 200 body whose answer is ``text``, ``malformed_body(case, text)`` the
JSON value of a shape case on that wire (None when the wire has no such malformation,
e.g. a shape the API documents as legal). Garbled bodies are derived from the
well-formed body here, so every provider gets the same ones.

:class:`MalformedResponseContract` holds the checks; :class:`~memplane_conformance.llm.LLMContract`
includes it, so every LLM provider tested with the suite is held to the corpus, sync
and async. :func:`garbled_bodies` and :func:`assert_typed_provider_error` serve other
calls (embeddings, reranking) in a plugin's own tests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import pytest

from memplane.errors import ProviderError
from memplane.models import ChatMessage
from memplane.providers.base import LLM
from memplane_conformance.guard import suite_skip

#: the answer text the well-formed body carries; the invalid-UTF-8 case corrupts it
MARKER = "malformed-corpus-answer"
JSON_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True)
class Malformation:
    name: str
    description: str
    retryable: bool
    #: True when the provider's wire adapter builds the body (a shape case)
    shape: bool


CASES: dict[str, Malformation] = {m.name: m for m in [
    # garbled bodies: derived from the well-formed body here
    Malformation("truncated", "the JSON body is cut off half-way", True, False),
    Malformation("invalid_utf8", "the body is not valid UTF-8", True, False),
    Malformation("not_json", "an HTML error page with status 200", True, False),
    Malformation("empty_body", "status 200 with an empty body", True, False),
    # wrong shapes: valid JSON, wrong schema
    Malformation("json_not_object", "the body is a JSON array, not an object", False, False),
    Malformation("answers_null_entry", "the answer list holds null (choices: [null])", False, True),
    Malformation("answers_not_list", "the answer list is a string", False, True),
    Malformation("message_missing", "the answer has no message / content container", False, True),
    Malformation("message_not_object", "the message / content container is a string", False, True),
    Malformation("text_not_string", "the answer text is a number", False, True),
    Malformation("text_is_object", "the answer text is a JSON object", False, True),
    Malformation("usage_not_integer", "token counts are strings", False, True),
    Malformation("usage_not_object", "the usage block is a list", False, True),
]}
GARBLED = sorted(name for name, case in CASES.items() if case.retryable)
WRONG_SHAPES = sorted(name for name, case in CASES.items() if not case.retryable)


@dataclass(frozen=True)
class RawReply:
    status: int
    body: bytes
    headers: Mapping[str, str]


@runtime_checkable
class MalformedWire(Protocol):
    """What a loopback server offers to be held to the corpus (its wire adapter)."""

    def enqueue_raw(self, status: int, body: bytes,
                    headers: dict[str, str] | None = None) -> None:
        """Answer the next request with exactly these bytes (LoopbackServer has it)."""

    def well_formed_body(self, text: str) -> dict[str, Any]:
        """A correct 200 body of this API whose answer text is ``text``."""

    def malformed_body(self, case: str, text: str) -> Any:
        """The JSON value of shape case ``case`` on this wire, built from the
        well-formed body for ``text``; None when the wire has no such malformation."""


#: a value for :func:`reshape` that deletes the key instead of setting it
DELETE: Any = type("Delete", (), {"__repr__": lambda self: "DELETE"})()
Path = tuple[str | int, ...]
#: a wire adapter's table: shape case -> the edits that make it from a good body
ShapeEdits = Mapping[str, list[tuple[Path, Any]]]


def reshape(body: Any, edits: list[tuple[Path, Any]] | None) -> Any:
    """A deep copy of ``body`` with each ``(path, value)`` edit applied (``value``
    :data:`DELETE` removes the key); None when ``edits`` is None. Wire adapters use
    it to turn a well-formed body into a shape case::

        OPENAI_SHAPES = {"answers_null_entry": [(("choices", 0), None)], ...}
        def malformed_body(self, case, text):
            return reshape(self.well_formed_body(text), OPENAI_SHAPES.get(case))
    """
    if edits is None:
        return None
    out = json.loads(json.dumps(body))
    for path, value in edits:
        node = out
        for key in path[:-1]:
            node = node[key]
        if value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return out


def garbled_bodies(good: Any) -> dict[str, bytes]:
    """The garbled-body and non-object cases derived from a well-formed JSON body
    (any endpoint's: chat, embeddings, rerank). For invalid UTF-8 the body must
    contain :data:`MARKER` (or any string) — a byte inside a string is corrupted."""
    text = json.dumps(good, ensure_ascii=False).encode()
    spot = text.find(MARKER.encode())
    spot = spot if spot >= 0 else text.find(b'"') + 1
    return {
        "truncated": text[: max(len(text) // 2, 1)],
        "invalid_utf8": text[:spot] + b"\xff\xfe\xc3" + text[spot:],
        "not_json": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        "empty_body": b"",
        "json_not_object": b'["not", "an", "object"]',
    }


def malformed_reply(wire: MalformedWire, case: str) -> RawReply | None:
    """The 200 reply for ``case`` on ``wire``; None when that wire cannot express it."""
    malformation = CASES[case]
    if malformation.shape:
        value = wire.malformed_body(case, MARKER)
        if value is None:
            return None
        return RawReply(200, json.dumps(value).encode(), JSON_HEADERS)
    body = garbled_bodies(wire.well_formed_body(MARKER))[case]
    headers = {"content-type": "text/html"} if case == "not_json" else JSON_HEADERS
    return RawReply(200, body, headers)


def enqueue_malformed(wire: MalformedWire, case: str, times: int = 1) -> bool:
    """Queue ``case`` ``times`` times; False (nothing queued) when the wire cannot
    express it."""
    reply = malformed_reply(wire, case)
    if reply is None:
        return False
    for _ in range(times):
        wire.enqueue_raw(reply.status, reply.body, dict(reply.headers))
    return True


def assert_typed_provider_error(call: Callable[[], Any], case: str) -> ProviderError:
    """``call()`` raises a ProviderError whose ``retryable`` matches the corpus."""
    try:
        call()
    except ProviderError as error:
        expected = CASES[case].retryable
        assert error.retryable is expected, (
            f"{case} ({CASES[case].description}): retryable={error.retryable}, expected "
            f"{expected}"
        )
        return error
    except Exception as error:
        pytest.fail(f"{case} ({CASES[case].description}) raised {type(error).__name__}: "
                    f"{error!r}; expected memplane.errors.ProviderError")
    pytest.fail(f"{case} ({CASES[case].description}) raised nothing; expected ProviderError")


def _chat() -> list[ChatMessage]:
    return [ChatMessage(role="system", content="You answer in JSON."),
            ChatMessage(role="user", content="hi")]


def _generate(llm: LLM, mode: str) -> Any:
    if mode == "async":
        return asyncio.run(llm.agenerate(_chat()))
    return llm.generate(_chat())


def _wire(endpoint: Any) -> MalformedWire:
    if not isinstance(endpoint, MalformedWire):
        suite_skip("the scripted endpoint has no wire adapter (enqueue_raw, well_formed_body, "
                    "malformed_body): see memplane_conformance.malformed")
    return endpoint


def _queue(wire: MalformedWire, case: str, times: int) -> None:
    if not enqueue_malformed(wire, case, times):
        suite_skip(f"{case}: this provider's wire has no such malformation")


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


class MalformedResponseContract:
    """Malformed HTTP 200 bodies become typed, correctly retryable ProviderErrors.

    Needs the ``endpoint`` and ``llm_factory`` fixtures of
    :class:`~memplane_conformance.llm.LLMContract` (which includes this class).
    """

    #: its tests fall under the no-silent-override guard of the contracts
    _memplane_suite_class: ClassVar[bool] = True

    @MODES
    @pytest.mark.parametrize("case", sorted(CASES))
    def test_malformed_response_is_a_typed_provider_error(
        self, endpoint: Any, llm_factory: Callable[..., LLM], case: str, mode: str
    ) -> None:
        """Every case of the corpus raises ``ProviderError`` after one request (with
        ``max_retries=0``), ``retryable`` as the corpus says.

        Troubleshooting: catch the SDK's decoding and validation errors (JSON,
        UTF-8, pydantic) and raise ``ProviderError(retryable=True)``; check the
        shape of what the SDK hands back (a list entry may be None, a text may not
        be a string, a token count may not be an int) and raise
        ``ProviderError(retryable=False)``. Parse the response inside the retry loop.
        """
        wire = _wire(endpoint)
        _queue(wire, case, 1)
        llm = llm_factory(max_retries=0)
        assert_typed_provider_error(lambda: _generate(llm, mode), case)
        assert len(endpoint.requests) == 1

    @MODES
    @pytest.mark.parametrize("case", GARBLED)
    def test_garbled_body_is_retried(
        self, endpoint: Any, llm_factory: Callable[..., LLM], case: str, mode: str
    ) -> None:
        """A garbled body is retried, and the good answer after it comes back.

        Troubleshooting: the retry loop must see the decoding error as a retryable
        ``ProviderError``; with the SDK's own retries off, only your loop retries.
        """
        wire = _wire(endpoint)
        _queue(wire, case, 1)
        endpoint.enqueue_text("recovered")
        response = _generate(llm_factory(max_retries=1), mode)
        assert "recovered" in response.text
        assert len(endpoint.requests) == 2

    @MODES
    @pytest.mark.parametrize("case", WRONG_SHAPES)
    def test_wrong_shape_is_not_retried(
        self, endpoint: Any, llm_factory: Callable[..., LLM], case: str, mode: str
    ) -> None:
        """A body of the wrong shape is not retried, whatever ``max_retries`` is.

        Troubleshooting: raise ``ProviderError(retryable=False)`` for a schema
        violation; the same server will answer the same way again.
        """
        wire = _wire(endpoint)
        _queue(wire, case, 3)
        llm = llm_factory(max_retries=2)
        with pytest.raises(ProviderError):
            _generate(llm, mode)
        assert len(endpoint.requests) == 1

"""A loopback server that speaks the Anthropic Messages API, for offline tests.

It serves ``POST /v1/messages``, checks each request the way the real API would
refuse it (``x-api-key`` and ``anthropic-version`` headers, model, max_tokens,
alternating user/assistant turns, system prompt, tools and a forced tool_choice),
answers with the scripted replies in the real response shape (text or ``tool_use``
blocks, with usage), and injects faults.

    with AnthropicLoopback() as server:
        server.enqueue_structured({"decisions": []})
        llm = AnthropicLLM(base_url=server.base_url, api_key=server.api_key)
"""

from __future__ import annotations

import json
import re
import time
from itertools import count
from typing import Any

from memplane_conformance.endpoint import RecordedRequest
from memplane_conformance.loopback import (
    BadRequest,
    LoopbackServer,
    Refused,
    Reply,
    Scripted,
    json_reply,
)
from memplane_conformance.malformed import DELETE, ShapeEdits, reshape

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
BLOCK_TYPES = {"text", "image", "document", "tool_use", "tool_result"}


#: the wire adapter of the malformed-response corpus (memplane_conformance.malformed):
#: the Messages API's answer list is ``content``, its entries are the content blocks
SHAPES: ShapeEdits = {
    "answers_null_entry": [(("content", 0), None)],
    "answers_not_list": [(("content",), "oops")],
    "message_missing": [(("content",), DELETE)],
    "message_not_object": [(("content", 0), "oops")],
    "text_not_string": [(("content", 0, "text"), 42)],
    "text_is_object": [(("content", 0, "text"), {"text": "hi"})],
    "usage_not_integer": [(("usage", "input_tokens"), "many"),
                          (("usage", "output_tokens"), "lots")],
    "usage_not_object": [(("usage",), [1, 2])],
}


def words(text: str) -> int:
    return len(text.split())


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(b.get("text", "") for b in content if isinstance(b, dict))


class AnthropicLoopback(LoopbackServer):
    """Implements :class:`memplane_conformance.endpoint.ScriptedEndpoint`."""

    def __init__(
        self,
        *,
        api_key: str = "sk-ant-loopback",
        known_models: set[str] | None = None,
        slow_seconds: float = 5.0,
        lifetime: float = 600.0,
    ) -> None:
        super().__init__(slow_seconds=slow_seconds, lifetime=lifetime)
        self.api_key = api_key
        #: when set, other model names get the API's 404 not_found_error
        self.known_models = known_models
        self._ids = count(1)

    @property
    def base_url(self) -> str:
        """For ``base_url`` of the Anthropic client / the ``anthropic`` provider."""
        return self.url

    def json_schema_of(self, request: RecordedRequest) -> dict[str, Any] | None:
        body = request.body if isinstance(request.body, dict) else {}
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
        choice = body.get("tool_choice") or {}
        for tool in tools:
            if choice.get("type") == "tool" and tool.get("name") != choice.get("name"):
                continue
            schema = tool.get("input_schema")
            return schema if isinstance(schema, dict) else None
        return None

    def forced_tool(self, request: RecordedRequest) -> str | None:
        choice = request.body.get("tool_choice") if isinstance(request.body, dict) else None
        if isinstance(choice, dict) and choice.get("type") == "tool":
            return str(choice.get("name"))
        return None

    # --- dispatch ----------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method != "POST" or request.path != "/v1/messages":
            raise BadRequest(f"{request.method} {request.path} is not served; use POST /v1/messages")
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            raise BadRequest("content-type must be application/json")
        if not request.headers.get("anthropic-version"):
            raise BadRequest("the anthropic-version header is required")
        # SDKs send the key as x-api-key (the documented header) or, in newer
        # releases, as a bearer token; the API accepts either
        keys = {request.headers.get("x-api-key"),
                request.headers.get("authorization", "").removeprefix("Bearer ")}
        if self.api_key not in keys:
            raise Refused("invalid x-api-key", status=401, kind="authentication_error")
        if not isinstance(request.body, dict):
            raise BadRequest("the body must be a JSON object")
        self._check(request.body)  # a refused request consumes nothing from the script
        item = self.next_item()
        if item is not None and item.kind == "fault":
            return self.fault_reply(item)
        return self._message(request, item)

    def _check(self, body: dict[str, Any]) -> None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("model: field required")
        if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
            raise BadRequest("max_tokens: a positive integer is required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages: at least one message is required")
        for i, message in enumerate(messages):
            self._check_message(i, message)
        system = body.get("system")
        if system is not None and not isinstance(system, str | list):
            raise BadRequest("system: must be a string or an array of text blocks")
        temperature = body.get("temperature")
        if temperature is not None and not (isinstance(temperature, int | float) and 0 <= temperature <= 1):
            raise BadRequest("temperature: must be between 0 and 1")
        self._check_tools(body)
        if self.known_models is not None and model not in self.known_models:
            raise Refused(f"model: {model}", status=404, kind="not_found_error")

    def _check_message(self, i: int, message: Any) -> None:
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise BadRequest(f"messages.{i}.role: must be 'user' or 'assistant' "
                             f"(system prompts go in the top-level system parameter)")
        content = message.get("content")
        if isinstance(content, str):
            if not content:
                raise BadRequest(f"messages.{i}: text content blocks must be non-empty")
        elif isinstance(content, list):
            for block in content:
                if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
                    raise BadRequest(f"messages.{i}.content: unknown content block")
        else:
            raise BadRequest(f"messages.{i}.content: must be a string or an array of blocks")

    def _check_tools(self, body: dict[str, Any]) -> None:
        tools = body.get("tools")
        names = set()
        if tools is not None:
            if not isinstance(tools, list):
                raise BadRequest("tools: must be an array")
            for i, tool in enumerate(tools):
                name = tool.get("name") if isinstance(tool, dict) else None
                if not isinstance(name, str) or not TOOL_NAME.match(name):
                    raise BadRequest(f"tools.{i}.name: must match {TOOL_NAME.pattern}")
                schema = tool.get("input_schema")
                if not isinstance(schema, dict) or schema.get("type") != "object":
                    raise BadRequest(f"tools.{i}.input_schema: must be a JSON schema of type object")
                names.add(name)
        choice = body.get("tool_choice")
        if choice is None:
            return
        if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
            raise BadRequest("tool_choice.type: must be auto, any, tool or none")
        if choice["type"] == "tool" and choice.get("name") not in names:
            raise BadRequest(f"tool_choice.name: {choice.get('name')!r} is not one of the tools")

    # --- replies -----------------------------------------------------------------

    def _message(self, request: RecordedRequest, item: Scripted | None) -> Reply:
        body = request.body
        if item is None:
            reply = self.error(500, "loopback: no scripted reply queued; call enqueue_text() "
                               "or enqueue_structured() first", "api_error")
            reply.headers["x-should-retry"] = "false"
            return reply
        tool = self.forced_tool(request)
        if item.kind == "structured" and tool is not None:
            content: list[dict[str, Any]] = [
                {"type": "tool_use", "id": f"toolu_loopback_{next(self._ids)}", "name": tool,
                 "input": item.value}
            ]
            stop, out_words = "tool_use", words(str(item.value))
        else:
            text = item.value if item.kind == "text" else json.dumps(item.value)
            content = [{"type": "text", "text": text}]
            stop, out_words = "end_turn", words(text)
        system = body.get("system") or ""
        prompt = words(_text_of(system)) + sum(words(_text_of(m["content"])) + 3 for m in body["messages"])
        usage = {"input_tokens": prompt, "output_tokens": out_words + 1}
        request.extra["usage"] = dict(usage)
        return json_reply(200, {
            "id": f"msg_loopback_{next(self._ids)}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {**usage, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }, {"request-id": f"req_loopback_{int(time.time() * 1000)}"})

    def well_formed_body(self, text: str) -> dict[str, Any]:
        """A message answering ``text`` (the malformed corpus starts from it)."""
        return {
            "id": "msg_loopback_wire", "type": "message", "role": "assistant",
            "model": "claude-haiku-4-5", "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 5, "output_tokens": 2,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }

    def malformed_body(self, case: str, text: str) -> Any:
        return reshape(self.well_formed_body(text), SHAPES.get(case))

    def error(self, status: int, message: str, kind: str) -> Reply:
        kinds = {401: "authentication_error", 429: "rate_limit_error", 500: "api_error",
                 504: "api_error", 400: "invalid_request_error"}
        return json_reply(status, {"type": "error",
                                   "error": {"type": kinds.get(status, kind), "message": message}})

    def fault_reply(self, item: Scripted) -> Reply:
        if item.value == "malformed":
            return Reply(200, b'{"id": "msg_cut", "type": "message", "content": [{"ty',
                         {"content-type": "application/json"})
        return super().fault_reply(item)

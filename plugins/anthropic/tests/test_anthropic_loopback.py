"""The loopback server itself: life cycle and the structured channel's shape."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from memplane.models import ChatMessage
from memplane_anthropic.testing import AnthropicLoopback


def test_server_stops_by_itself_after_its_lifetime():
    server = AnthropicLoopback(lifetime=0.2).start()
    url = server.base_url
    assert server.wait_stopped(timeout=30), "the server outlived its lifetime"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/v1/messages", data=b"{}", timeout=5)


def test_structured_reply_without_a_forced_tool_is_json_text(server, make_llm):
    # a model answering without tools can only answer in text
    server.enqueue_structured({"a": 1})
    response = make_llm().generate([ChatMessage(role="user", content="hi")])
    assert response.text == '{"a": 1}' and response.structured is None
    assert server.json_schema_of(server.requests[0]) is None

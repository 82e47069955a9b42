"""Inputs LLM plugin tests keep needing: a small JSON schema and a conversation that
exercises a system prompt and alternating turns (so a provider's message mapping
shows in the request its loopback server records)."""

from __future__ import annotations

from typing import Any

from memplane.models import ChatMessage

FACTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"facts": {"type": "array", "items": {"type": "string"}}},
    "required": ["facts"],
}

CONVERSATION: tuple[ChatMessage, ...] = (
    ChatMessage(role="system", content="Extract facts."),
    ChatMessage(role="user", content="I moved to Lisbon."),
    ChatMessage(role="assistant", content="Noted."),
    ChatMessage(role="user", content="And I like tea."),
)

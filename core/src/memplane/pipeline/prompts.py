"""The prompts the pipeline sends, and the data blocks inside them.

A request is two messages:

- a *system* message holding the output contract (fixed by the core, so a custom
  prompt can never change the answer format), and
- a *user* message rendered from a template (the default below, or the configured
  custom prompt) whose placeholders are replaced by machine-readable blocks::

      <existing_memories>
      [{"id": 0, "text": "User prefers Python"}]
      </existing_memories>

Placeholders are exact tokens such as ``{existing_memories}``, replaced literally
(not ``str.format``), so custom prompts may contain JSON examples with braces.
The tags make the blocks easy to find for any model, including the rule-based one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from memplane.errors import ConfigurationError
from memplane.models import ChatMessage

UPDATE_PLACEHOLDERS = frozenset({"existing_memories", "new_messages", "today"})
UPDATE_REQUIRED = frozenset({"existing_memories", "new_messages"})
EXTRACTION_PLACEHOLDERS = frozenset({"messages", "today"})
EXTRACTION_REQUIRED = frozenset({"messages"})

DECISIONS_CONTRACT = (
    "Reply with one JSON object and nothing else: "
    '{"decisions": [{"event": "ADD" | "UPDATE" | "DELETE" | "NONE", "id": <integer id '
    'of an existing memory; omit for ADD>, "text": "<the fact; required for ADD and '
    'UPDATE>", "reason": "<a few words>"}]}. Use only ids listed in existing_memories. '
    'Reply {"decisions": []} when nothing is worth remembering.'
)

FACTS_CONTRACT = (
    'Reply with one JSON object and nothing else: {"facts": ["<fact>", ...]}. '
    'Reply {"facts": []} when nothing is worth remembering.'
)

DEFAULT_UPDATE_PROMPT = """\
You keep a user's long-term memory true. Compare the new messages with the existing memories.
- ADD a new lasting fact (preference, biography, plan, relationship) as a short third-person sentence starting "User".
- UPDATE an existing memory when the new messages change or refine the same subject; keep its id, give the full new text.
- DELETE an existing memory the user retracts or that is now false with no replacement fact.
- NONE when a fact is already known (give its id).
When a new fact replaces an old one, UPDATE the old one; never DELETE it without recording the new fact.
Ignore small talk, questions and the assistant's suggestions.

{existing_memories}

{new_messages}"""

DEFAULT_EXTRACTION_PROMPT = """\
List the lasting facts about the user in these messages (preferences, biography, plans, relationships, changes and retractions such as "User no longer likes X"), each as a short third-person sentence starting "User". Ignore small talk, questions and the assistant's suggestions.

{messages}"""

REPAIR_INSTRUCTION = (
    "Your reply could not be used: {error}. Reply again with only the JSON object the "
    "system message describes."
)

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def validate_template(
    template: str, *, required: frozenset[str], allowed: frozenset[str], setting: str
) -> str:
    """Check a custom prompt at configuration time.

    Every required placeholder must appear exactly once, and an unknown
    ``{name}`` (usually a typo) is an error rather than text sent to the model.
    """
    if not template.strip():
        raise ConfigurationError(f"{setting} is empty; remove it to use the default prompt")
    names = _PLACEHOLDER.findall(template)
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise ConfigurationError(
            f"{setting} uses unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; "
            f"allowed: {', '.join('{' + n + '}' for n in sorted(allowed))}"
        )
    for name in sorted(required):
        count = names.count(name)
        if count != 1:
            raise ConfigurationError(
                f"{setting} must contain the placeholder {{{name}}} exactly once "
                f"(found {count}); the pipeline puts its data there"
            )
    return template


def render_block(tag: str, items: Sequence[Any]) -> str:
    """One JSON item per line between ``<tag>`` lines: compact and easy to parse."""
    body = ",\n".join(json.dumps(item, ensure_ascii=False) for item in items)
    return f"<{tag}>\n[{body}]\n</{tag}>"


def read_block(text: str, tag: str) -> list[Any] | None:
    """The JSON list inside ``<tag>...</tag>``, or None if absent or not JSON."""
    match = re.search(rf"<{tag}>\s*(.*?)\s*</{tag}>", text, re.DOTALL)
    if match is None:
        return None
    try:
        value = json.loads(match.group(1))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


def _fill(template: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def message_items(messages: Iterable[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def update_request(
    template: str,
    existing: Sequence[tuple[int, str]],
    new_items: Sequence[dict[str, str]],
    today: date,
) -> list[ChatMessage]:
    """Messages for the decision call. ``existing`` pairs small ids with texts;
    ``new_items`` are ``{"role", "content"}`` dicts (role ``fact`` in two-pass mode)."""
    user = _fill(
        template,
        {
            "existing_memories": render_block(
                "existing_memories", [{"id": i, "text": t} for i, t in existing]
            ),
            "new_messages": render_block("new_messages", list(new_items)),
            "today": today.isoformat(),
        },
    )
    return [ChatMessage(role="system", content=DECISIONS_CONTRACT), ChatMessage(role="user", content=user)]


def extraction_request(
    template: str, messages: Sequence[ChatMessage], today: date
) -> list[ChatMessage]:
    user = _fill(
        template,
        {"messages": render_block("messages", message_items(messages)), "today": today.isoformat()},
    )
    return [ChatMessage(role="system", content=FACTS_CONTRACT), ChatMessage(role="user", content=user)]


def repair_request(
    request: Sequence[ChatMessage], bad_reply: str, error: str, *, max_echo: int = 2000
) -> list[ChatMessage]:
    """The original request, the unusable reply (truncated), and what was wrong."""
    return [
        *request,
        ChatMessage(role="assistant", content=bad_reply[:max_echo] or "(empty reply)"),
        ChatMessage(role="user", content=REPAIR_INSTRUCTION.format(error=error)),
    ]

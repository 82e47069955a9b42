"""`memplane demo`: a scripted multi-session conversation on the embedded defaults.

It prints every applied ADD, UPDATE, DELETE and NONE event, searches, and shows the
history of a memory that changed. It exits 1 when one of the four event kinds did
not occur, so CI notices when the pipeline (or the `rules` LLM) regresses.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from memplane.config import DEFAULT_PROVIDERS, MemoryConfig
from memplane.memory import Memory
from memplane.models import HistoryEntry, MemoryEvent

EXPECTED_EVENTS = ("ADD", "UPDATE", "DELETE", "NONE")


@dataclass(frozen=True)
class Session:
    title: str
    messages: tuple[str, ...]


SCRIPT: tuple[Session, ...] = (
    Session(
        "session 1 - getting to know Alice",
        (
            "I live in Lisbon.",
            "I prefer Python for data analysis.",
            "I am a vegetarian.",
            "I have a dog named Bruno.",
        ),
    ),
    Session(
        "session 2 - a week later",
        (
            "I live in Lisbon.",
            "I switched to TypeScript for data analysis.",
            "I moved to Porto.",
        ),
    ),
    Session(
        "session 3 - a month later",
        (
            "Forget that I have a dog named Bruno.",
            "I no longer am a vegetarian.",
            "I enjoy hiking in the mountains on weekends.",
        ),
    ),
)

SEARCHES: tuple[str, ...] = (
    "Where does Alice live now?",
    "Which programming language does she use for data analysis?",
    "What does Alice do on weekends?",
)

BANNER = """\
memplane demo: a scripted conversation over {sessions} sessions, on the embedded defaults
  store:    sqlite ({store})
  embedder: {embedder}
  llm:      {llm}

"""
RULES_NOTE = """\
NOTE: the `rules` LLM is an approximate, offline stand-in. It recognises a few fixed
phrasings (first-person statements, "I switched to", "I moved to", "forget that",
"I no longer") so this demo runs without a model or an API key. Real use takes a real
LLM provider: from a checkout, pip install ./plugins/openai (or anthropic, gemini,
bedrock) and set MEMPLANE_LLM=openai:gpt-4o-mini, for example; or run a local GGUF
model with --llm llamacpp:smollm2-135m (docs/local.md).
"""
MODEL_NOTE = """\
NOTE: a real model decides every event below, exactly as it answered: nothing is
scripted or corrected. Small local models (SmolLM2-135M) extract poorly; judge a model
by this transcript. Which events occur is the model's doing, so the demo does not
require all four (it does with `rules`, where a missing kind is a memplane bug).
"""


def describe(event: MemoryEvent) -> str:
    if event.event == "UPDATE":
        return f"  UPDATE  {event.text}\n          (was: {event.previous_text})"
    return f"  {event.event:<6}  {event.text or ''}".rstrip()


def describe_history(entry: HistoryEntry) -> str:
    if entry.event == "UPDATE":
        text = f"{entry.old_text} -> {entry.new_text}"
    else:
        text = entry.new_text or entry.old_text or ""
    return f"  {entry.at:%Y-%m-%d %H:%M:%S}  {entry.event:<7} {text}"


@contextmanager
def store_location(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="memplane-demo-") as tmp:
        yield Path(tmp) / "demo.db"


def demo_config(db: Path, embedder: str, llm: str = "rules") -> MemoryConfig:
    return MemoryConfig.from_dict(
        {
            "llm": llm,
            "embedder": embedder,
            "vector_store": {"provider": "sqlite", "config": {"path": str(db)}},
        }
    )


def run_demo(out: TextIO, *, path: Path | None = None, embedder: str = DEFAULT_PROVIDERS["embedder"],
             script: Sequence[Session] = SCRIPT, searches: Sequence[str] = SEARCHES,
             llm: str = "rules") -> int:
    """Run the script; returns 0 when all four event kinds occurred (or, with a real
    ``llm``, whatever it decided), else 1."""
    with store_location(path) as db:
        # A store kept from an earlier run already knows Alice; a fresh user id keeps
        # this run's events meaningful.
        user = "alice" if not db.exists() else f"alice-{uuid.uuid4().hex[:8]}"
        with Memory(demo_config(db, embedder, llm)) as memory:  # fails early on a bad provider
            out.write(BANNER.format(sessions=len(script), llm=llm,
                                    store=db if path else "a temporary file", embedder=embedder))
            out.write(RULES_NOTE if llm == "rules" else MODEL_NOTE)
            seen, updated_id = _converse(memory, user, script, out)
            _search(memory, user, searches, out)
            if updated_id is not None:
                out.write(f"\nhistory of memory {updated_id}:\n")
                for entry in memory.history(updated_id, user_id=user):
                    out.write(describe_history(entry) + "\n")
        if path is not None:
            out.write(
                f"\nThe store is kept at {db}. Explore it with, for example:\n"
                f"  MEMPLANE_VECTOR_STORE__PATH={db} MEMPLANE_LLM={llm} "
                f"MEMPLANE_EMBEDDER={embedder} memplane --user {user} list\n"
            )
    missing = [kind for kind in EXPECTED_EVENTS if kind not in seen]
    if missing and llm != "rules":
        out.write(f"\nThe model produced {', '.join(sorted(seen)) or 'no'} events "
                  f"(not: {', '.join(missing)}).\n")
        return 0
    if missing:
        out.write(f"\nFAILED: the demo expected {', '.join(EXPECTED_EVENTS)} events; "
                  f"missing: {', '.join(missing)}\n")
        return 1
    out.write(f"\nOK: the conversation produced {', '.join(EXPECTED_EVENTS)} events.\n")
    return 0


def _converse(memory: Memory, user: str, script: Sequence[Session],
              out: TextIO) -> tuple[set[str], str | None]:
    seen: set[str] = set()
    updated_id: str | None = None
    for session in script:
        out.write(f"\n== {session.title} ==\n")
        for message in session.messages:
            out.write(f"user: {message}\n")
            result = memory.add(message, user_id=user)
            for event in result.events:
                seen.add(event.event)
                out.write(describe(event) + "\n")
                if event.event == "UPDATE" and updated_id is None:
                    updated_id = event.id
            for diagnostic in result.diagnostics:
                out.write(f"  note: {diagnostic.code}: {diagnostic.message}\n")
    return seen, updated_id


def _search(memory: Memory, user: str, searches: Sequence[str], out: TextIO) -> None:
    out.write("\n== searches ==\n(score: the fused ranking score in [0, 1], higher is better; "
              "similarity: the vector match, (1 + cosine) / 2)\n")
    for query in searches:
        out.write(f"? {query}\n")
        hits = memory.search(query, user_id=user, limit=3, explain=True)
        for hit in hits:
            similarity = hit.signals.get("vector_score")
            detail = f"  (similarity {similarity:.3f})" if similarity is not None else ""
            out.write(f"  {hit.score:.3f}  {hit.text}{detail}\n")
        if not hits:
            out.write("  (no matches)\n")

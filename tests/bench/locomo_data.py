"""Loading LoCoMo: the turns to ingest and the questions to ask, per conversation.

The data file is read from where the user points (``--data`` or ``MEMPLANE_LOCOMO``);
it is never part of the repository (CC BY-NC 4.0).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "locomo10.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}

_SESSION = re.compile(r"session_(\d+)")
_EVIDENCE = re.compile(r"D:?(\d+):0*(\d+)")


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    session: int
    session_date: str
    observed_at: datetime | None

    @property
    def memory_text(self) -> str:
        """What gets ingested: the turn verbatim, prefixed with its speaker."""
        return f"{self.speaker}: {self.text}"


@dataclass(frozen=True)
class Question:
    question: str
    category: int
    evidence: tuple[str, ...]


@dataclass
class Conversation:
    sample_id: str
    turns: list[Turn]
    questions: list[Question]
    dropped_evidence: list[str] = field(default_factory=list)
    questions_without_evidence: int = 0


def data_path(option: str | None) -> Path:
    """``--data``, else ``MEMPLANE_LOCOMO``, else the default beside the repository."""
    chosen = option or os.environ.get("MEMPLANE_LOCOMO") or str(DEFAULT_DATA)
    path = Path(chosen).expanduser()
    if not path.is_file():
        raise SystemExit(
            f"LoCoMo data not found at {path}: download locomo10.json from the LoCoMo "
            "project (snap-research/LoCoMo) and pass --data PATH or set MEMPLANE_LOCOMO"
        )
    return path


def parse_session_date(text: str) -> datetime | None:
    """'1:56 pm on 8 May, 2023' -> datetime; the data names no zone, UTC is assumed."""
    try:
        return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)
    except ValueError:
        return None


def normalise_evidence(raw: str) -> list[str]:
    """Evidence ids as the turns spell them: 'D8:6; D9:17' -> ['D8:6', 'D9:17'],
    'D:11:26' -> ['D11:26'], 'D30:05' -> ['D30:5']."""
    return [f"D{s}:{t}" for s, t in _EVIDENCE.findall(raw)]


def load(path: Path, *, limit: int | None = None) -> list[Conversation]:
    """The conversations with their turns (in order) and category 1-4 questions.

    Evidence ids that name no turn of the conversation are dropped (the data has a
    few); a question left with no evidence is skipped and counted.
    """
    raw = json.loads(path.read_text(encoding="utf-8"))
    conversations = []
    for item in raw[:limit]:
        conv = item["conversation"]
        turns: list[Turn] = []
        sessions = sorted(
            (int(m.group(1)), key) for key in conv if (m := _SESSION.fullmatch(key))
        )
        for number, key in sessions:
            date = conv.get(f"{key}_date_time", "")
            for t in conv[key]:
                turns.append(
                    Turn(
                        dia_id=t["dia_id"],
                        speaker=t["speaker"],
                        text=t["text"],
                        session=number,
                        session_date=date,
                        observed_at=parse_session_date(date),
                    )
                )
        known = {t.dia_id for t in turns}
        result = Conversation(sample_id=item["sample_id"], turns=turns, questions=[])
        for qa in item["qa"]:
            if qa.get("category") not in CATEGORIES:
                continue
            evidence: list[str] = []
            for raw_id in qa.get("evidence", []):
                for eid in normalise_evidence(raw_id) or [raw_id]:
                    if eid in known and eid not in evidence:
                        evidence.append(eid)
                    elif eid not in known:
                        result.dropped_evidence.append(eid)
            if not evidence:
                result.questions_without_evidence += 1
                continue
            result.questions.append(Question(qa["question"], qa["category"], tuple(evidence)))
        conversations.append(result)
    return conversations

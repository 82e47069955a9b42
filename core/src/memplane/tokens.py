"""A deterministic, tokenizer-free estimate of how many tokens a text costs.

Real tokenizers (BPE vocabularies) are model-specific data files that memplane does
not ship. The estimate below is what ``AddResult.usage`` reports when a provider
does not return its own token counts, and what the prompt-size benchmark uses.

The rule, chosen to sit slightly *above* common BPE tokenizers on English prose and
JSON so budgets stay conservative:

- a run of letters/digits counts one token per started 4 characters
  (``"memory"`` -> 2, ``"a"`` -> 1, ``"12345"`` -> 2);
- every character of a script written without spaces (CJK ideographs, kana,
  hangul, Thai) counts one token;
- every other non-space character (punctuation, braces, quotes) counts one token;
- whitespace is free.
"""

from __future__ import annotations

import re

# Scripts written without spaces between words: one token per character.
_UNSPACED = (
    "\u0e00-\u0e7f"  # Thai
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\uac00-\ud7af"  # Hangul syllables
)
_PIECES = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+|[^\w\s]", re.UNICODE)


def estimate_tokens(text: str) -> int:
    """Approximate token count of ``text`` (see the module docstring for the rule)."""
    total = 0
    for piece in _PIECES.findall(text):
        total += (len(piece) + 3) // 4  # single characters (and unspaced script) -> 1
    return total

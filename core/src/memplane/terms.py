"""Language-neutral term splitting, shared by keyword scoring in core and the
in-memory store (the SQLite store tokenises inside FTS5 in the same spirit)."""

from __future__ import annotations

import re

# Scripts written without spaces: index overlapping character pairs instead of words,
# so keyword search works for Chinese, Japanese, Korean and Thai without a segmenter.
_UNSPACED = "\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_WORDS = re.compile(r"\w+", re.UNICODE)
_UNSPACED_RUN = re.compile(rf"[{_UNSPACED}]+")
_UNSPACED_ANY = re.compile(rf"[{_UNSPACED}]")


def keyword_terms(text: str) -> list[str]:
    """Language-neutral terms: case-folded word runs, plus character bigrams for
    runs of unspaced scripts. No stemming and no stop-word list on purpose."""
    folded = text.casefold()
    words: list[str] = _WORDS.findall(folded)
    if not _UNSPACED_ANY.search(folded):  # no unspaced script: every word is a term
        return words
    terms: list[str] = []
    for word in words:
        if _UNSPACED_RUN.fullmatch(word) and len(word) > 1:
            terms.extend(word[i : i + 2] for i in range(len(word) - 1))
        else:
            terms.append(word)
    return terms

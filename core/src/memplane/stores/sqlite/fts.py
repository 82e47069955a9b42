"""Text analysis for keyword search.

FTS5's ``unicode61`` tokenizer (with ``remove_diacritics 2``) splits on anything
that is not a letter, number or private-use character and folds case and accents
for every script. It cannot split scripts written without spaces (Chinese,
Japanese, Thai, ...): a whole sentence would become one token. So before
indexing, runs of such characters are rewritten as overlapping character bigrams
plus single characters (the classic CJK analyzer approach); the query goes
through the same rewriting. The analysed text is stored in ``records.fts_text``
and indexed by an external-content FTS5 table (new rows by the store once per write
batch, changed and deleted rows by triggers).

Every query token is emitted as a double-quoted FTS5 string, so operators,
column filters, ``NEAR``, ``*`` or quotes typed by a user are plain text.

Query tokens found in more than a share of the scope's rows (``common_term_share``,
default 10%, and never fewer than ``COMMON_TERM_MIN_ROWS`` rows) are left out of
the query. BM25 gives such terms almost no weight (their IDF is near zero), but
FTS5 would still score and sort every row that holds them: on a large scope a
single "the" or a user's own name makes the keyword query read the whole scope.
Each token's count is probed with a LIMIT, so the check costs at most that many
postings per token.

FTS5's bm25 picks the candidates; their score is then the sum of the scope IDF of
the distinct kept query tokens each one holds (BM25 without term-frequency
saturation or length normalisation). Memories are a sentence or two: saying a
word twice, or being short, is not evidence of relevance, and on the LoCoMo
benchmark this scoring retrieves more evidence than bm25's (docs/benchmarks.md).
Memories that are not short (an assistant's answer stored verbatim) are
length-normalised by the core's fusion (``memplane.fusion``, ``keyword_length_pivot``),
which works the same for every store's keyword search.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import unicodedata

from memplane.models import Scope

MAX_QUERY_TOKENS = 64
#: a query token is only dropped as common when it occurs in more rows than this
COMMON_TERM_MIN_ROWS = 20

# scripts written without spaces between words
_UNSPACED_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x3130, 0x318F),  # Hangul compatibility jamo
    (0x31F0, 0x31FF),  # Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3134F),  # CJK extensions B..G
)


_UNSPACED_RUN = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _UNSPACED_RANGES) + "]+")


def _expand(run: str, *, for_query: bool) -> list[str]:
    """Character bigrams of an unspaced run; the index also keeps single characters
    so that one-character queries match."""
    bigrams = [run[i : i + 2] for i in range(len(run) - 1)]
    if for_query:
        return bigrams or [run]
    return [*run, *bigrams]


def index_text(text: str) -> str:
    """What goes into ``records.fts_text``: the text itself, with unspaced runs
    rewritten as characters and bigrams (unicode61 tokenises the rest)."""
    text = unicodedata.normalize("NFKC", text)
    if _UNSPACED_RUN.search(text) is None:
        return text
    return _UNSPACED_RUN.sub(lambda m: " " + " ".join(_expand(m.group(), for_query=False)) + " ", text)


def _words(segment: str) -> list[str]:
    """Runs of letters, marks and digits (roughly what unicode61 keeps)."""
    words: list[str] = []
    current: list[str] = []
    for char in segment:
        if unicodedata.category(char)[0] in "LNM":
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def query_tokens(query: str) -> list[str]:
    query = unicodedata.normalize("NFKC", query)
    tokens: list[str] = []
    position = 0
    for match in _UNSPACED_RUN.finditer(query):
        tokens.extend(_words(query[position : match.start()]))
        tokens.extend(_expand(match.group(), for_query=True))
        position = match.end()
    tokens.extend(_words(query[position:]))
    # one token per indexed term: "The" and "the" are the same word to the index
    distinct = {_folded(token): token for token in reversed(tokens)}
    return list(reversed(distinct.values()))[:MAX_QUERY_TOKENS]


def _folded(token: str) -> str:
    """Roughly what unicode61 indexes a word as: case-folded, accents removed."""
    decomposed = unicodedata.normalize("NFKD", token.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


_SCOPE_PREFIX = {"user_id": "u", "agent_id": "a", "run_id": "r"}


def scope_terms(scope: Scope) -> str:
    """One opaque token per scope id (a hash: any id becomes one alphanumeric word),
    indexed beside the text so a query ranks only the scope's documents."""
    return " ".join(_scope_token(name, value) for name, value in scope.items())


@functools.lru_cache(maxsize=8192)
def _scope_token(name: str, value: str) -> str:
    # cached: a bulk write hashes the same few scope ids for every row
    return _SCOPE_PREFIX[name] + hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def _quoted(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def match_expression(tokens: list[str], scope: Scope) -> str | None:
    """An FTS5 MATCH expression: every scope token, and any of the quoted query tokens
    (from :func:`query_tokens`) in the text column (None: nothing to match). The store
    still checks the scope in SQL; the scope tokens only keep FTS5 from ranking other
    tenants' documents."""
    if not tokens:
        return None
    scoped = [f"scope_terms : {_quoted(term)}" for term in scope_terms(scope).split()]
    return " AND ".join([*scoped, f"({text_expression(tokens)})"])


def text_expression(tokens: list[str]) -> str:
    """Any of the quoted query tokens in the text column, without the scope terms: for
    a query that also names the candidate rows, where AND-ing the scope's posting list
    (every row of the scope) would cost more than the rest of the query."""
    return " OR ".join(f"fts_text : {_quoted(token)}" for token in tokens)


def term_expression(token: str, scope: Scope) -> str:
    """Matches the scope's rows whose text holds ``token``."""
    scoped = [f"scope_terms : {_quoted(term)}" for term in scope_terms(scope).split()]
    return " AND ".join([*scoped, f"fts_text : {_quoted(token)}"])


def common_term_limit(scope_rows: int, share: float) -> int:
    """How many of a scope's rows a query token may occur in and still be searched."""
    return max(COMMON_TERM_MIN_ROWS, int(share * scope_rows))


def idf(scope_rows: int, rows_with_term: int) -> float:
    """BM25's inverse document frequency over the scope (floored just above 0, as
    FTS5 does, so a term in most rows still counts for a little)."""
    n = min(rows_with_term, scope_rows)
    return max(1e-6, math.log((scope_rows - n + 0.5) / (n + 0.5)))


def relevance_to_score(relevance: float) -> float:
    """Map an unbounded relevance ``s >= 0`` to ``s / (1 + s)`` in [0, 1)."""
    strength = max(0.0, float(relevance))
    return strength / (1.0 + strength)

"""Error messages in the CLI's own words.

The API's errors tell a Python caller what to pass (``include_deleted=True``,
``reranker=``); at the command line that advice is wrong, so :func:`for_cli`
rewrites each known phrase into the flag or config setting that does the same.
"""

from __future__ import annotations

#: (API phrase, CLI phrase); checked in order, literal matches.
REWRITES: tuple[tuple[str, str], ...] = (
    ("pass include_deleted=True", "pass --include-deleted"),
    ("pass include_expired=True", "pass --include-expired"),
    ("pass at least one of user_id=, agent_id= or run_id=", "pass --user, --agent or --run (at least one)"),
    ("search(rerank=True) needs a reranker: set the `reranker` block (e.g. reranker: llm) "
     "or pass reranker= to Memory",
     "--rerank needs a reranker: set `reranker: llm` in the config file (--config) or "
     "MEMPLANE_RERANKER=llm"),
    ("call search(hybrid=False)", "set `search: {hybrid: false}` in the config file (or MEMPLANE_SEARCH__HYBRID=false)"),
    ("(pipeline.max_message_chars)", "(pipeline.max_message_chars in the config file)"),
    # a lone surrogate on the command line is a byte that was not UTF-8 (Python keeps it
    # as U+DC80..U+DCFF): the Python advice to decode with errors='replace' does not apply
    ("decode the input with errors='replace'",
     "the command line held bytes that are not UTF-8: pass the text in UTF-8"),
)


def for_cli(message: str) -> str:
    for api, cli in REWRITES:
        message = message.replace(api, cli)
    return message

"""The llama.cpp runtime: an in-process xllamacpp server, created on first use.

The provider talks to it with OpenAI-style chat-completion dicts
(``handle_chat_completions``), so grammar-constrained JSON (``response_format``),
the GGUF's own chat template and token usage all come from llama.cpp itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol


class Runtime(Protocol):
    """What the provider needs from llama.cpp: one blocking chat-completion call."""

    def handle_chat_completions(self, request: dict[str, Any]) -> Any: ...


def start_server(model: Path, *, threads: int, context_size: int, passive_wait: bool,
                 chat_template: str | None, seed: int) -> Runtime:
    """Load ``model`` into an xllamacpp server (imports the SDK: slow, done lazily)."""
    if passive_wait:
        # OpenMP worker threads spin between tokens by default; on shared cores that
        # steals the time the other threads need (measured ~10x slower). Read once,
        # when libgomp starts, so it only helps if nothing loaded OpenMP before us.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import xllamacpp  # type: ignore[import-untyped]  # ships no type information

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.n_ctx = context_size
    params.n_parallel = 1  # one slot: the whole context serves one request at a time
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.warmup = False  # a warm-up pass costs start-up time and buys nothing here
    params.verbosity = -1  # llama.cpp logs every token's timing to stderr otherwise
    params.use_jinja = True  # the GGUF's own chat template, rendered by llama.cpp
    params.sampling.seed = seed
    if chat_template:
        params.chat_template = chat_template
    return xllamacpp.Server(params)  # type: ignore[no-any-return]

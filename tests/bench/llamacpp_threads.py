"""llama.cpp thread settings on this machine: tokens/s of the packaged SmolLM2-135M.

    python -m tests.bench.llamacpp_threads [--runs 3]

Each setting runs in its own process (OMP_WAIT_POLICY is read once, when OpenMP
starts): one warm-up call, then ``--runs`` timed calls of one fixed memory-decision
prompt. Shared cores make absolute numbers noisy; compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

SETTINGS = [  # (label, threads, OMP_WAIT_POLICY)
    ("1 thread", 1, "ACTIVE"),
    ("2 threads, spinning (OpenMP default)", 2, "ACTIVE"),
    ("2 threads, OMP_WAIT_POLICY=PASSIVE", 2, "PASSIVE"),
    ("1 thread, OMP_WAIT_POLICY=PASSIVE", 1, "PASSIVE"),
]

_PROBE = """
import json, sys, time
from memplane.models import ChatMessage, DecisionList
from memplane_llamacpp.llm import LlamaCppLLM
threads, runs = int(sys.argv[1]), int(sys.argv[2])
llm = LlamaCppLLM({"threads": threads, "passive_wait": False, "max_tokens": 96})
chat = [ChatMessage(role="system", content="Turn the user's message into memory decisions."),
        ChatMessage(role="user", content="I moved to Lisbon last year and I work as a nurse.")]
schema = DecisionList.model_json_schema()
t = time.perf_counter(); llm.generate(chat, json_schema=schema); load = time.perf_counter() - t
rates = []
for _ in range(runs):
    t = time.perf_counter(); r = llm.generate(chat, json_schema=schema); dt = time.perf_counter() - t
    rates.append(r.usage.completion_tokens / dt)
print(json.dumps({"first_call_s": load, "tokens_per_s": rates}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("| setting | first call (load + answer) | completion tokens/s (median) |")
    print("|---|---|---|")
    for label, threads, policy in SETTINGS:
        env = {**os.environ, "OMP_WAIT_POLICY": policy}
        out = subprocess.run([sys.executable, "-c", _PROBE, str(threads), str(args.runs)],
                             env=env, capture_output=True, text=True, check=True, timeout=900)
        data = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {label} | {data['first_call_s']:.1f} s | "
              f"{statistics.median(data['tokens_per_s']):.1f} |", flush=True)


if __name__ == "__main__":
    main()

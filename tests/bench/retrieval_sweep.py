"""Choose fusion defaults on one half of every set, report them on the other half.

Reads the candidate lists dumped by ``retrieval_eval --dump`` (one file per run) and
scores a grid of ``boost`` settings. For each direction (choose on half A, report on
half B; and the reverse) the chosen setting is the one with the best mean gain in
recall@10 over vector-only across the choosing half's sets, among the settings that
lower no set's recall@10 below vector-only on that half. The held-out half is only
read to report the chosen setting.

    python -m tests.bench.retrieval_sweep /tmp/cands-*.pkl
"""

from __future__ import annotations

import functools
import itertools
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import memplane.fusion
from tests.bench import retrieval_eval as ev

# keyword_terms is pure; memoise it for the sweep (the product computes it per search)
memplane.fusion.keyword_terms = functools.lru_cache(maxsize=None)(memplane.fusion.keyword_terms)  # type: ignore[assignment]


def load(paths: list[str]) -> dict[tuple[str, str], tuple[ev.EvalSet, list[ev.Asked]]]:
    out = {}
    for path in paths:
        with open(path, "rb") as fh:
            while True:
                try:
                    s, asked = pickle.load(fh)
                except EOFError:
                    break
                out[(s.name, s.half)] = (s, asked)
    return out


def grid() -> dict[str, str]:
    specs = {"vector": "vector", "default(old)": "boost:"}
    for pivot, b in itertools.product((0, 40, 80), (0.5, 1.0)):
        if pivot == 0 and b != 0.5:
            continue
        for depth, power, floor in ((0, 1, 0), (10, 1, 0), (10, 2, 0), (20, 1, 0), (10, 1, 0.25), (5, 1, 0)):
            for share in (0.5, 0.67):
                specs[f"p{pivot} b{b} d{depth} pow{power} fl{floor} s{share}"] = (
                    f"boost:pivot={pivot},b={b},depth={depth},power={power},floor={floor},share={share}")
    return specs


def main() -> None:
    data = load(sys.argv[1:])
    specs = grid()
    table: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for label, spec in specs.items():
        variant = ev.VARIANTS[spec] if spec in ev.VARIANTS else ev.parse_variant(spec)
        table[label] = {key: ev.score(s, asked, variant) for key, (s, asked) in data.items()}
        print(label, " ".join(f"{k[0]}/{k[1]}={v['overall']['recall@10']:.3f}"
                              for k, v in sorted(table[label].items())), file=sys.stderr, flush=True)
    names = sorted({k[0] for k in data})
    result: dict[str, Any] = {"grid": {label: {f"{k[0]}/{k[1]}": v for k, v in rows.items()}
                                       for label, rows in table.items()}}
    for choose, report in (("A", "B"), ("B", "A")):
        def gains(label: str, half: str) -> list[float]:
            return [table[label][(n, half)]["overall"]["recall@10"]
                    - table["vector"][(n, half)]["overall"]["recall@10"] for n in names]
        ok = [label for label in specs if label != "vector" and min(gains(label, choose)) >= 0]
        best = max(ok, key=lambda label: sum(gains(label, choose)) / len(names))
        result[f"choose_{choose}_report_{report}"] = {
            "chosen": best, "spec": specs[best],
            "choosing_half_gain": dict(zip(names, gains(best, choose), strict=True)),
            "held_out_gain": dict(zip(names, gains(best, report), strict=True)),
        }
        print(json.dumps(result[f"choose_{choose}_report_{report}"], indent=1))
    Path("/tmp/retr_sweep.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

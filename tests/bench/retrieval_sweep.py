"""Choose fusion defaults on one half of every set, report them on the other half.

Reads the candidate lists dumped by ``retrieval_eval --dump`` (one file per run) and
scores a grid of ``boost`` settings. For each direction (choose on half A, report on
half B; and the reverse) the chosen setting is the one with the best mean gain in
recall@10 over vector-only across the choosing half's sets, among the settings that
lower no set's recall@10 below vector-only on that half. The held-out half is only
read to report the chosen setting.

    python -m tests.bench.retrieval_sweep /tmp/cands-*.pkl
    python -m tests.bench.retrieval_sweep --grid reserve /tmp/cands-*.pkl   # vector slots

``--grid reserve`` scores the current default (length pivot 100, b 1) with
vector-only's top ``reserve`` hits kept in the top 10 (``search.vector_reserved``),
alone and with larger keyword shares. Besides the overall rule, it prints for each
setting how many (set, category) cells of the choosing half fall below vector-only.
"""

from __future__ import annotations

import functools
import json
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
        for s, asked in ev.read_dump(path):
            out[(s.name, s.half)] = (s, asked)
    return out


def grid() -> dict[str, str]:
    specs = {"vector": "vector", "default(old)": "boost:"}
    for pivot, b in ((0, 0.5), (100, 1.0), (150, 0.5), (150, 1.0), (250, 1.0)):
        for extra in ("", "conf=3", "depth=10,floor=0.5"):
            for share in (0.5, 0.6, 0.67, 0.75):
                body = f"pivot={pivot},b={b},share={share}" + ("," + extra if extra else "")
                specs[body] = "boost:" + body
    return specs


def reserve_grid() -> dict[str, str]:
    specs = {"vector": "vector"}
    for share in (0.5, 0.6, 0.67, 0.75):
        for reserve in (0, 1, 2, 3, 4, 5):
            body = f"pivot=100,b=1.0,share={share}" + (f",reserve={reserve}" if reserve else "")
            specs[body] = "boost:" + body
    return specs


def below_vector(table: dict[str, Any], label: str, half: str, names: list[str]) -> list[str]:
    """The (set, category) cells of ``half`` where ``label`` is below vector-only."""
    out = []
    for n in names:
        row, base = table[label][(n, half)], table["vector"][(n, half)]
        for cat, summ in row.items():
            if cat != "overall" and summ.get("recall@10", 0) < base[cat].get("recall@10", 0) - 1e-9:
                out.append(f"{n}:{cat} {summ['recall@10']:.3f}<{base[cat]['recall@10']:.3f}")
    return out


def main() -> None:
    args = sys.argv[1:]
    which = "fusion"
    if args[:1] == ["--grid"]:
        which, args = args[1], args[2:]
    data = load(args)
    specs = grid() if which == "fusion" else reserve_grid()
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
        for label in ok:
            cells = below_vector(table, label, choose, names)
            print(f"{choose} {label}: mean gain {sum(gains(label, choose)) / len(names):+.4f}, "
                  f"{len(cells)} cells below vector {cells}", file=sys.stderr)
        best = max(ok, key=lambda label: sum(gains(label, choose)) / len(names))
        result[f"choose_{choose}_report_{report}"] = {
            "chosen": best, "spec": specs[best],
            "choosing_half_gain": dict(zip(names, gains(best, choose), strict=True)),
            "held_out_gain": dict(zip(names, gains(best, report), strict=True)),
        }
        print(json.dumps(result[f"choose_{choose}_report_{report}"], indent=1))
    Path(f"/tmp/retr_sweep_{which}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

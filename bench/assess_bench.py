"""Batch assessment throughput against the cost of only parsing and re-serialising the JSON.

Run: .venv/bin/python bench/assess_bench.py [--cases 3000] [--rounds 3]

Both loops see the same JSON Lines (the bundled examples, repeated) in the same process, one
core, so the ratio says what the clinical work costs on top of reading and writing the data.
Figures go to docs/performance.md; nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

from secondlook.case import load_case_text
from secondlook.engine import assess
from secondlook.examples import load_examples


def lines(count: int) -> list[str]:
    docs = list(load_examples().values())
    return [json.dumps(docs[i % len(docs)]) for i in range(count)]


def baseline(batch: list[str]) -> None:
    for line in batch:
        json.dumps(json.loads(line))


def full(batch: list[str]) -> None:
    for line in batch:
        json.dumps(assess(load_case_text(line)))


def measure(fn: object, batch: list[str], rounds: int) -> float:
    assert callable(fn)
    fn(batch[:50])  # warm caches: knowledge base, compiled conditions
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    batch = lines(args.cases)
    t_base = measure(baseline, batch, args.rounds)
    t_full = measure(full, batch, args.rounds)
    print(f"python {platform.python_version()} on {platform.machine()}, {args.cases} cases")
    print(f"parse+dump only:        {args.cases / t_base:10.0f} cases/s")
    print(f"validate+assess+dump:   {args.cases / t_full:10.0f} cases/s")
    print(f"ratio (assess/baseline): {t_full / t_base:9.1f}x")


if __name__ == "__main__":
    main()

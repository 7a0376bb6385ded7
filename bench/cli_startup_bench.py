"""How long a command of the command line takes from start to exit, as a user runs it.

Run: .venv/bin/python bench/cli_startup_bench.py [--runs 15]

Each command runs as a fresh process (`python -m secondlook.cli ...`), so the time includes the
interpreter, the imports the command needs and its work; the baseline is `python -c pass`.
Figures go to docs/performance.md; nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "src/secondlook/examples/recurrent-disc.json"
COMMANDS: dict[str, list[str]] = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "secondlook score phq-9": [
        *(sys.executable, "-m", "secondlook.cli"),
        *("score", "phq-9", "--answers", "1,0,2,1,0,1,0,0,1"),
    ],
    "secondlook assess (one case)": [
        sys.executable,
        "-m",
        "secondlook.cli",
        "assess",
        str(EXAMPLE),
    ],
    "secondlook validate": [sys.executable, "-m", "secondlook.cli", "validate", str(EXAMPLE)],
    "secondlook care --help": [sys.executable, "-m", "secondlook.cli", "care", "--help"],
}


def run(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {args.runs} runs each (after one warm-up)")
    for name, command in COMMANDS.items():
        run(command)  # warm the file cache and the bytecode
        times = sorted(run(command) for _ in range(args.runs))
        p90 = times[int(0.9 * (len(times) - 1))]
        print(
            f"{name:<32} median {statistics.median(times) * 1000:6.0f} ms  p90 {p90 * 1000:6.0f} ms"
        )


if __name__ == "__main__":
    main()

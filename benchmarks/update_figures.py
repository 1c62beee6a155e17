"""Regenerate the figures taken from the bench results in benchmarks/results/: the advice's `autotrack/cpu_speed.json`
(written) and the README's speed tables (printed, one block per `<!-- speed-table:NAME:start -->` marker).

    python benchmarks/update_figures.py

tests/test_advice.py and tests/test_bench.py fail while either differs from the result files.
"""

from __future__ import annotations

import json
from pathlib import Path

from autotrack.advice import FIGURES
from autotrack.bench import load_results, speed_figures, speed_tables

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    results = load_results(RESULTS)
    FIGURES.write_text(json.dumps(speed_figures(results), indent=2) + "\n")
    print(f"wrote {FIGURES}")
    for name, rows in speed_tables(results).items():
        print(f"\n<!-- speed-table:{name}:start --> rows:")
        print("\n".join(rows))


if __name__ == "__main__":
    main()

"""How long the portal's upload pre-check takes on a 10,000-row month and on the 267,511-row history.

`.venv/bin/python -m bench.precheck --landing DIR [--out docs/precheck.json]` takes the landing files of
`credit-assets generate --scale full` (DIR/applications_2020-09.csv is the history). Each file is checked in
a fresh process, as a portal worker would meet it: the first call (GX imported and warmed on the way) and
two more, with the process's peak resident memory. The month is checked against the history's IDs, as the
leakage rule does once the history is stored. Only `credit_assets.core`.
"""

import argparse
import json
import multiprocessing
import resource
import statistics
from pathlib import Path
from typing import Any

import pandas as pd

from credit_assets.core.contract import schema
from credit_assets.core.contract.precheck import precheck
from credit_assets.core.months import landing_file_name

ROOT = Path(__file__).resolve().parents[1]
HISTORY, MONTH = "2020-09", "2020-10"
REPEATS = 3


def _measure(path: Path, earlier_ids: list[int], queue: multiprocessing.Queue) -> None:
    results = [precheck(path, earlier_ids) for _ in range(REPEATS)]
    assert all(result.passed for result in results), results[0].problems
    queue.put(
        {
            "file": path.name,
            "rows": results[0].rows,
            "first_seconds": round(results[0].seconds, 2),
            "later_seconds_median": round(statistics.median(r.seconds for r in results[1:]), 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
    )


def measure(path: Path, earlier_ids: list[int]) -> dict[str, Any]:
    """The pre-check of one file in a fresh process."""
    queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(target=_measure, args=(path, earlier_ids, queue))
    process.start()
    found = queue.get()
    process.join()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "precheck.json")
    args = parser.parse_args()
    history = args.landing / landing_file_name(HISTORY)
    history_ids = pd.read_csv(history, usecols=[schema.ID_COLUMN])[schema.ID_COLUMN].tolist()
    figures = [measure(args.landing / landing_file_name(MONTH), history_ids), measure(history, [])]
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

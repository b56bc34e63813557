"""24 months landed at once, with the real processes: each runs exactly once, in month order.

The daemon runs as `dagster-daemon run` on a fresh SQLite instance with the project's dagster.yaml (one run at a
time, run retries on). The months are small: what is measured is the machinery (sensor, run queue, run worker,
code server), not the model. `test_kill_recovery.py` kills the daemon and a run on the same setup.
"""

import itertools
from pathlib import Path

import dagster as dg

from credit_assets.synthetic.generate import GeneratorConfig
from credit_assets_tests.support.daemon import all_finished, daemon, landed_instance, run_times
from credit_assets_tests.support.e2e import wait_until

LANDED = GeneratorConfig(seed=23, history_rows=2_000, months=24, rows_per_month=120)
MONTHS = LANDED.month_keys  # the history 2020-09, then 24 months to 2022-09
ALL_MONTHS_SECONDS = 60 * 60  # a deadlock guard: 25 run processes in turn on a loaded 2-core machine


def test_months_landed_together_run_once_each_in_month_order(tmp_path: Path) -> None:
    home, storage_root = landed_instance(tmp_path, LANDED)
    with dg.DagsterInstance.from_config(str(home)) as instance, daemon(home, storage_root):
        runs = wait_until(
            lambda: all_finished(instance, len(MONTHS)), ALL_MONTHS_SECONDS, "every landed month's run", interval=5
        )
        assert [(run.tags["dagster/partition"], run.status) for run in runs] == [
            (month, dg.DagsterRunStatus.SUCCESS) for month in MONTHS
        ]
        timed = [run_times(instance, run) for run in runs]
        assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(timed)), "months overlapped"

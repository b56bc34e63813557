"""The history and eight months landed at once, with the real processes: each runs exactly once, in month order, and
the landing sensor's later ticks launch nothing more.

The daemon runs as `dagster-daemon run` on a fresh SQLite instance with the project's dagster.yaml (one run at a
time, run retries on). The months are small: what is measured is the machinery (sensor, run queue, run worker,
code server), not the model. `test_kill_recovery.py` kills the daemon and a run on the same setup.
"""

import itertools
from pathlib import Path

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorTick, TickStatus

from credit_assets.defs.jobs import ingest_month, score_month
from credit_assets.defs.landing_sensor import landing_sensor
from credit_assets.keys import PARTITION_TAG
from credit_assets.synthetic.generate import GeneratorConfig
from credit_assets_tests.support.daemon import all_finished, daemon, landed_instance, run_times, sensor_ticks
from credit_assets_tests.support.e2e import wait_until

# Eight months hold two scheduled reviews (every third month) and every kind of run the queue orders (ingest,
# develop, keep); 24 took 11 minutes of the suite's 15 once every development ran the LDA search, 12 took 10 once
# the multi-host test shared the machine with it.
LANDED = GeneratorConfig(seed=23, history_rows=2_000, months=8, rows_per_month=120)
MONTHS = LANDED.month_keys  # the history 2020-09, then 8 months to 2021-05
ALL_MONTHS_SECONDS = 60 * 60  # a deadlock guard: 9 run processes in turn on a loaded 2-core machine
MONTH_JOBS = {ingest_month.name, score_month.name}
TICKS_SECONDS = 10 * 60  # a deadlock guard: the sensor ticks every 30 s


def test_months_landed_together_run_once_each_in_month_order(tmp_path: Path) -> None:
    home, storage_root = landed_instance(tmp_path, LANDED)
    with dg.DagsterInstance.from_config(str(home)) as instance, daemon(home, storage_root):
        runs = wait_until(
            lambda: all_finished(instance, len(MONTHS)), ALL_MONTHS_SECONDS, "every landed month's run", interval=5
        )
        assert [(run.tags[PARTITION_TAG], run.status) for run in runs] == [
            (month, dg.DagsterRunStatus.SUCCESS) for month in MONTHS
        ]
        timed = [run_times(instance, run) for run in runs]
        assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(timed)), "months overlapped"

        # The sensor goes on scanning the same files: its next two ticks after the last run ended launch nothing.
        def two_later_ticks() -> list[InstigatorTick] | None:
            ticks = sensor_ticks(instance, landing_sensor.name, after=timed[-1][1])
            return ticks[:2] if len(ticks) >= 2 else None

        ticks = wait_until(two_later_ticks, TICKS_SECONDS, "two landing-sensor ticks after the last run", interval=5)
        assert [(tick.status, list(tick.run_ids)) for tick in ticks] == [(TickStatus.SKIPPED, [])] * 2, ticks
        # every run of a month's job is still one of the month runs (the freshness sensor's check runs follow the clock)
        month_job_runs = {run.run_id for run in instance.get_runs() if run.job_name in MONTH_JOBS}
        assert month_job_runs == {run.run_id for run in runs}, "a month ran again"

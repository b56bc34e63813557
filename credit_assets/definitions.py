"""The Dagster definitions of credit-assets: everything under `defs/`, steps sharing one process."""

import gc
from pathlib import Path

import dagster as dg


def build_defs(executor: dg.ExecutorDefinition) -> dg.Definitions:
    """The project's definitions with the given default executor (the Celery profile: definitions_celery.py)."""
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent), dg.Definitions(executor=executor)
    )


# steps share one process: a fresh process per step re-imports these definitions (about 5 s a step)
defs = build_defs(dg.in_process_executor)

# Every process that runs the project loads this module first. What the imports and definitions leave behind
# lives as long as the process; frozen, it is no longer traversed by each full garbage collection of the run's
# steps (a full-scale month runs 0.3-0.4 s faster; the plain benchmark script, with a smaller heap, gains nothing).
gc.freeze()

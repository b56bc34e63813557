"""Each month's state, read from the Dagster instance: runs, events and materialisations, no bookkeeping of its own."""

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from credit_assets.core.months import FIRST_MONTH, history_note, landing_file_name
from credit_assets.core.store import ArtifactStore
from credit_assets.defs.jobs import ingest_month
from credit_assets.keys import (
    DECISION_COUNTS,
    DECISION_SHARES,
    FORECAST_PERFORMANCE,
    FORECASTS,
    LABELLED,
    LANDING_SHA256_TAG,
    MODEL_VERSION,
    PARTITION_TAG,
    RAW_APPLICATIONS,
    ROC_AUC,
    SOURCE_SHA256,
)

MONTH_RUNS = 20  # a month's newest runs the portal reads: its own, reruns and the automation's report refreshes
IN_PROGRESS = {
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
}
# A run waits in one of these until its first step starts: the sensor creates runs NOT_STARTED, the queue holds
# them QUEUED, a launched worker is STARTING and then STARTED while it loads the definitions.
WAITING = {
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
}
VALIDATION_STEPS = {"raw_applications", "validated_applications"}
# What each step of the month jobs does, in the credit department's words; a check step (asset name, '_', check
# name) is described by its asset. A report step's checks run with it, so one phrase covers them.
PLAIN_STEPS = {
    "raw_applications": "reading the file",
    "validated_applications": "checking the file",
    "data_profile": "profiling the file",
    "features": "preparing the features",
    "model": "training the model",
    "forecasts": "scoring the applications",
    "decisions": "comparing the live decisions with the batch",
    "adverse_action_notices": "writing the adverse-action notices",
    **dict.fromkeys(
        [
            "decision_economics",
            "drift",
            "fairness",
            "forecast_performance",
            "model_comparison",
            "model_documentation",
        ],
        "writing the reports",
    ),
}
RAW_APPLICATIONS_KEY = dg.AssetKey(RAW_APPLICATIONS)
_FAILURE_EVENTS = {
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.RUN_FAILURE,
}


@dataclass(frozen=True)
class MonthStatus:
    """Where a month stands: landed, queued, validating, scoring, scored, ingested (the history) or failed, and why."""

    month: str
    state: str
    detail: str
    run_id: str | None = None
    model_version: str | None = None
    decision_shares: dict[str, float] = field(default_factory=dict)
    decision_counts: dict[str, int] = field(default_factory=dict)
    labelled: bool = False
    forecast_auc: float | None = None

    @property
    def history(self) -> bool:
        """The history month: kept for training, never scored, so it never has anything to download."""
        return self.month == FIRST_MONTH


class FileHashes:
    """SHA-256 of landing files, recomputed only when a file's size or content tag (its modification time or ETag)
    changes."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[tuple[int, str], str]] = {}

    def __call__(self, store: ArtifactStore, name: str) -> str | None:
        if not store.has_landing(name):
            return None
        info = store.landing_info(name)
        key, where = (info.size, info.tag), store.landing_location(name)
        if where not in self._known or self._known[where][0] != key:
            self._known[where] = (key, store.landing_sha256(name))
        return self._known[where][1]


def latest_metadata(instance: dg.DagsterInstance, asset: str, month: str) -> tuple[str, dict[str, Any]] | None:
    """(run id, metadata values) of the asset's newest materialisation of the month."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[month]), limit=1
    ).records
    if not records:
        return None
    metadata = records[0].asset_materialization.metadata
    return records[0].run_id, {key: value.value for key, value in metadata.items()}


def month_runs(instance: dg.DagsterInstance, month: str) -> list[dg.DagsterRun]:
    """The month's MONTH_RUNS newest runs, newest first."""
    return list(instance.get_runs(filters=dg.RunsFilter(tags={PARTITION_TAG: month}), limit=MONTH_RUNS))


def _latest_run(instance: dg.DagsterInstance, month: str) -> dg.DagsterRun | None:
    """The month's newest run that read its landing file (not a report refreshed by automation after labels)."""
    reading = (
        run
        for run in month_runs(instance, month)
        if not run.asset_selection or RAW_APPLICATIONS_KEY in run.asset_selection
    )
    return next(reading, None)


def plain_step(step_key: str) -> str:
    """What a step of the month jobs does, in plain words (the longest asset name the step key starts with)."""
    assets = [name for name in PLAIN_STEPS if step_key == name or step_key.startswith(f"{name}_")]
    return PLAIN_STEPS[max(assets, key=len)] if assets else f"running {step_key}"


def _running(instance: dg.DagsterInstance, run: dg.DagsterRun, month: str) -> MonthStatus:
    """Queued until a step starts, then validating (reading and checking the file; an ingest run, which scores
    nothing, stays there) or scoring, with what the step under way does. A state never moves back."""
    started = [entry.step_key for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)]
    if not started and run.status in WAITING:
        return MonthStatus(month, "queued", "waiting for its turn: months run one at a time, oldest first", run.run_id)
    current = started[-1] if started else None
    scoring = run.job_name != ingest_month.name and current not in VALIDATION_STEPS
    detail = plain_step(current) if current else run.status.value.lower()
    return MonthStatus(month, "scoring" if scoring else "validating", detail, run.run_id)


def failure_reasons(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The failed steps with their messages, then the failed blocking checks, in the order they happened."""
    reasons = []
    for entry in instance.all_logs(run_id, of_type=_FAILURE_EVENTS):
        event = entry.dagster_event
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            data = event.step_failure_data
            message = data.user_failure_data.description if data.user_failure_data else None
            reasons.append(f"{event.step_key} failed: {message or (data.error.message.strip() if data.error else '')}")
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            check = event.event_specific_data
            if not check.passed and check.severity == dg.AssetCheckSeverity.ERROR:
                reasons.append(f"check {check.check_name} failed: {check.description or ''}")
        elif not reasons:
            reasons.append(event.message or "the run failed")
    return reasons


def _run_source(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """The SHA-256 of the landing file a run read: its sensor tag, else its raw_applications metadata."""
    if LANDING_SHA256_TAG in run.tags:
        return run.tags[LANDING_SHA256_TAG]
    raw = latest_metadata(instance, RAW_APPLICATIONS, run.tags[PARTITION_TAG])
    return raw[1].get(SOURCE_SHA256) if raw and raw[0] == run.run_id else None


def month_status(
    instance: dg.DagsterInstance, store: ArtifactStore, month: str, hashes: FileHashes | None = None
) -> MonthStatus:
    """The month's state from its newest run, compared with the file in the landing folder (hashed by `hashes`)."""
    landed = (hashes or FileHashes())(store, landing_file_name(month))
    run = _latest_run(instance, month)
    if run is not None and run.status in IN_PROGRESS:
        return _running(instance, run, month)
    if run is None or (landed is not None and landed != _run_source(instance, run)):
        return MonthStatus(month, "landed", "waiting for the landing sensor to start its run")
    if run.status != dg.DagsterRunStatus.SUCCESS:
        reasons = failure_reasons(instance, run.run_id)
        return MonthStatus(month, "failed", " | ".join(reasons) or run.status.value.lower(), run.run_id)
    forecasts = latest_metadata(instance, FORECASTS, month)
    if forecasts is None:
        detail = history_note(month) if month == FIRST_MONTH else "validated; not scored yet"
        return MonthStatus(month, "ingested", detail, run.run_id)
    performance = latest_metadata(instance, FORECAST_PERFORMANCE, month)
    labelled = bool(performance and performance[1].get(LABELLED))
    return MonthStatus(
        month,
        "scored",
        "scored and labelled" if labelled else "scored; labels not landed yet",
        run.run_id,
        model_version=forecasts[1].get(MODEL_VERSION),
        decision_shares=forecasts[1].get(DECISION_SHARES) or {},
        decision_counts=forecasts[1].get(DECISION_COUNTS) or {},
        labelled=labelled,
        forecast_auc=performance[1].get(ROC_AUC) if labelled else None,
    )


def not_produced(month: str, what: str) -> str:
    """Why a month has no forecasts (or notices, ...) to download."""
    if month == FIRST_MONTH:
        return f"{history_note(month)}, so it has no {what}."
    return f"{month} has no {what} yet: it is produced once scored."


def known_months(instance: dg.DagsterInstance, store: ArtifactStore, partitions: list[str]) -> list[str]:
    """Months with a landing file or a materialisation, newest first."""
    landed = {month for month in partitions if store.has_landing(landing_file_name(month))}
    materialised = instance.get_materialized_partitions(RAW_APPLICATIONS_KEY)
    return sorted((landed | materialised) & set(partitions), reverse=True)

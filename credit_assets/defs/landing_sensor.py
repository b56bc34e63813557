"""landing_sensor: a new or changed monthly file in the landing folder requests a run of its month."""

import json
import time

import dagster as dg

from credit_assets.core.contract import schema
from credit_assets.core.contract.landing import labels_added
from credit_assets.core.months import month_of_landing_file
from credit_assets.defs.assets.forecasts import forecasts
from credit_assets.defs.assets.raw_applications import last_materialisation
from credit_assets.defs.assets.validated_applications import validated_applications
from credit_assets.defs.jobs import ingest_month, job_for_month, score_month
from credit_assets.defs.partitions import monthly_partitions, oldest_month_first
from credit_assets.defs.storage import StorageResource
from credit_assets.keys import LABELS_TAG, LANDING_FILE_TAG, LANDING_SHA256_TAG

# A file counts as complete once it has not changed for this long; copy tools that write in place are
# covered by it, and writers that rename a finished temp file into place are picked up on the next tick.
SETTLE_SECONDS = 10


def _skip_reason(name: str, month: str | None, known_months: set[str]) -> str | None:
    if month is None:
        return f"{name}: name does not fit the convention applications_YYYY-MM.csv"
    if month not in known_months:
        return f"{name}: month {month} is not a partition (first month, or not closed yet)"
    return None


def labels_landed(storage: StorageResource, name: str, month: str) -> bool:
    """A month already scored without labels, landed again with the same applications and their TARGET."""
    store, validated = storage.store, validated_applications.key.to_user_string()
    scored = store.has_table(forecasts.key.to_user_string(), month)
    if not (scored and store.has_table(validated, month)):
        return False
    columns = store.table_columns(validated, month)
    stored_ids = store.read_table(validated, month, [schema.ID_COLUMN])[schema.ID_COLUMN]
    return labels_added(name, store.read_landing(name), stored_ids, columns)


def _run_request(name: str, month: str, digest: str, labels_only: bool) -> dg.RunRequest:
    """Score the month, or, when only its labels landed, ingest it: its forecasts stand as they were issued, and
    the automation conditions on the performance reports re-evaluate them against the labels."""
    return dg.RunRequest(
        run_key=f"{name}:{digest[:16]}",
        partition_key=month,
        job_name=ingest_month.name if labels_only else job_for_month(month),
        tags={
            LANDING_FILE_TAG: name,
            LANDING_SHA256_TAG: digest,
            **({LABELS_TAG: "landed"} if labels_only else {}),
            **oldest_month_first(month),
        },
    )


def _evaluate_file(
    context: dg.SensorEvaluationContext,
    storage: StorageResource,
    name: str,
    seen: dict,
    known_months: set[str],
    now: float,
) -> tuple[dict | None, dg.RunRequest | None]:
    """The file's new cursor entry (None: unchanged or not settled) and its run request, if one is due."""
    info = storage.store.landing_info(name)
    state = {"size": info.size, "mtime_ns": info.tag}
    if (seen.get("size"), str(seen.get("mtime_ns"))) == (state["size"], state["mtime_ns"]):
        return None, None
    month = month_of_landing_file(name)
    reason = _skip_reason(name, month, known_months)
    if reason is not None:
        context.log.warning(f"skipped {reason}")
        return state, None
    if now - info.modified < SETTLE_SECONDS:
        context.log.info(f"{name}: still being written, waiting until it settles")
        return None, None
    digest = storage.store.landing_sha256(name)
    last = last_materialisation(context.instance, month)
    already_done = digest == seen.get("sha256") or (last is not None and last[0] == digest)
    request = None if already_done else _run_request(name, month, digest, labels_landed(storage, name, month))
    return {**state, "sha256": digest}, request


@dg.sensor(
    jobs=[ingest_month, score_month],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a run of a month's partition when its landing file is new or its content changed.",
)
def landing_sensor(context: dg.SensorEvaluationContext, storage: StorageResource) -> dg.SensorResult:
    """Scan the landing folder; one run request per file content not yet seen or materialised (key: name + SHA-256)."""
    cursor: dict[str, dict] = json.loads(context.cursor) if context.cursor else {}
    known_months = set(monthly_partitions.get_partition_keys())
    now = time.time()
    requests: list[dg.RunRequest] = []
    for name in storage.store.landing_names():
        entry, request = _evaluate_file(context, storage, name, cursor.get(name, {}), known_months, now)
        if entry is not None:
            cursor[name] = entry
        if request is not None:
            requests.append(request)
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))

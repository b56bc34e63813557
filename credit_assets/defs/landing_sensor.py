"""landing_sensor: a new or changed monthly file in the landing folder requests a run of its month."""

import json
import time
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from credit_assets.core.contract import schema
from credit_assets.core.contract.landing import labels_added
from credit_assets.core.months import month_of_landing_file
from credit_assets.core.store import sha256_of
from credit_assets.defs.assets.forecasts import forecasts
from credit_assets.defs.assets.raw_applications import last_materialisation
from credit_assets.defs.assets.validated_applications import validated_applications
from credit_assets.defs.jobs import ingest_month, job_for_month, score_month
from credit_assets.defs.partitions import monthly_partitions, oldest_month_first
from credit_assets.defs.storage import StorageResource

# A file counts as complete once it has not changed for this long; copy tools that write in place are
# covered by it, and writers that rename a finished temp file into place are picked up on the next tick.
SETTLE_SECONDS = 10
LANDING_FILE_TAG = "credit_assets/landing_file"
LANDING_SHA256_TAG = "credit_assets/landing_sha256"
LABELS_TAG = "credit_assets/labels"


def _skip_reason(name: str, month: str | None, known_months: set[str]) -> str | None:
    if month is None:
        return f"{name}: name does not fit the convention applications_YYYY-MM.csv"
    if month not in known_months:
        return f"{name}: month {month} is not a partition (first month, or not closed yet)"
    return None


def labels_landed(storage: StorageResource, path: Path, month: str) -> bool:
    """A month already scored without labels, landed again with the same applications and their TARGET."""
    store, validated = storage.store, validated_applications.key.to_user_string()
    scored = store.table_path(forecasts.key.to_user_string(), month).is_file()
    if not (scored and store.table_path(validated, month).is_file()):
        return False
    columns = pq.read_schema(store.table_path(validated, month)).names
    return labels_added(path, store.read_table(validated, month, [schema.ID_COLUMN])[schema.ID_COLUMN], columns)


def _run_request(path: Path, month: str, digest: str, labels_only: bool) -> dg.RunRequest:
    """Score the month, or, when only its labels landed, ingest it: its forecasts stand as they were issued, and
    the automation conditions on the performance reports re-evaluate them against the labels."""
    return dg.RunRequest(
        run_key=f"{path.name}:{digest[:16]}",
        partition_key=month,
        job_name=ingest_month.name if labels_only else job_for_month(month),
        tags={
            LANDING_FILE_TAG: path.name,
            LANDING_SHA256_TAG: digest,
            **({LABELS_TAG: "landed"} if labels_only else {}),
            **oldest_month_first(month),
        },
    )


def _evaluate_file(
    context: dg.SensorEvaluationContext,
    storage: StorageResource,
    path: Path,
    seen: dict,
    known_months: set[str],
    now: float,
) -> tuple[dict | None, dg.RunRequest | None]:
    """The file's new cursor entry (None: unchanged or not settled) and its run request, if one is due."""
    stat = path.stat()
    state = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if (seen.get("size"), seen.get("mtime_ns")) == (state["size"], state["mtime_ns"]):
        return None, None
    month = month_of_landing_file(path.name)
    reason = _skip_reason(path.name, month, known_months)
    if reason is not None:
        context.log.warning(f"skipped {reason}")
        return state, None
    if now - stat.st_mtime < SETTLE_SECONDS:
        context.log.info(f"{path.name}: still being written, waiting until it settles")
        return None, None
    digest = sha256_of(path)
    last = last_materialisation(context.instance, month)
    already_done = digest == seen.get("sha256") or (last is not None and last[0] == digest)
    request = None if already_done else _run_request(path, month, digest, labels_landed(storage, path, month))
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
    for path in sorted(p for p in storage.store.landing_dir.glob("*") if p.is_file() and not p.name.startswith(".")):
        entry, request = _evaluate_file(context, storage, path, cursor.get(path.name, {}), known_months, now)
        if entry is not None:
            cursor[path.name] = entry
        if request is not None:
            requests.append(request)
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))

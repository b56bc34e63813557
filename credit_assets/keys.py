"""The names one part writes and another reads: run tags, and the metadata keys read outside the asset that writes
them (by the portal, the sensors and the notifier). One place, so a rename cannot break a reader silently; plain
strings, no Dagster import, so every layer may use them."""

# run tags: Dagster's own, then the project's
PARTITION_TAG = "dagster/partition"
PRIORITY_TAG = "dagster/priority"  # the run queue starts the highest first
PARENT_RUN_TAG = "dagster/parent_run_id"  # set on a retry of a run
USER_TAG = "dagster/user"  # set on a run a user launched from the UI
LANDING_FILE_TAG = "credit_assets/landing_file"
LANDING_SHA256_TAG = "credit_assets/landing_sha256"
LABELS_TAG = "credit_assets/labels"
APPROVAL_TAG = "credit_assets/approval_sequence"

# assets whose materialisations are read outside the asset code
RAW_APPLICATIONS = "raw_applications"
FORECASTS = "forecasts"
FORECAST_PERFORMANCE = "forecast_performance"

# metadata keys read outside the asset that writes them
SOURCE_SHA256 = "source_sha256"  # raw_applications: the landing file the run read
MODEL_VERSION = "model_version"  # forecasts: the model that scored the month
DECISION_SHARES = "decision_shares"
DECISION_COUNTS = "decision_counts"
LABELLED = "labelled"  # forecast_performance: whether the month's labels have landed
ROC_AUC = "roc_auc"

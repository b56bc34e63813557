"""A real run of forecast_performance on a month whose defaults run above the forecasts as a whole: the
`calibrated` check warns on calibration in the large although no score band alone is clearly off."""

import dataclasses
import re
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from credit_assets.core.contract import schema
from credit_assets.core.months import landing_file_name
from credit_assets.core.store import FORECASTS_EXPORT
from credit_assets.defs.storage import StorageResource
from credit_assets_tests.support.files import read_export
from credit_assets_tests.support.materialise import (
    INGEST,
    SMALL,
    failure_message,
    materialize_month,
    storage_with,
    write_small_landing,
)

ONE_MONTH = dataclasses.replace(SMALL, months=1)  # the history, then 2020-10 with labels
HISTORY, MONTH = ONE_MONTH.month_keys
SHIFT = 1.3  # true default probability = the forecast's times this: about 30 % more defaults than expected


def relabel(storage: StorageResource, factor: float, seed: int) -> None:
    """Redraw the landed month's TARGET from its issued forecasts times `factor`, so the truth is known."""
    forecasts = read_export(storage.store, FORECASTS_EXPORT, MONTH)
    landed = storage.store.local_root.joinpath("landing", landing_file_name(MONTH))
    frame = pd.read_csv(landed)
    truth = frame[[schema.ID_COLUMN]].merge(forecasts, on=schema.ID_COLUMN, how="left")["default_probability"]
    drawn = np.random.default_rng(seed).random(len(frame)) < np.clip(truth.to_numpy() * factor, 0, 1)
    frame[schema.TARGET_COLUMN] = drawn.astype(np.int64)
    frame.to_csv(landed, index=False)


def test_calibrated_warns_on_defaults_above_the_forecasts_that_no_score_band_shows(tmp_path: Path) -> None:
    write_small_landing(tmp_path / "generated" / "landing", ONE_MONTH)
    storage = storage_with(tmp_path / "root", tmp_path / "generated" / "landing", ONE_MONTH.month_keys)
    with dg.instance_for_test() as instance:
        assert materialize_month(storage, HISTORY, INGEST, instance=instance).success
        scored = materialize_month(storage, MONTH, [*INGEST, "model", "forecasts"], instance=instance)
        assert scored.success, failure_message(scored)
        relabel(storage, SHIFT, seed=5)
        measured = materialize_month(storage, MONTH, [*INGEST, "forecast_performance"], instance=instance)
        assert measured.success, failure_message(measured)

    [check] = [e for e in measured.get_asset_check_evaluations() if e.check_name == "calibrated"]
    figures = {key: value.value for key, value in check.metadata.items()}
    assert figures["miscalibrated_bands"] == [] and min(figures["p_values"]) > 0.01 / 10  # each band alone passes
    large = figures["in_the_large"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert large["observed_defaults"] > large["expected_defaults"] and large["z"] > 2.24
    assert check.description.startswith("calibration in the large fails for all applicants")
    # the metadata rounds the expected defaults (121.5 of 121.46), the text shows whole ones (121)
    stated = re.search(r"all applicants: (\d+) defaults where (\d+) were expected", check.description)
    assert stated and int(stated[1]) == large["observed_defaults"]
    assert abs(int(stated[2]) - large["expected_defaults"]) <= 0.5
    assert "more defaults than expected with 80% power" in check.description
    assert "approved_in_the_large" in figures

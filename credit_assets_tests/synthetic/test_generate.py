"""The synthetic generator: contract marginals, column consistency, risk signal, determinism, drift, files."""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from credit_assets.cli import main
from credit_assets.core.contract import schema
from credit_assets.core.months import landing_file_name
from credit_assets.synthetic.generate import (
    FIRST_ID,
    SCALES,
    GeneratorConfig,
    MonthBatch,
    generate_applications,
    generate_landing_files,
    generate_months,
    truth_file_name,
)

CONFIG = GeneratorConfig(seed=11, history_rows=20_000, months=3, rows_per_month=5_000)
TINY = GeneratorConfig(seed=3, history_rows=1_500, months=2, rows_per_month=400)
BUILDING_SUFFIXES = ("_AVG", "_MODE", "_MEDI")
YEAR_DAYS = 365.25


@pytest.fixture(scope="module")
def batches() -> list[MonthBatch]:
    return list(generate_months(CONFIG))


@pytest.fixture(scope="module")
def applications(batches: list[MonthBatch]) -> pd.DataFrame:
    return pd.concat([batch.frame for batch in batches], ignore_index=True)


def binomial_tolerance(rate: float, n: int, sigmas: float = 4.0) -> float:
    return sigmas * np.sqrt(rate * (1 - rate) / n)


def test_positive_rate_and_probabilities_near_the_real_rate(applications: pd.DataFrame, batches: list[MonthBatch]):
    probability = np.concatenate([batch.probability for batch in batches])
    rate, n = schema.REAL_POSITIVE_RATE, len(applications)
    assert abs(applications[schema.TARGET_COLUMN].mean() - rate) < binomial_tolerance(rate, n) + 0.002
    assert abs(probability.mean() - rate) < 0.004


def test_missing_values_follow_the_contract_exactly(batches: list[MonthBatch]):
    for batch in batches:
        n = len(batch.frame)
        expected = pd.Series({col.name: col.missing_rate for col in schema.columns()})
        assert (batch.frame.isna().mean() - expected).abs().max() <= 1 / n, batch.month


def test_text_values_are_contract_levels_with_contract_shares(applications: pd.DataFrame):
    for col in schema.text_columns():
        values = applications[col.name].dropna()
        assert set(values) <= set(col.levels), col.name
        shares = values.value_counts(normalize=True).reindex(col.levels, fill_value=0.0)
        assert np.abs(shares.to_numpy() - np.array(col.level_shares)).max() < 0.01, col.name


def test_numbers_within_observed_range_and_validation_bounds(applications: pd.DataFrame):
    for col in schema.numeric_columns():
        values = applications[col.name].dropna()
        if col.sentinel is not None:
            values = values[values != col.sentinel]
        low = max(col.low, col.observed_min if col.observed_min is not None else col.low)
        high = min(col.high, col.observed_max if col.observed_max is not None else col.high)
        if col.name == schema.ID_COLUMN:
            high = col.high  # IDs continue past the real file's last one with more months
        assert values.between(low, high).all(), col.name


def test_int64_columns_are_complete_integers(applications: pd.DataFrame):
    for col in schema.numeric_columns():
        assert str(applications[col.name].dtype) == col.dtype, col.name
        if col.dtype == "int64":
            assert applications[col.name].notna().all(), col.name


def test_sentinel_rows_are_the_xna_organisation_rows(applications: pd.DataFrame):
    sentinel = applications["DAYS_EMPLOYED"] == schema.column("DAYS_EMPLOYED").sentinel
    xna = applications["ORGANIZATION_TYPE"] == schema.SENTINEL_ORGANIZATION_TYPE
    assert sentinel.sum() > 0 and (sentinel == xna).all()
    assert (applications.loc[sentinel, "FLAG_EMP_PHONE"] == 0).all()
    assert (applications.loc[~sentinel, "FLAG_EMP_PHONE"] == 1).all()
    income_types = applications.loc[sentinel, "NAME_INCOME_TYPE"].value_counts(normalize=True)
    assert set(income_types.index) <= {"Pensioner", "Unemployed"} and income_types["Pensioner"] > 0.99
    assert applications.loc[sentinel, "OCCUPATION_TYPE"].isna().all()


def test_sentinel_rows_default_less(applications: pd.DataFrame):
    sentinel = applications["DAYS_EMPLOYED"] == schema.column("DAYS_EMPLOYED").sentinel
    target = applications[schema.TARGET_COLUMN]
    assert target[sentinel].mean() < target[~sentinel].mean() - 0.015


def test_rare_quirks_appear_at_full_scale():
    frame, _ = generate_applications(schema.REAL_ROW_COUNT, seed=5)
    assert (frame["CODE_GENDER"] == schema.column("CODE_GENDER").placeholder).sum() >= 3
    assert (frame["NAME_FAMILY_STATUS"] == schema.column("NAME_FAMILY_STATUS").placeholder).sum() >= 1
    income = frame["AMT_INCOME_TOTAL"]
    assert (income == schema.column("AMT_INCOME_TOTAL").observed_max).sum() == 1
    assert income.median() == pytest.approx(147_150, rel=0.1)


def test_amounts_are_consistent(applications: pd.DataFrame):
    credit, goods, annuity = (applications[name] for name in ("AMT_CREDIT", "AMT_GOODS_PRICE", "AMT_ANNUITY"))
    priced = goods.notna()
    assert (goods[priced] <= credit[priced]).mean() > 0.85
    assert (goods / credit).median() == pytest.approx(0.9, abs=0.05)
    assert ((credit / annuity).dropna().between(8, 60)).all()
    assert (goods.dropna() % 4_500 == 0).all() and ((credit * 2) % 1 == 0).all()
    revolving = applications["NAME_CONTRACT_TYPE"] == "Revolving loans"
    assert revolving[goods.isna()].all()  # only revolving loans lack a goods price


def test_family_size_counts_children_and_partner(applications: pd.DataFrame):
    partnered = applications["NAME_FAMILY_STATUS"].isin(["Married", "Civil marriage"])
    minimum = applications["CNT_CHILDREN"] + 1 + partnered
    known = applications["CNT_FAM_MEMBERS"].notna()
    assert (applications.loc[known, "CNT_FAM_MEMBERS"] >= minimum[known]).all()
    assert (applications.loc[known, "CNT_FAM_MEMBERS"] == minimum[known]).mean() > 0.95


def test_life_events_in_order(applications: pd.DataFrame):
    birth = applications["DAYS_BIRTH"]
    employed = applications["DAYS_EMPLOYED"]
    sentinel = employed == schema.column("DAYS_EMPLOYED").sentinel
    assert (employed[~sentinel] > birth[~sentinel] + 18 * YEAR_DAYS).all()
    assert (applications["DAYS_REGISTRATION"] >= birth).all()
    assert (applications["DAYS_ID_PUBLISH"] >= birth + 14 * YEAR_DAYS).all()
    assert -birth[sentinel].median() > -birth[~sentinel].median() + 10 * YEAR_DAYS  # pensioners are older


def test_building_columns_agree_and_go_missing_in_blocks(applications: pd.DataFrame):
    building = [name for name in applications.columns if name.endswith(BUILDING_SUFFIXES)]
    bases = [name.removesuffix("_AVG") for name in building if name.endswith("_AVG")]
    for base in bases:
        average = applications[f"{base}_AVG"]
        for other in (f"{base}_MODE", f"{base}_MEDI"):
            assert (applications[other].isna() == average.isna()).all(), other
            assert (applications[other] - average).abs().median() < 0.02, other
    assert applications[building].isna().all(axis=1).mean() > 0.3  # independent gaps would leave ~0 %


def test_grouped_columns_go_missing_together(applications: pd.DataFrame):
    for prefix_or_suffix in ("AMT_REQ_CREDIT_BUREAU_", "_CNT_SOCIAL_CIRCLE"):
        group = [name for name in applications.columns if prefix_or_suffix in name]
        missing = applications[group].isna()
        assert len(group) >= 4 and missing.any(axis=None)
        assert (missing.nunique(axis=1) == 1).all(), prefix_or_suffix


def test_social_circle_defaults_never_exceed_observations(applications: pd.DataFrame):
    known = applications["OBS_30_CNT_SOCIAL_CIRCLE"].notna()
    circle = applications[known]
    assert (circle["DEF_30_CNT_SOCIAL_CIRCLE"] <= circle["OBS_30_CNT_SOCIAL_CIRCLE"]).all()
    assert (circle["DEF_60_CNT_SOCIAL_CIRCLE"] <= circle["OBS_60_CNT_SOCIAL_CIRCLE"]).all()


def test_ids_unique_and_ascending_across_months(applications: pd.DataFrame):
    ids = applications[schema.ID_COLUMN]
    steps = ids.diff().dropna()
    assert ids.iloc[0] == FIRST_ID
    assert (steps >= 1).all() and steps.max() <= 10 and (steps > 1).any()


def test_lightgbm_learns_the_risk_on_a_later_month(batches: list[MonthBatch]):
    def features(frame: pd.DataFrame) -> pd.DataFrame:
        data = frame.drop(columns=[schema.ID_COLUMN, schema.TARGET_COLUMN])
        text = {col.name: pd.Categorical(data[col.name], categories=col.levels) for col in schema.text_columns()}
        return data.assign(**text)

    train, later = batches[0].frame, batches[-1].frame
    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_child_samples": 50,
        "num_threads": 2,
        "verbose": -1,
        "seed": 1,
    }
    model = lgb.train(params, lgb.Dataset(features(train), train[schema.TARGET_COLUMN]), num_boost_round=150)
    auc = roc_auc_score(later[schema.TARGET_COLUMN], model.predict(features(later)))
    oracle = roc_auc_score(later[schema.TARGET_COLUMN], batches[-1].probability)
    assert auc > 0.68
    assert oracle > auc


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path: Path):
    def files(config: GeneratorConfig, name: str) -> dict[str, bytes]:
        landing = generate_landing_files(config, tmp_path / name / "landing", tmp_path / name / "truth")
        truth = sorted((tmp_path / name / "truth").iterdir())
        return {path.name: path.read_bytes() for path in [*landing, *truth]}

    first, again = files(TINY, "first"), files(TINY, "again")
    other = files(replace(TINY, seed=TINY.seed + 1), "other")
    assert len(first) == 2 * len(TINY.month_keys) and first == again
    assert first.keys() == other.keys()
    assert all(first[name] != other[name] for name in first)


def test_csv_has_contract_header_and_reads_back_with_contract_dtypes(tmp_path: Path):
    paths = generate_landing_files(TINY, tmp_path / "landing", tmp_path / "truth")
    assert [path.name for path in paths] == [landing_file_name(month) for month in TINY.month_keys]
    assert paths[0].read_text().splitlines()[0] == ",".join(schema.column_names())
    frame = pd.read_csv(paths[0])
    assert list(frame.columns) == schema.column_names()
    assert {name: str(dtype) for name, dtype in frame.dtypes.items() if str(dtype) != "str"} == {
        col.name: col.dtype for col in schema.numeric_columns()
    }
    assert not list(tmp_path.glob("**/*.tmp"))


def test_probabilities_go_to_an_aligned_side_file(tmp_path: Path):
    paths = generate_landing_files(TINY, tmp_path / "landing", tmp_path / "truth")
    batches = list(generate_months(TINY))
    for path, batch in zip(paths, batches, strict=True):
        truth = pd.read_parquet(tmp_path / "truth" / truth_file_name(batch.month))
        landing = pd.read_csv(path)
        assert list(truth.columns) == [schema.ID_COLUMN, "probability"]
        assert "probability" not in landing.columns
        assert (truth[schema.ID_COLUMN] == landing[schema.ID_COLUMN]).all()
        assert np.allclose(truth["probability"], batch.probability) and truth["probability"].between(0, 1).all()


def test_unlabelled_latest_month_has_no_target():
    *labelled, latest = generate_months(replace(TINY, label_latest=False))
    assert list(latest.frame.columns) == schema.column_names(with_target=False)
    assert all(list(batch.frame.columns) == schema.column_names() for batch in labelled)
    assert len(latest.probability) == len(latest.frame)


def test_drift_shifts_chosen_columns_in_the_drift_month_only():
    base = GeneratorConfig(seed=2, history_rows=5_000, months=3, rows_per_month=5_000)
    drift_month = base.month_keys[2]
    drifted_config = replace(base, drift_month=drift_month, drift_columns=("EXT_SOURCE_3", "NAME_EDUCATION_TYPE"))
    steady, drifted = list(generate_months(base)), list(generate_months(drifted_config))
    for before, after in zip(steady, drifted, strict=True):
        if after.month != drift_month:
            pd.testing.assert_frame_equal(before.frame, after.frame)
            continue
        score_shift = after.frame["EXT_SOURCE_3"].mean() - before.frame["EXT_SOURCE_3"].mean()
        assert score_shift > 0.5 * before.frame["EXT_SOURCE_3"].std()
        assert abs(after.frame["EXT_SOURCE_2"].mean() - before.frame["EXT_SOURCE_2"].mean()) < 0.01
        top_level = schema.column("NAME_EDUCATION_TYPE").levels[0]
        assert (after.frame["NAME_EDUCATION_TYPE"] == top_level).mean() < 0.6
        # Higher scores mean lower risk under the unchanged risk model.
        assert after.probability.mean() < before.probability.mean() - 0.01


def test_config_rejects_what_it_cannot_generate():
    with pytest.raises(ValueError, match="TARGET"):
        GeneratorConfig(drift_month="2020-10", drift_columns=(schema.TARGET_COLUMN,))
    with pytest.raises(ValueError, match="2031-01"):
        GeneratorConfig(drift_month="2031-01", drift_columns=("EXT_SOURCE_1",))
    with pytest.raises(ValueError, match="YYYY-MM"):
        GeneratorConfig(first_month="2020-9")


def test_scale_presets():
    full, demo = GeneratorConfig.at_scale("full"), GeneratorConfig.at_scale("demo", seed=4)
    assert full.history_rows + full.months * full.rows_per_month == schema.REAL_ROW_COUNT
    assert (full.months, full.rows_per_month) == (4, 10_000)
    assert (demo.history_rows, demo.months, demo.rows_per_month, demo.seed) == (20_000, 4, 5_000, 4)
    assert set(SCALES) == {"demo", "full"}


def test_cli_generate_writes_the_requested_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    sizes = ["--scale", "custom", "--history-rows", "300", "--months", "2", "--rows-per-month", "100"]
    folders = ["--landing-dir", str(tmp_path / "in"), "--truth-dir", str(tmp_path / "truth")]
    argv = ["generate", *sizes, "--no-label-latest", *folders]
    assert main(argv) == 0
    written = capsys.readouterr().out.split()
    assert [Path(path).name for path in written] == [landing_file_name(m) for m in TINY.month_keys]
    assert len(pd.read_csv(written[-1]).columns) == len(schema.column_names()) - 1
    assert len(list((tmp_path / "truth").glob("*.parquet"))) == 3


def test_cli_refuses_sizes_without_custom_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    folders = ["--landing-dir", str(tmp_path / "in"), "--truth-dir", str(tmp_path / "truth")]
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--scale", "demo", "--months", "2", *folders])
    assert exit_info.value.code == 2 and "--scale custom" in capsys.readouterr().err


def test_cli_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "credit_assets.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "generate" in result.stdout and "split-real" in result.stdout

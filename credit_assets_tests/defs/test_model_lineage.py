"""features -> model -> forecasts -> forecast_performance and the governance assets with real LightGBM, optbinning and
Optuna on small generated data."""

import dataclasses
import json
import os
import re
import shutil
import sys
import urllib.request
from pathlib import Path

import dagster as dg
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from credit_assets.cli import main
from credit_assets.core import features as catalogue
from credit_assets.core.contract import schema
from credit_assets.core.features import build_features, feature_names
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.modeling.tuning import STUDY_PREFIX
from credit_assets.core.scoring import (
    MATERIAL_LOG_ODDS,
    NO_REASON,
    REASON_COUNT,
    Cutoffs,
    allowed_statements,
    reason_columns,
    score,
    statement,
)
from credit_assets.core.store import FORECASTS_EXPORT, NOTICES_EXPORT
from credit_assets.defs.storage import StorageResource
from credit_assets.synthetic.generate import truth_file_name
from credit_assets_tests.support.e2e import (
    free_port,
    listening_hosts,
    spawn_interruptible,
    stop_process_group,
    wait_until,
)
from credit_assets_tests.support.files import read_export, read_json
from credit_assets_tests.support.materialise import (
    INGEST,
    MONTHS,
    copy_storage,
    failed_checks,
    failure_message,
    materialize_month,
    storage_with,
)

HISTORY, FIRST, SECOND, THIRD = MONTHS
SCORE_ONLY = ["model", "forecasts", "decisions", "adverse_action_notices", "forecast_performance"]
GOVERNANCE = ["model_comparison", "decision_economics", "model_documentation"]


def registry(storage: StorageResource) -> ModelRegistry:
    return ModelRegistry(storage.store.blobs)


@pytest.fixture(scope="module")
def scored_template(tmp_path_factory: pytest.TempPathFactory, small_landing: Path) -> Path:
    """Every small month ingested; the first two monthly months scored."""
    root = tmp_path_factory.mktemp("scored")
    storage = storage_with(root, small_landing, MONTHS)
    shutil.copytree(small_landing.parent / "generator_truth", root / "generator_truth")
    for month in MONTHS:
        assert materialize_month(storage, month, INGEST).success
    for month in (FIRST, SECOND):
        result = materialize_month(storage, month, [*SCORE_ONLY, *GOVERNANCE])
        assert result.success, failure_message(result)
    return root


@pytest.fixture
def scored(tmp_path: Path, scored_template: Path) -> StorageResource:
    return copy_storage(scored_template, tmp_path)


def test_no_model_sees_its_own_month(scored: StorageResource) -> None:
    for month in (FIRST, SECOND):
        window = registry(scored).champion(month).card.window
        assert window.train_months and all(m < month for m in window.train_months + window.validation_months)
    assert registry(scored).champion(SECOND).card.window.validation_months[-1] == FIRST


def test_the_champion_learned_the_newest_labelled_month_and_the_refit_can_be_switched_off(
    scored: StorageResource,
) -> None:
    champion = registry(scored).champion(SECOND)
    window = champion.card.window
    assert FIRST in window.validation_months and FIRST not in window.train_months  # the slice held it out
    assert window.refit_on_all_labels and window.deployed_train_months == [HISTORY, FIRST]  # the refit did not
    assert window.deployed_train_rows == window.train_rows + window.validation_rows == 5_500
    assert champion.scorer.booster.num_trees() == champion.card.best_iteration > 0
    result = materialize_month(scored, SECOND, ["model"], model_config={"refit_on_all_labels": False})
    assert result.success, failure_message(result)
    plain = registry(scored).champion(SECOND)
    assert plain.version != champion.version and plain.card.validation_metrics == champion.card.validation_metrics
    assert plain.card.window.deployed_train_months == plain.card.window.train_months == window.train_months
    [materialised] = result.asset_materializations_for_node("model")
    assert materialised.metadata["refit_on_all_labels"].value is False
    assert materialised.metadata["deployed_train_rows"].value == window.train_rows


def test_reloaded_model_predicts_exactly_the_forecasts(scored: StorageResource) -> None:
    champion = registry(scored).champion(SECOND)
    forecasts = scored.store.read_table("forecasts", SECOND)
    features = scored.store.read_table("features", SECOND)
    np.testing.assert_array_equal(champion.predict(features), forecasts["default_probability"].to_numpy())
    assert set(forecasts["model_version"]) == {champion.version} == {registry(scored).decision(SECOND).champion}


def test_forecasts_cover_every_application_with_probabilities_decisions_and_reasons(scored: StorageResource) -> None:
    forecasts = scored.store.read_table("forecasts", SECOND)
    validated = scored.store.read_table("validated_applications", SECOND)
    assert sorted(forecasts[schema.ID_COLUMN]) == sorted(validated[schema.ID_COLUMN])
    assert forecasts["default_probability"].between(0, 1).all()
    assert set(forecasts["decision"]) <= {"approve", "review", "decline"}
    assert not forecasts.isna().any().any()
    exported = read_export(scored.store, FORECASTS_EXPORT, SECOND)
    assert list(exported.columns) == [
        schema.ID_COLUMN,
        "default_probability",
        "decision",
        *reason_columns(),
        "model_version",
    ]
    assert len(exported) == len(validated)


# Factor families written out here from the contract's column names, apart from schema.Reason: every feature
# not named is a family of its own.
FAMILIES = {
    r"EXT_SOURCE_.*": "external scores",
    r"DAYS_EMPLOYED|EMPLOYED_YEARS": "employment",
    r"REGION_RATING_CLIENT.*": "region rating",
    r".*_(AVG|MODE|MEDI)": "building",
    r"FLAG_DOCUMENT_\d+": "documents",
    r"AMT_REQ_CREDIT_BUREAU_.*": "bureau inquiries",
    r"(OBS|DEF)_\d+_CNT_SOCIAL_CIRCLE": "social circle",
    r"FLAG_(MOBIL|EMP_PHONE|WORK_PHONE|CONT_MOBILE|PHONE|EMAIL)": "contact details",
    r"(REG|LIVE)_(REGION|CITY)_NOT_(LIVE|WORK)_(REGION|CITY)": "addresses",
}


def family_of(name: str) -> str:
    return next((family for pattern, family in FAMILIES.items() if re.fullmatch(pattern, name)), name)


def expected_reasons(shap: pd.Series, values: pd.Series) -> list[str]:
    """One applicant's reasons from its SHAP values: families summed, material ones largest first, at most four."""
    totals = shap.groupby(shap.index.map(family_of), sort=False).sum().sort_values(ascending=False, kind="stable")
    chosen = list(totals.index[(totals >= MATERIAL_LOG_ODDS).to_numpy()][:REASON_COUNT]) or [totals.index[0]]
    found = []
    for family in chosen:
        members = shap[shap.index.map(family_of) == family]
        top = members.idxmax()
        found.append(statement(catalogue.reasons()[top], values[top]))
    return found


def test_every_reason_of_every_adverse_decision_matches_shap_values_recomputed_from_the_model_file(
    scored: StorageResource,
) -> None:
    champion = registry(scored).champion(SECOND)
    assert champion.scorer.family == "lightgbm"
    booster = lgb.Booster(model_file=str(Path(registry(scored).location(champion.version)) / "model.txt"))
    features = scored.store.read_table("features", SECOND)
    forecasts = scored.store.read_table("forecasts", SECOND)
    assert forecasts[schema.ID_COLUMN].tolist() == features[schema.ID_COLUMN].tolist()
    approved = forecasts["decision"] == "approve"
    assert 0 < approved.sum() < len(forecasts)
    assert (forecasts.loc[approved, reason_columns()] == NO_REASON).all().all()
    names = booster.feature_name()
    adverse = features.loc[~approved.to_numpy()]
    shap = pd.DataFrame(booster.predict(adverse[names], pred_contrib=True)[:, :-1], columns=names, index=adverse.index)
    given = forecasts.loc[~approved, reason_columns()]
    for row in adverse.index:
        expected = expected_reasons(shap.loc[row], adverse.loc[row, names])
        assert [text for text in given.loc[row] if text != NO_REASON] == expected, row
    counts = (given != NO_REASON).sum(axis=1)
    assert counts.between(1, REASON_COUNT).all() and (counts < REASON_COUNT).any()
    assert set(given.stack()) - {NO_REASON} <= allowed_statements()


def test_notices_hold_every_batch_decline_and_nothing_else_personal(scored: StorageResource) -> None:
    forecasts = scored.store.read_table("forecasts", SECOND)
    notices = read_export(scored.store, NOTICES_EXPORT, SECOND, keep_default_na=False)
    assert list(notices.columns) == [
        schema.ID_COLUMN, "decision", *reason_columns(), "model_version", "decision_date", "decided_by",
        "application_date",
    ]  # fmt: skip
    # no month was decided live: every batch decline has its notice, and no referral has one (it is no decision)
    assert sorted(notices[schema.ID_COLUMN]) == sorted(
        forecasts.loc[forecasts["decision"] == "decline", schema.ID_COLUMN]
    )
    assert (notices["reason_1"] != NO_REASON).all() and set(notices["decision_date"]) == {"2020-12-01"}
    assert set(notices["decided_by"]) == {"model"} and set(notices["application_date"]) == {""}


def test_forecast_auc_is_well_above_chance_and_near_the_oracle(scored: StorageResource) -> None:
    forecasts = scored.store.read_table("forecasts", SECOND)
    validated = scored.store.read_table("validated_applications", SECOND)
    truth = pd.read_parquet(scored.store.local_root / "generator_truth" / truth_file_name(SECOND))
    joined = forecasts.merge(validated[[schema.ID_COLUMN, schema.TARGET_COLUMN]], on=schema.ID_COLUMN).merge(
        truth, on=schema.ID_COLUMN
    )
    model_auc = roc_auc_score(joined[schema.TARGET_COLUMN], joined["default_probability"])
    oracle_auc = roc_auc_score(joined[schema.TARGET_COLUMN], joined["probability"])
    assert model_auc > 0.65
    assert model_auc > oracle_auc - 0.1
    performance = read_json(
        scored.store.local_root.joinpath("artifacts", "forecast_performance", SECOND) / "performance.json"
    )
    assert performance["roc_auc"] == pytest.approx(model_auc)


def test_a_rerun_with_the_same_inputs_adds_no_version_and_appends_one_decision(scored: StorageResource) -> None:
    models = scored.store.local_root / "registry" / "models"
    stored_before = {path.relative_to(models): path.read_bytes() for path in models.rglob("*") if path.is_file()}
    log_before = registry(scored).log.lines.path.read_bytes()
    forecasts_before = (scored.store.local_root / "forecasts" / f"forecasts_{SECOND}.csv").read_bytes()
    parquet_before = scored.store.local_root.joinpath("tables", "forecasts", f"{SECOND}.parquet").read_bytes()
    assert materialize_month(scored, SECOND, SCORE_ONLY).success
    stored_after = {path.relative_to(models): path.read_bytes() for path in models.rglob("*") if path.is_file()}
    developed = {c["version"] for e in registry(scored).promotions() for c in e["candidates"]}
    assert stored_after == stored_before and {path.parts[0] for path in stored_after} == developed
    log_after = registry(scored).log.lines.path.read_bytes()
    assert log_after.startswith(log_before) and log_after.count(b"\n") == log_before.count(b"\n") + 1
    newest = registry(scored).promotions()[-1]
    assert newest["month"] == SECOND and not any(c["new_version"] for c in newest["candidates"])
    assert (scored.store.local_root / "forecasts" / f"forecasts_{SECOND}.csv").read_bytes() == forecasts_before
    assert scored.store.local_root.joinpath("tables", "forecasts", f"{SECOND}.parquet").read_bytes() == parquet_before


def test_a_changed_window_adds_versions_and_the_old_champion_still_predicts_identically(
    scored: StorageResource,
) -> None:
    old = registry(scored).champion(SECOND)
    forecasts = scored.store.read_table("forecasts", SECOND)
    result = materialize_month(scored, SECOND, ["model"], model_config={"min_validation_defaults": 100})
    assert result.success, failure_message(result)
    new = registry(scored).champion(SECOND)
    assert new.version != old.version and new.card.window != old.card.window
    versions = {path.name for path in (scored.store.local_root / "registry" / "models").iterdir()}
    assert {old.version, new.version} <= versions and len(versions) > len(registry(scored).decision(FIRST).candidates)
    reloaded = registry(scored).load(old.version)
    features = scored.store.read_table("features", SECOND)
    np.testing.assert_array_equal(reloaded.predict(features), forecasts["default_probability"].to_numpy())


def test_champion_gate_blocks_a_model_trained_on_shuffled_labels(scored: StorageResource) -> None:
    rng = np.random.default_rng(0)
    for month in (HISTORY, FIRST, SECOND):
        frame = scored.store.read_table("features", month)
        frame[schema.TARGET_COLUMN] = rng.permutation(frame[schema.TARGET_COLUMN].to_numpy())
        scored.store.write_table("features", month, frame)
    kept = registry(scored).champion(SECOND).version
    result = materialize_month(scored, THIRD, SCORE_ONLY, model_config={"retune": "never"})
    assert result.success, failure_message(result)  # the approved champion keeps scoring
    assert "below" in failed_checks(result)["champion_gate"] and kept in failed_checks(result)["champion_gate"]
    decision = registry(scored).decision(THIRD)
    assert decision.proposed is None and decision.champion == kept  # refused, logged, every candidate kept
    assert all(registry(scored).load(c["version"]) for c in decision.candidates)
    assert set(scored.store.read_table("forecasts", THIRD)["model_version"]) == {kept}


def test_a_model_wired_to_a_protected_feature_is_refused_in_the_run(
    scored: StorageResource, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A developer makes the applicant's age a model input: the run trains, the check fails, nothing is proposed and
    the approved champion keeps scoring; without one, the check blocks."""
    [age] = [feature for feature in catalogue.catalogue() if feature.name == "AGE_YEARS"]
    wired = [*catalogue.model_inputs(), dataclasses.replace(age, role=schema.Role.INPUT)]
    monkeypatch.setattr(catalogue, "model_inputs", lambda: wired)
    for month in MONTHS:
        assert materialize_month(scored, month, ["features"]).success
    assert "AGE_YEARS" in scored.store.read_table("features", THIRD).columns
    kept = registry(scored).champion(SECOND).version
    result = materialize_month(scored, THIRD, SCORE_ONLY, model_config={"retune": "never"})
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_protected_inputs"]
    assert not check.passed and check.description.endswith("the model uses protected: AGE_YEARS")
    decision = registry(scored).decision(THIRD)
    assert decision.proposed is None and decision.champion == kept
    developed = [c for c in decision.candidates if c["version"] != kept]
    assert all("AGE_YEARS" in registry(scored).load(c["version"]).card.features for c in developed)
    assert set(scored.store.read_table("forecasts", THIRD)["model_version"]) == {kept}
    first = copy_storage(scored.store.local_root, tmp_path / "first")  # no champion in force: the check blocks
    (first.store.local_root / "registry").joinpath("promotions.jsonl").unlink()
    refused = materialize_month(first, THIRD, ["model"], model_config={"retune": "never"})
    [check] = [e for e in refused.get_asset_check_evaluations() if e.check_name == "no_protected_inputs"]
    assert not refused.success and check.severity == dg.AssetCheckSeverity.ERROR
    assert f"No model for {THIRD}" in failure_message(refused)


def test_history_month_has_no_labelled_month_before_it(scored: StorageResource) -> None:
    result = materialize_month(scored, HISTORY, ["model"])
    assert not result.success
    assert f"{HISTORY} is the history month" in failure_message(result)


def test_a_hole_in_the_training_window_is_refused(scored: StorageResource) -> None:
    scored.store.local_root.joinpath("tables", "features", f"{FIRST}.parquet").unlink()
    result = materialize_month(scored, THIRD, ["model"])
    assert not result.success
    assert f"Features for ['{FIRST}'] are missing" in failure_message(result)


def test_a_registry_file_that_no_longer_matches_its_hash_is_refused_and_kept(scored: StorageResource) -> None:
    version = registry(scored).decision(SECOND).champion
    tampered = Path(registry(scored).location(version)) / "model.txt"
    tampered.write_text(tampered.read_text().replace("tree_sizes", "tree_sizes ", 1))
    changed = tampered.read_bytes()
    for selection in (["forecasts"], ["model"]):
        result = materialize_month(scored, SECOND, selection)
        assert not result.success
        assert f"Registry entry {version}: {tampered} no longer matches its recorded SHA-256" in failure_message(result)
    assert tampered.read_bytes() == changed  # nothing overwritten: the evidence stays


def test_the_promotion_log_refuses_an_edited_line(scored: StorageResource) -> None:
    log = registry(scored).log.lines.path
    log.write_text(log.read_text().replace('"rule": "lightgbm"', '"rule": "scorecard"', 1))
    result = materialize_month(scored, SECOND, ["forecasts"])
    assert not result.success
    assert f"{log} line 1 breaks the chain: the line's content no longer matches its seal" in failure_message(result)


def test_a_promotion_rule_naming_no_model_is_refused(scored: StorageResource) -> None:
    log_before = registry(scored).log.lines.path.read_bytes()
    result = materialize_month(scored, SECOND, ["model"], model_config={"promotion_rule": "xgboost"})
    assert not result.success
    assert "promotion_rule 'xgboost' names no model" in failure_message(result)
    assert registry(scored).log.lines.path.read_bytes() == log_before


def test_the_scorecard_rule_bases_the_lda_search_on_the_scorecard_whose_reasons_are_catalogue_statements(
    scored: StorageResource,
) -> None:
    result = materialize_month(scored, SECOND, ["model", "forecasts"], model_config={"promotion_rule": "scorecard"})
    assert result.success, failure_message(result)
    decision = registry(scored).decision(SECOND)
    assert decision.lda["base"] == "scorecard"  # the champion is the search's pick around it
    [points] = [c for c in decision.candidates if c.get("name") == "scorecard"]
    model = registry(scored).load(points["version"])
    for champion in (model, registry(scored).champion(SECOND)):
        forecasts = score(scored.store.read_table("features", SECOND), champion, Cutoffs())
        adverse = forecasts[forecasts["decision"] != "approve"]
        assert len(adverse) and (adverse["reason_1"] != NO_REASON).all()
        assert set(adverse[reason_columns()].stack()) - {NO_REASON} <= allowed_statements()
    assert set(scored.store.read_table("forecasts", SECOND)["model_version"]) == {decision.champion}


def test_champion_and_challenger_are_compared_in_shadow_on_the_same_month(scored: StorageResource) -> None:
    rows = read_json(scored.store.local_root.joinpath("artifacts", "model_comparison", SECOND) / "comparison.json")
    decision = registry(scored).decision(SECOND)
    assert [row["role"] for row in rows] == ["champion", *["challenger"] * (len(rows) - 1)] and len(rows) >= 4
    assert {row["version"] for row in rows} == {c["version"] for c in decision.candidates}
    assert rows[0]["version"] == decision.champion
    assert all(0.6 < row["forecast_auc"] < 1 and 0 < row["approval_rate"] < 1 for row in rows)


def test_the_documentation_pack_names_the_version_window_and_hashes(scored: StorageResource) -> None:
    champion = registry(scored).champion(SECOND)
    pack = scored.store.local_root.joinpath("documentation", f"{champion.version}.html").read_text()
    window = champion.card.window
    assert f"Model documentation: {champion.version}" in pack
    for fact in (window.train_sha256, window.validation_sha256, *window.train_months, "no reject inference"):
        assert fact in pack
    assert "<h3>Calibration in the large</h3>" in pack  # the month's stored forecast_performance reaches the pack
    assert (
        pack
        == (
            scored.store.local_root.joinpath("artifacts", "model_documentation", SECOND) / "documentation.html"
        ).read_text()
    )


def test_economics_refuse_a_loss_given_default_outside_the_unit_interval(scored: StorageResource) -> None:
    before = (
        scored.store.local_root.joinpath("artifacts", "decision_economics", SECOND) / "economics.json"
    ).read_bytes()
    result = materialize_month(scored, SECOND, ["decision_economics"], op_configs={"decision_economics": {"lgd": 1.5}})
    assert not result.success
    assert "lgd must lie in [0, 1], got 1.5" in failure_message(result)
    assert (
        scored.store.local_root.joinpath("artifacts", "decision_economics", SECOND) / "economics.json"
    ).read_bytes() == before


@pytest.mark.parametrize("cutoffs", [(0.0, 0.5), (0.3, 0.2), (0.2, 1.0), (0.25, 0.25)])
def test_cutoffs_outside_the_unit_interval_or_out_of_order_are_refused(
    cutoffs: tuple[float, float], scored: StorageResource
) -> None:
    review, decline = cutoffs
    result = materialize_month(
        scored, SECOND, ["forecasts"], op_configs={"forecasts": {"review_cutoff": review, "decline_cutoff": decline}}
    )
    assert not result.success
    assert "0 < review_cutoff < decline_cutoff < 1" in failure_message(result)


def test_features_refuse_a_frame_missing_a_contract_column(scored: StorageResource) -> None:
    validated = scored.store.read_table("validated_applications", SECOND).drop(columns="AMT_CREDIT")
    with pytest.raises(ValueError, match=r"lack contract columns \['AMT_CREDIT'\]"):
        build_features(validated)


def test_features_have_the_same_columns_every_month(scored: StorageResource) -> None:
    columns = {tuple(scored.store.read_table("features", month).columns) for month in MONTHS}
    assert len(columns) == 1
    assert list(next(iter(columns)))[2:] == feature_names()
    dtypes = {tuple(map(str, scored.store.read_table("features", month).dtypes)) for month in MONTHS}
    assert len(dtypes) == 1
    for month in MONTHS:
        categories = scored.store.read_table("features", month)["NAME_HOUSING_TYPE"].cat.categories.tolist()
        assert categories == list(schema.column("NAME_HOUSING_TYPE").levels)


def test_the_models_command_says_which_model_scored_a_month_and_why(
    scored: StorageResource, capsys: pytest.CaptureFixture[str]
) -> None:
    decision = registry(scored).decision(SECOND)
    assert main(["models", "--root", scored.root, "--month", SECOND]) == 0
    explained = capsys.readouterr().out
    assert f"{SECOND} was scored by {decision.champion}" in explained
    assert f"{decision.champion} scores the month; developed: scheduled_review" in explained
    assert all(candidate["version"] in explained for candidate in decision.candidates)
    assert main(["models", "--root", scored.root]) == 0
    output = capsys.readouterr().out
    listed = output.splitlines()
    assert f"{decision.champion}: developed for {SECOND}" in output and "no approval (rule 'none'" in output
    assert any(line.startswith(decision.champion) and SECOND in line for line in listed)


def test_the_tuning_dashboard_serves_the_stored_studies_on_loopback(scored: StorageResource, tmp_path: Path) -> None:
    port = free_port()
    command = [str(Path(sys.executable).parent / "credit-assets"), "tuning-dashboard", "--root", scored.root]
    with open(tmp_path / "dashboard.log", "wb") as log:
        process = spawn_interruptible([*command, "--port", str(port)], dict(os.environ), log)
    try:
        studies = wait_until(lambda: studies_served(port), 60, "optuna-dashboard to answer")
        assert f"{STUDY_PREFIX}{FIRST}" in studies and listening_hosts(port) == {"127.0.0.1"}
    finally:
        stop_process_group(process)


def studies_served(port: int) -> list[str] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as response:
            return [study["study_name"] for study in json.load(response)["study_summaries"]]
    except OSError:
        return None

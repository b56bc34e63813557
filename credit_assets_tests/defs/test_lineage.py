"""One month through every asset and check: reads follow declared lineage, tables are JSON-safe, checks per month."""

import math
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from credit_assets.definitions import defs
from credit_assets.defs.metadata import table
from credit_assets.defs.storage import READ_LOG_PREFIX, StorageResource
from credit_assets_tests.support.materialise import (
    EVERY_ASSET,
    MONTHS,
    QUICK_COMPARISON,
    copy_storage,
    failure_message,
    materialize_month,
    scored_root,
)

HISTORY, FIRST, SECOND, _ = MONTHS


@pytest.fixture(scope="module")
def whole_month(
    tmp_path_factory: pytest.TempPathFactory, small_landing: Path
) -> tuple[dg.DagsterInstance, dg.ExecuteInProcessResult]:
    """SECOND materialised through every asset and check of the definitions, FIRST scored before it."""
    root = scored_root(tmp_path_factory.mktemp("scored"), small_landing, MONTHS[:3], [FIRST])
    storage = copy_storage(root, tmp_path_factory.mktemp("whole"))
    with dg.instance_for_test() as instance:
        result = materialize_month(storage, SECOND, EVERY_ASSET, instance=instance, op_configs=QUICK_COMPARISON)
        assert result.success, failure_message(result)
        yield instance, result


def declared_upstream() -> dict[str, set[str]]:
    """Per step (op) name, the assets the asset graph says it depends on, itself included; checks: their asset too."""
    graph = defs.resolve_asset_graph()
    allowed: dict[str, set[str]] = {}
    for definition in graph.assets_defs:
        keys = set(definition.keys)
        keys |= {parent for key in definition.keys for parent in graph.get(key).parent_keys}
        for spec in definition.check_specs:
            keys |= {spec.asset_key, *(dep.asset_key for dep in spec.additional_deps)}
        allowed[definition.node_def.name] = {key.to_user_string() for key in keys}
    return allowed


def test_every_read_follows_a_declared_dependency(whole_month: tuple) -> None:
    instance, result = whole_month
    reads = [
        (entry.step_key, entry.user_message.removeprefix(READ_LOG_PREFIX).split(" ")[0])
        for entry in instance.all_logs(result.run_id)
        if entry.dagster_event is None and entry.user_message.startswith(READ_LOG_PREFIX)
    ]
    allowed = declared_upstream()
    assert {asset for _, asset in reads} >= {
        "raw_applications",
        "validated_applications",
        "features",
        "model",
        "forecasts",
    }
    assert ("forecast_performance", "model") in reads  # the model card is read, so model is declared upstream
    assert [(step, asset) for step, asset in reads if asset not in allowed[step]] == []


def test_reading_an_undeclared_asset_fails_the_step(tmp_path: Path) -> None:
    @dg.asset(partitions_def=defs.resolve_assets_def("features").partitions_def)
    def sneaky(context: dg.AssetExecutionContext, storage: StorageResource) -> None:
        storage.read_table(context, dg.AssetKey("features"), context.partition_key)

    result = dg.materialize(
        [sneaky], partition_key=FIRST, resources={"storage": StorageResource(root=str(tmp_path))}, raise_on_error=False
    )
    assert not result.success
    assert "sneaky reads features without declaring it upstream" in str(
        result.get_step_failure_events()[0].step_failure_data.error
    )


def _table_values(value: object) -> list[object]:
    if isinstance(value, dg.TableMetadataValue):
        return [cell for record in value.records for cell in record.data.values()]
    return []


def test_no_table_metadata_carries_nan_or_infinity(whole_month: tuple) -> None:
    _, result = whole_month
    metadata = [m.metadata for m in result.get_asset_materialization_events() for m in [m.materialization]]
    metadata += [e.metadata for e in result.get_asset_check_evaluations()]
    cells = [cell for entries in metadata for value in entries.values() for cell in _table_values(value)]
    assert len(cells) > 1_000  # profile, fairness, drift, performance, comparison and forecast previews
    assert not [cell for cell in cells if isinstance(cell, float) and not math.isfinite(cell)]


def _floats(value: object) -> list[float]:
    """Every float a metadata value shows: itself, its JSON's leaves or its table's cells."""
    if isinstance(value, dg.FloatMetadataValue):
        value = value.value
    elif isinstance(value, dg.JsonMetadataValue):
        value = value.data
    elif isinstance(value, dg.TableMetadataValue):
        value = _table_values(value)
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [number for item in value for number in _floats(item)]
    return [value] if isinstance(value, float) and math.isfinite(value) else []


def _rounded(number: float) -> bool:
    """At most 4 decimals or at most 6 significant digits, as written (0.0831627 or 1.23e-05, not 0.083162714032)."""
    mantissa, _, _ = repr(abs(number)).partition("e")
    whole, _, decimals = mantissa.partition(".")
    digits = (whole + decimals).lstrip("0").rstrip("0")
    return len(decimals.rstrip("0")) <= 4 or len(digits) <= 6


def test_every_number_in_the_ui_is_rounded_to_what_it_means(whole_month: tuple) -> None:
    _, result = whole_month
    metadata = [m.materialization.metadata for m in result.get_asset_materialization_events()]
    metadata += [e.metadata for e in result.get_asset_check_evaluations()]
    numbers = {f"{key}: {n!r}" for entries in metadata for key, value in entries.items() for n in _floats(value)}
    assert len(numbers) > 200
    assert not [shown for shown in numbers if not _rounded(float(shown.rsplit(": ", 1)[1]))]


def test_table_helper_turns_nan_and_infinity_into_empty_cells() -> None:
    shown = table(pd.DataFrame({"a": [1.0, np.nan, np.inf], "b": pd.array([1, None, 3], dtype="Int64")}))
    assert [record.data for record in shown.records] == [
        {"a": 1.0, "b": 1},
        {"a": None, "b": None},
        {"a": None, "b": 3},
    ]


def test_every_check_result_belongs_to_its_month(whole_month: tuple) -> None:
    _, result = whole_month
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 26  # every check of the definitions but the clock-driven freshness check
    assert {evaluation.partition for evaluation in evaluations} == {SECOND}

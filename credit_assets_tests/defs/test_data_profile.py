"""data_profile on a small generated month: charts, the self-contained report, and months that could break it."""

import base64
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from threadpoolctl import threadpool_limits

from credit_assets.core.contract import schema
from credit_assets.core.monitoring.profile import (
    ABSENT,
    ALL_MISSING,
    CHART_DIR,
    KEY_COLUMNS,
    REPORT_FILE,
)
from credit_assets.defs.storage import StorageResource
from credit_assets.synthetic.generate import GeneratorConfig
from credit_assets_tests.support.materialise import (
    failure_message,
    materialize_month,
    storage_with,
    write_small_landing,
)

# Only the history goes through the GX suite (seconds per month); the edge-case months derive from it.
CONFIG = GeneratorConfig(seed=11, history_rows=4_000, months=0)
HISTORY, UNLABELLED, ONE_ROW = "2020-09", "2020-10", "2020-11"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RATE = 5e-4 + 1e-12  # the UI shows rates and shares to 3 decimals (half a unit of the last one, and float error)
BUILDING_COLUMNS = [name for name in schema.column_names() if re.fullmatch(r".+_(AVG|MODE|MEDI)", name)]

ASSET = "data_profile"


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    with threadpool_limits(limits=1):
        yield


def materialize_profile(storage: StorageResource, month: str) -> dg.ExecuteInProcessResult:
    """Materialise data_profile for one month with the real Dagster machinery."""
    return materialize_month(storage, month, [ASSET])


def profile_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    return result.asset_materializations_for_node(ASSET)[0].metadata


def summary_rows(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {record.data["column"]: record.data for record in metadata["summary"].records}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated history validated, not yet profiled."""
    generated = tmp_path_factory.mktemp("generated") / "landing"
    write_small_landing(generated, CONFIG)
    root = tmp_path_factory.mktemp("validated")
    assert materialize_month(
        storage_with(root, generated, [HISTORY]), HISTORY, ["raw_applications", "validated_applications"]
    ).success
    return root


@pytest.fixture(scope="module")
def profiled(template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[StorageResource, dict[str, Any]]:
    """The history profiled once; the tests on it only read."""
    root = tmp_path_factory.mktemp("profiled") / "root"
    shutil.copytree(template, root)
    storage = StorageResource(root=str(root))
    result = materialize_profile(storage, HISTORY)
    assert result.success, failure_message(result)
    return storage, profile_metadata(result)


@pytest.fixture
def storage(tmp_path: Path, template: Path) -> StorageResource:
    shutil.copytree(template, tmp_path / "root")
    return StorageResource(root=str(tmp_path / "root"))


def test_every_column_gets_a_valid_png_and_key_columns_show_inline(
    profiled: tuple[StorageResource, dict[str, Any]],
) -> None:
    storage, metadata = profiled
    charts = storage.store.local_root.joinpath("artifacts", ASSET, HISTORY) / CHART_DIR
    for col in schema.columns():
        assert (charts / f"{col.name}.png").read_bytes().startswith(PNG_SIGNATURE), col.name
    for name in KEY_COLUMNS:
        encoded = re.fullmatch(rf"!\[{name}\]\(data:image/png;base64,(.+)\)", metadata[f"chart_{name}"].md_str)
        assert encoded and base64.b64decode(encoded.group(1)) == (charts / f"{name}.png").read_bytes()


def test_report_is_one_self_contained_html_file_naming_every_column(
    profiled: tuple[StorageResource, dict[str, Any]],
) -> None:
    storage, metadata = profiled
    report = storage.store.local_root.joinpath("artifacts", ASSET, HISTORY) / REPORT_FILE
    assert metadata["report"].path == str(report)
    page = report.read_text(encoding="utf-8")
    for col in schema.columns():
        assert f"<td>{col.name}</td>" in page and f'<section id="{col.name}">' in page, col.name
    sources = re.findall(r'<img alt="[^"]*" src="([^"]*)"', page)
    assert len(sources) == len(schema.columns())
    assert all(
        base64.b64decode(src.removeprefix("data:image/png;base64,")).startswith(PNG_SIGNATURE) for src in sources
    )
    assert not list(report.parent.glob(".*.tmp"))


def test_summary_statistics_match_the_month(profiled: tuple[StorageResource, dict[str, Any]]) -> None:
    storage, metadata = profiled
    frame = storage.store.read_table("validated_applications", HISTORY)
    rows = summary_rows(metadata)
    assert list(rows) == schema.column_names()
    credit = frame["AMT_CREDIT"]
    assert rows["AMT_CREDIT"]["mean"] == pytest.approx(credit.mean()) and rows["AMT_CREDIT"]["50%"] == pytest.approx(
        credit.median()
    )
    assert rows["AMT_CREDIT"]["count"] == len(frame) and rows["AMT_CREDIT"]["dtype"] == "float64"
    assert rows["EXT_SOURCE_1"]["missing_rate"] == pytest.approx(frame["EXT_SOURCE_1"].isna().mean(), abs=RATE)
    levels = frame["NAME_INCOME_TYPE"].value_counts(normalize=True)
    assert rows["NAME_INCOME_TYPE"]["top"] == levels.index[0] and rows["NAME_INCOME_TYPE"][
        "top_share"
    ] == pytest.approx(levels.iloc[0], abs=RATE)
    assert rows["NAME_INCOME_TYPE"]["dtype"] == "category" and rows["NAME_INCOME_TYPE"]["mean"] is None
    assert metadata["labelled"].value and metadata["target_rate"].value == pytest.approx(
        frame[schema.TARGET_COLUMN].mean(), abs=RATE
    )
    assert metadata["all_missing_columns"].data == []


def test_unlabelled_month_with_all_missing_columns_is_profiled(storage: StorageResource) -> None:
    frame = storage.store.read_table("validated_applications", HISTORY).head(1_500).drop(columns=schema.TARGET_COLUMN)
    blank = ["OCCUPATION_TYPE", "EXT_SOURCE_1", *BUILDING_COLUMNS]  # as if the building-statistics feed were down
    for name in blank:
        frame[name] = frame[name].where(frame[name].isna())
    storage.store.write_table("validated_applications", UNLABELLED, frame)
    result = materialize_profile(storage, UNLABELLED)
    assert result.success, failure_message(result)
    metadata = profile_metadata(result)
    rows = summary_rows(metadata)
    assert metadata["all_missing_columns"].data == [name for name in schema.column_names() if name in blank]
    assert (
        rows["EXT_SOURCE_1"]["note"] == ALL_MISSING
        and rows["EXT_SOURCE_1"]["count"] == 0
        and rows["EXT_SOURCE_1"]["mean"] is None
    )
    assert rows["OCCUPATION_TYPE"]["missing_rate"] == 1.0 and rows["OCCUPATION_TYPE"]["top"] is None
    assert rows[schema.TARGET_COLUMN]["note"] == ABSENT
    assert not metadata["labelled"].value and "target_rate" not in metadata
    assert {"chart_EXT_SOURCE_1", "chart_TARGET"}.isdisjoint(metadata) and "chart_EXT_SOURCE_2" in metadata
    charts = storage.store.local_root.joinpath("artifacts", ASSET, UNLABELLED) / CHART_DIR
    assert sorted(path.stem for path in charts.glob("*.png")) == sorted(
        set(schema.column_names()) - {*blank, schema.TARGET_COLUMN}
    )
    page = (storage.store.local_root.joinpath("artifacts", ASSET, UNLABELLED) / REPORT_FILE).read_text(encoding="utf-8")
    assert f"no chart: {ALL_MISSING}" in page and f"no chart: {ABSENT}" in page


def test_one_row_month_is_profiled(storage: StorageResource) -> None:
    frame = storage.store.read_table("validated_applications", HISTORY).head(1)
    storage.store.write_table("validated_applications", ONE_ROW, frame)
    result = materialize_profile(storage, ONE_ROW)
    assert result.success, failure_message(result)
    rows = summary_rows(profile_metadata(result))
    credit = float(frame["AMT_CREDIT"].iloc[0])
    assert rows["AMT_CREDIT"]["count"] == 1 and rows["AMT_CREDIT"]["std"] is None
    assert rows["AMT_CREDIT"]["min"] == rows["AMT_CREDIT"]["max"] == pytest.approx(credit)
    assert rows["CODE_GENDER"]["top_share"] in (None, 1.0)
    assert (
        (storage.store.local_root.joinpath("artifacts", ASSET, ONE_ROW) / CHART_DIR / "AMT_CREDIT.png")
        .read_bytes()
        .startswith(PNG_SIGNATURE)
    )

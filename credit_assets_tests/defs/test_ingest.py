"""raw_applications and validated_applications on good files, hand-made real rows and every kind of bad input."""

import hashlib
from pathlib import Path

import pytest

from credit_assets.core.contract import schema
from credit_assets.core.months import landing_file_name
from credit_assets.defs.storage import StorageResource
from credit_assets_tests.support.bad_files import BAD_FILES, set_value
from credit_assets_tests.support.materialise import (
    MONTHS,
    copy_storage,
    failed_checks,
    failure_message,
    materialize_month,
    storage_with,
)

HISTORY, FIRST, SECOND = MONTHS[0], MONTHS[1], MONTHS[2]

ALL_BUILDING_COLUMNS_EMPTY = "," * 47  # APARTMENTS_AVG .. EMERGENCYSTATE_MODE
# Three rows in the real file's exact format: a worker, a pensioner with the 365243 sentinel and an 'XNA' gender.
REAL_FORMAT_ROWS = [
    "100002,1,Cash loans,M,N,Y,0,202500.0,406597.5,24700.5,351000.0,Unaccompanied,Working,Secondary / secondary special,"
    "Single / not married,House / apartment,0.018801,-9461,-637,-3648.0,-2120,,1,1,0,1,1,0,Laborers,1.0,2,2,WEDNESDAY,10,"
    "0,0,0,0,0,0,Business Entity Type 3,0.08303696739132256,0.2629485927471776,0.13937578009978951,0.0247,0.0369,0.9722,"
    "0.6192,0.0143,0.0,0.069,0.0833,0.125,0.0369,0.0202,0.019,0.0,0.0,0.0252,0.0383,0.9722,0.6341,0.0144,0.0,0.069,0.0833,"
    "0.125,0.0377,0.022,0.0198,0.0,0.0,0.025,0.0369,0.9722,0.6243,0.0144,0.0,0.069,0.0833,0.125,0.0375,0.0205,0.0193,0.0,"
    '0.0,reg oper account,block of flats,0.0149,"Stone, brick",No,2.0,2.0,2.0,2.0,-1134.0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,'
    "0,0,0,0,0,0.0,0.0,0.0,0.0,0.0,1.0",
    "100003,0,Cash loans,F,N,N,0,112500.0,1019610.0,33826.5,913500.0,Family,Pensioner,Higher education,Married,"
    "House / apartment,0.0035409999999999994,-23460,365243,-1734.0,-4045,,1,0,0,1,0,0,,2.0,2,2,MONDAY,11,0,0,0,0,0,0,"
    "XNA,,0.5559122087612395,0.7295666907060153" + ALL_BUILDING_COLUMNS_EMPTY + ",0.0,0.0,0.0,0.0,-1106.0,"
    "0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,,,,,,",
    "100004,0,Revolving loans,XNA,Y,Y,1,67500.0,135000.0,6750.0,135000.0,Unaccompanied,Working,Secondary / secondary special,"
    "Civil marriage,House / apartment,0.010032,-12005,-4260,-9833.0,-2437,26.0,1,1,1,1,1,0,Laborers,3.0,2,2,MONDAY,9,0,0,0,"
    "0,0,0,Government,,0.6504416904014653," + ALL_BUILDING_COLUMNS_EMPTY + ",0.0,0.0,0.0,0.0,-815.0,"
    "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0.0,0.0,0.0,0.0,0.0,0.0",
]


@pytest.fixture(scope="module")
def ingested_template(tmp_path_factory: pytest.TempPathFactory, small_landing: Path) -> Path:
    """History and the first month ingested; the second month's good file is landed but not yet run."""
    root = tmp_path_factory.mktemp("ingested")
    storage = storage_with(root, small_landing, [HISTORY, FIRST, SECOND])
    for month in (HISTORY, FIRST):
        assert materialize_month(storage, month).success
    return root


@pytest.fixture
def ingested(tmp_path: Path, ingested_template: Path) -> StorageResource:
    return copy_storage(ingested_template, tmp_path)


def stored_hashes(storage: StorageResource) -> dict[str, str]:
    tables = sorted((storage.store.local_root / "tables").rglob("*.parquet"))
    return {
        str(path.relative_to(storage.store.local_root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in tables
    }


def test_generated_months_pass_every_check_and_keep_contract_dtypes(ingested: StorageResource) -> None:
    result = materialize_month(ingested, SECOND)
    assert result.success, failure_message(result)
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 9 and all(e.passed for e in evaluations)
    validated = ingested.store.read_table("validated_applications", SECOND)
    assert list(validated.columns) == schema.column_names()
    assert validated["CODE_GENDER"].dtype == "category"
    assert validated["DAYS_BIRTH"].dtype == "int64"


def test_hand_made_real_format_rows_pass_and_quirks_are_normalised(tmp_path: Path) -> None:
    storage = StorageResource(root=str(tmp_path))
    (storage.store.local_root / "landing").mkdir(parents=True)
    header = ",".join(schema.column_names())
    (storage.store.local_root / "landing" / landing_file_name(HISTORY)).write_text(
        "\n".join([header, *REAL_FORMAT_ROWS]) + "\n"
    )
    result = materialize_month(storage, HISTORY)
    assert result.success, failure_message(result)
    validated = storage.store.read_table("validated_applications", HISTORY)
    assert validated["DAYS_EMPLOYED"].tolist()[1] == schema.column("DAYS_EMPLOYED").sentinel
    assert validated["CODE_GENDER"].isna().tolist() == [False, False, True]  # 'XNA' means unknown
    features = storage.store.read_table("features", HISTORY)
    assert features["DAYS_EMPLOYED"].isna().tolist() == [False, True, False]  # the sentinel, with no flag feature
    assert "DAYS_EMPLOYED_IS_SENTINEL" not in features


def _first_history_id(storage: StorageResource) -> str:
    return str(storage.store.read_table("validated_applications", HISTORY)[schema.ID_COLUMN].iloc[0])


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_file_is_stopped_and_loses_nothing(kind: str, ingested: StorageResource) -> None:
    break_file, words = BAD_FILES[kind]
    path = ingested.store.local_root / "landing" / landing_file_name(SECOND)
    good = path.read_bytes()
    before = stored_hashes(ingested)
    break_file(path)
    bad = path.read_bytes()

    result = materialize_month(ingested, SECOND)

    assert not result.success
    message = failure_message(result) + "\n".join(failed_checks(result).values())
    assert path.name in failure_message(result)
    for word in words:
        assert word in message
    assert not ingested.store.local_root.joinpath("tables", "validated_applications", f"{SECOND}.parquet").exists()
    assert not ingested.store.local_root.joinpath("tables", "features", f"{SECOND}.parquet").exists()
    after = {k: v for k, v in stored_hashes(ingested).items() if "raw_applications" not in k or SECOND not in k}
    assert after == before
    assert path.read_bytes() == bad  # the landing file is kept as it came

    path.write_bytes(good)
    assert materialize_month(ingested, SECOND).success


def test_ids_reused_from_an_earlier_month_are_leakage(ingested: StorageResource) -> None:
    set_value("SK_ID_CURR", 0, _first_history_id(ingested))(
        ingested.store.local_root / "landing" / landing_file_name(SECOND)
    )
    result = materialize_month(ingested, SECOND)
    assert not result.success
    assert "ids_not_seen_before" in failed_checks(result)
    assert f"(line 2) was already in {HISTORY}" in failed_checks(result)["ids_not_seen_before"]


def test_missing_landing_file_names_the_expected_path(tmp_path: Path) -> None:
    result = materialize_month(StorageResource(root=str(tmp_path)), FIRST)
    assert not result.success
    assert f"expected {tmp_path.resolve() / 'landing' / landing_file_name(FIRST)}" in failure_message(result)

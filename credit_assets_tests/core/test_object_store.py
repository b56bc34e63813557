"""The storage seam's guarantees, on the local folder and on a real S3-compatible server (moto's server mode)."""

import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from credit_assets.core.blobs import Blobs, LocalBlobs, MissingArtifact, ObjectBlobs
from credit_assets.core.chained_log import ChainBroken, ChainedLog, FileLines, ObjectLines, lines_at
from credit_assets.core.store import FORECASTS_EXPORT, ArtifactStore
from credit_assets_tests.support.object_store import environment, fresh_prefix, s3_server

WRITERS, APPENDS_EACH = 4, 5


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Blobs:
    if request.param == "local":
        return LocalBlobs(tmp_path)
    request.getfixturevalue("s3_env")
    return ObjectBlobs(fresh_prefix())


def test_an_object_is_replaced_whole_and_created_only_once(blobs: Blobs) -> None:
    assert blobs.keys("tables/") == []
    with pytest.raises(MissingArtifact, match="does not exist"):
        blobs.get("tables/raw/2020-01.parquet")
    blobs.put("tables/raw/2020-01.parquet", b"first")
    blobs.put("tables/raw/2020-01.parquet", b"second")
    assert blobs.get("tables/raw/2020-01.parquet") == b"second"
    assert blobs.create("logs/x/0000000001.json", b"one")
    assert not blobs.create("logs/x/0000000001.json", b"other")  # the second writer of a key loses
    assert blobs.get("logs/x/0000000001.json") == b"one"
    blobs.put_folder("registry/models/v1", {"manifest.json": b"{}", "model.txt": b"m"}, commit="manifest.json")
    assert blobs.keys("registry/") == ["registry/models/v1/manifest.json", "registry/models/v1/model.txt"]
    blobs.delete("tables/raw/2020-01.parquet")
    assert not blobs.exists("tables/raw/2020-01.parquet")


def test_tables_and_exports_round_trip_byte_identically_on_either_backend(blobs: Blobs, tmp_path: Path) -> None:
    frame = pd.DataFrame({"SK_ID_CURR": [1, 2, 3], "default_probability": [0.08316271403298791, 0.5, 0.125]})
    store, local = ArtifactStore(blobs), ArtifactStore(LocalBlobs(tmp_path / "reference"))
    for each in (store, local):
        each.write_table("forecasts", "2020-01", frame)
        each.write_export(FORECASTS_EXPORT, "2020-01", frame)
    pd.testing.assert_frame_equal(
        store.read_table("forecasts", "2020-01", ["default_probability"]), frame[["default_probability"]]
    )
    assert store.table_months("forecasts") == ["2020-01"]
    assert store.read_export(FORECASTS_EXPORT, "2020-01") == local.read_export(FORECASTS_EXPORT, "2020-01")
    assert store.blobs.get("tables/forecasts/2020-01.parquet") == local.blobs.get("tables/forecasts/2020-01.parquet")


def _append_concurrently(make_log: Callable[[], ChainedLog]) -> list[dict]:
    """WRITERS threads, each with a log object of its own (as separate hosts would have), appending at once."""
    start = threading.Barrier(WRITERS)

    def write(writer: int) -> None:
        log = make_log()
        start.wait()
        for number in range(APPENDS_EACH):
            log.append({"writer": writer, "number": number})

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return make_log().entries()


def test_concurrent_writers_never_append_the_same_sequence_number(blobs: Blobs) -> None:
    entries = _append_concurrently(lambda: ChainedLog(lines_at(blobs, "registry/promotions.jsonl")))
    assert [entry["sequence"] for entry in entries] == list(range(1, WRITERS * APPENDS_EACH + 1))
    assert sorted((e["writer"], e["number"]) for e in entries) == [
        (writer, number) for writer in range(WRITERS) for number in range(APPENDS_EACH)
    ]


def test_an_edited_object_log_entry_breaks_the_chain(s3_env: dict[str, str]) -> None:
    blobs = ObjectBlobs(fresh_prefix())
    lines = lines_at(blobs, "registry/promotions.jsonl")
    assert isinstance(lines, ObjectLines) and isinstance(lines_at(LocalBlobs(Path("/x")), "a.jsonl"), FileLines)
    log = ChainedLog(lines)
    log.append({"month": "2020-10", "champion": None})
    log.append({"month": "2020-11", "champion": "v1"})
    first = blobs.keys("registry/")[0]
    blobs.put(first, blobs.get(first).replace(b"2020-10", b"2020-09"))  # whoever can write the bucket edits an entry
    with pytest.raises(ChainBroken, match="line 1 breaks the chain"):
        log.entries()


def test_a_store_opened_after_the_endpoint_changed_reaches_the_new_endpoint(s3_env: dict[str, str]) -> None:
    # a client cached from an earlier store would still write to the first server
    prefix = fresh_prefix()
    ObjectBlobs(prefix).put("first.txt", b"on the first server")
    with s3_server() as other, environment(other):
        ObjectBlobs(prefix).put("second.txt", b"on the second server")
        assert ObjectBlobs(prefix).keys("") == ["second.txt"]
    assert ObjectBlobs(prefix).keys("") == ["first.txt"]

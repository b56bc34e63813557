"""dev.py's demo: its months are the latest complete months, which every process then takes as the partitions; the
login is held back and printed after both servers answer."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import dev
from credit_assets.core.months import FIRST_MONTH_SETTING, landing_file_name, month_sequence
from credit_assets.synthetic.generate import GeneratorConfig
from credit_assets_tests.support.e2e import free_port

# What a fresh process of the project takes as the partitions and the demo generator's months (credit_assets.demo
# generates the demo scale and one month more).
SHOW_MONTHS = """
from dataclasses import replace
from credit_assets.defs.partitions import monthly_partitions
from credit_assets.synthetic.generate import GeneratorConfig
demo = GeneratorConfig.at_scale("demo")
print(" ".join(monthly_partitions.get_partition_keys()))
print(" ".join(replace(demo, months=demo.months + 1).month_keys))
"""


def project_process(code: str, first_month: str) -> subprocess.CompletedProcess:
    env = {**os.environ, FIRST_MONTH_SETTING: first_month}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_the_demo_months_are_the_latest_complete_months_and_nothing_else_is_a_partition(tmp_path: Path) -> None:
    assert dev.DEMO_MONTHS == GeneratorConfig.at_scale("demo").months + 2  # history, landed months, kept-back one
    first = dev.demo_first_month(tmp_path / "landing", datetime.now(UTC).date())
    shown = project_process(SHOW_MONTHS, first)
    assert shown.returncode == 0, shown.stderr
    partitions, generated = (line.split() for line in shown.stdout.splitlines())
    assert partitions == generated == month_sequence(first, dev.DEMO_MONTHS)


@pytest.mark.parametrize(
    ("today", "first"), [(date(2026, 12, 3), "2026-06"), (date(2027, 1, 1), "2026-07"), (date(2026, 6, 30), "2025-12")]
)
def test_the_demo_history_month_is_six_months_back(today: date, first: str) -> None:
    assert dev.latest_demo_start(today) == first


def test_an_earlier_demo_keeps_its_months(tmp_path: Path) -> None:
    for month in ("2020-10", "2020-09"):
        (tmp_path / landing_file_name(month)).write_text("landed")
    (tmp_path / "applications_2019-1.csv").write_text("no month")
    assert dev.demo_first_month(tmp_path, date(2026, 12, 3)) == "2020-09"


def test_a_malformed_first_month_is_refused_by_its_name() -> None:
    refused = project_process("import credit_assets.defs.partitions", "2026-6")
    assert refused.returncode != 0
    assert "CREDIT_ASSETS_FIRST_MONTH must look like YYYY-MM, not '2026-6'" in refused.stderr


def test_the_login_lines_are_held_back_for_the_end(capsys: pytest.CaptureFixture[str]) -> None:
    said = "print('2020-09: ingest_month succeeded'); print('portal login (shown once): user demo, password s3cret')"
    held = dev.run_holding_back_login([sys.executable, "-c", said], dict(os.environ))
    echoed = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("+ ")]  # not the command
    assert held == ["portal login (shown once): user demo, password s3cret"]
    assert echoed == ["2020-09: ingest_month succeeded"]
    block = dev.ready_block({"Portal": "http://127.0.0.1:8000"}, held).splitlines()
    assert "http://127.0.0.1:8000" in block[2] and "s3cret" in block[3] and block[0] == block[-1] == "=" * 78


def test_waiting_polls_until_the_server_answers() -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"])
    try:
        url = f"http://127.0.0.1:{port}/"
        dev.wait_until_answering({url: server}, timeout=60)
        assert dev.answers(url)
    finally:
        server.kill()  # not terminate: in a full suite run a terminated http.server was still running 10 s later
        server.wait(10)


def test_waiting_stops_when_the_server_process_ends_first() -> None:
    ended = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(SystemExit, match="ended with status 3"):
        dev.wait_until_answering({f"http://127.0.0.1:{free_port()}/": ended}, timeout=60)

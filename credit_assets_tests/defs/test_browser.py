"""The Dagster UI in real Chromium (Playwright): lineage, partitions, a run, a backfill, checks and their months."""

import os
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import dagster as dg
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from credit_assets.core.contract.quality import Rule
from credit_assets.core.decisions import log as decision_log
from credit_assets.core.decisions.log import DecisionLog
from credit_assets.core.months import landing_file_name
from credit_assets.defs.storage import StorageResource
from credit_assets.keys import PARTITION_TAG
from credit_assets.synthetic.generate import GeneratorConfig, generate_landing_files
from credit_assets_tests.support.bad_files import set_value
from credit_assets_tests.support.browser import chromium, screenshot, tab
from credit_assets_tests.support.e2e import DagsterDev, dagster_dev, wait_until, write_instance
from credit_assets_tests.support.live_decisions import decide, records_of, underwrite_month
from credit_assets_tests.support.materialise import (
    INGEST,
    SCORE,
    decision_log_of,
    failed_checks,
    failure_message,
    materialize_month,
)
from credit_assets_tests.support.models_approval import DOCS_SCREENSHOT, DOCS_SCREENSHOT_ENV

DEMO = GeneratorConfig(seed=3, history_rows=3_000, months=3, rows_per_month=1_000)
# The last month lands with a birth date out of bounds: its blocking check fails and the month stops there.
HISTORY, *SCORED, BROKEN = DEMO.month_keys
BROKEN_RULE = Rule.VALUES_WITHIN_BOUNDS.value
RERUN = SCORED[0]  # ingested a second time after it was scored: its checks run twice
LINEAGE = [
    "raw_applications",
    "validated_applications",
    "features",
    "model",
    "forecasts",
    "decisions",
    "adverse_action_notices",
    "forecast_performance",
    "data_profile",
    "drift",
    "fairness",
    "model_comparison",
    "decision_economics",
    "model_documentation",
]
LIVE_ROWS = 300  # of the first scored month, decided live as the decision service decides them
RUN_SECONDS = 5 * 60  # a launched run or backfill of raw_applications: a few process start-ups on 2 busy cores


@pytest.fixture(scope="module")
def demo_server(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    """`dagster dev` on an instance whose demo months were materialised in process beforehand, as `dev.py demo` does."""
    base = tmp_path_factory.mktemp("browser")
    home, storage = base / "dagster_home", StorageResource(root=str(base / "data"))
    generate_landing_files(DEMO, storage.store.local_root / "landing", storage.store.local_root / "generator_truth")
    write_instance(home)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))  # the project's dagster.yaml puts SQLite under $DAGSTER_HOME
        with dg.DagsterInstance.from_config(str(home)) as instance:
            for month in [HISTORY, *SCORED]:
                result = materialize_month(storage, month, INGEST if month == HISTORY else SCORE, instance=instance)
                assert result.success, failure_message(result)
            set_value("DAYS_BIRTH", 4, "12000")(storage.store.local_root.joinpath("landing", landing_file_name(BROKEN)))
            broken = materialize_month(storage, BROKEN, INGEST, instance=instance)
            assert not broken.success and list(failed_checks(broken)) == [BROKEN_RULE]
            again = materialize_month(storage, RERUN, INGEST, instance=instance)  # last: the latest executions pass
            assert again.success, failure_message(again)
            decide_live(storage, patch)
            live = materialize_month(storage, SCORED[0], ["decisions", "adverse_action_notices"], instance=instance)
            assert live.success, failure_message(live)
    with dagster_dev(home, storage.store.local_root) as server:
        server.query("mutation { setNuxSeen }")  # no "Join the Dagster community" dialog over the pages
        yield server


def decide_live(storage: StorageResource, patch: pytest.MonkeyPatch) -> None:
    """LIVE_ROWS of the first scored month decided live on its 2nd, the referrals underwritten on its 20th."""
    year, month = map(int, SCORED[0].split("-"))
    decided = decide(
        storage, records_of(storage, SCORED[0])[:LIVE_ROWS], datetime(year, month, 2, 9, tzinfo=UTC), SCORED[0]
    )
    log = DecisionLog(decision_log_of(storage).url)
    log.append(decided)
    patch.setattr(decision_log, "now_utc", lambda: datetime(year, month, 20, 11, tzinfo=UTC))
    underwrite_month(log, decided)
    log.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the module (first, so a missing Chromium fails before the server starts)."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, demo_server: DagsterDev) -> Iterator[Page]:
    with tab(browser, demo_server.url) as opened:
        yield opened


def sidebar_asset(page: Page, asset: str) -> Locator:
    """The asset's entry in the lineage page's sidebar tree (a button named after it, not the group of that name)."""
    named = page.get_by_role("button", name=re.compile(rf"(^|\s){asset} {asset}$"))
    return named.filter(has_not=page.get_by_role("img", name="asset_group"))


def expand_lineage(page: Page) -> None:
    """Expand every asset group, in the graph (its context menu) and in the sidebar tree."""
    groups = page.get_by_role("button", name=re.compile(r"^asset_group "))
    expect(groups.last).to_be_visible()
    search = page.get_by_role("textbox", name="Search and filter assets").bounding_box()
    assert search is not None
    page.mouse.click(search["x"] + 20, search["y"] + search["height"] + 40, button="right")  # the graph's empty corner
    page.get_by_text("Expand all groups").last.click()
    for index in range(groups.count()):  # each group's disclosure arrow comes before its name in the tree
        page.get_by_role("button", name="arrow_drop_down").nth(index).click()


def launch_from_dialog(page: Page, asset: str, partitions: str, button: str) -> None:
    """Open the asset's "Materialize…" dialog, type the partition selection and press the launch button."""
    page.goto(f"/assets/{asset}")
    page.get_by_role("button", name=re.compile("Materialize…")).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("textbox").fill(partitions)
    dialog.get_by_role("textbox").press("Enter")  # the selection applies on Enter
    dialog.get_by_role("button", name=button).click()
    expect(dialog).to_be_hidden()


def runs_of_month(server: DagsterDev, month: str) -> set[str]:
    """Ids of the runs of one partition (the freshness sensor's runs have none)."""
    return {run["runId"] for run in server.runs() if run["tags"].get(PARTITION_TAG) == month}


def new_item(list_ids: Callable[[], set[str]], known: set[str], what: str) -> str:
    """The one id that `list_ids` returns beyond `known`, waited for."""
    fresh = wait_until(lambda: list_ids() - known, 60, what)
    assert len(fresh) == 1, fresh
    return fresh.pop()


def test_asset_graph_shows_every_asset_of_the_lineage(page: Page) -> None:
    page.goto("/asset-groups")
    expand_lineage(page)
    for asset in LINEAGE:
        expect(sidebar_asset(page, asset)).to_be_visible()
    screenshot(page, "browser", "1-asset-graph")


def test_collapsed_asset_groups_show_the_status_of_their_assets(page: Page) -> None:
    """The lineage opens with every group collapsed; zoomed in, each group's node counts its assets by status."""
    page.goto("/asset-groups")
    groups = page.get_by_role("button", name=re.compile(r"^asset_group "))
    expect(groups).to_have_count(len({"ingest", "model", "monitoring", "governance"}))
    zoom_in = page.get_by_role("button").filter(has=page.get_by_role("img", name="zoom_in"))
    zoom_in.click()
    zoom_in.click()
    expect(page.get_by_role("img", name="unfold_more")).to_have_count(groups.count())  # one per collapsed node
    expect(page.get_by_text("(fetching statuses)")).to_have_count(0)
    screenshot(page, "browser", "1b-collapsed-groups")


def open_asset_tab(page: Page, asset: str, tab: str) -> None:
    """Open the asset's page and, once it has loaded (a click on a tab while it loads is lost), one of its tabs."""
    page.goto(f"/assets/{asset}")
    expect(page.get_by_text("Latest materialization")).to_be_visible()
    page.get_by_role("tab", name=tab).click()
    expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")


def test_partitioned_asset_lists_its_months(page: Page) -> None:
    open_asset_tab(page, "forecasts", "Partitions")
    expect(page.get_by_text(f"Materialized ({len(SCORED)})", exact=True)).to_be_visible()
    page.get_by_role("textbox", name="Filter by name…").fill(SCORED[0])
    page.get_by_text(SCORED[0], exact=True).filter(visible=True).first.click()
    expect(page.get_by_role("row", name=f"dagster/row_count {DEMO.rows_per_month}")).to_be_visible()
    screenshot(page, "browser", "2-forecasts-partitions")


def test_materialising_one_month_from_the_ui_succeeds(page: Page, demo_server: DagsterDev) -> None:
    known = runs_of_month(demo_server, SCORED[-1])
    launch_from_dialog(page, "raw_applications", SCORED[-1], "Launch 1 run")
    run_id = new_item(lambda: runs_of_month(demo_server, SCORED[-1]), known, "the launched run")
    page.goto(f"/runs/{run_id}")
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_SECONDS * 1000)
    assert run_id in {event["runId"] for event in demo_server.materialisations("raw_applications", [SCORED[-1]])}
    screenshot(page, "browser", "3-one-month-run")


def test_backfilling_two_months_from_the_ui_completes(page: Page, demo_server: DagsterDev) -> None:
    known = set(demo_server.backfill_ids())
    launch_from_dialog(page, "raw_applications", f"[{SCORED[0]}...{SCORED[-1]}]", "Launch backfill")
    backfill_id = new_item(lambda: set(demo_server.backfill_ids()), known, "the launched backfill")
    page.goto(f"/runs/b/{backfill_id}")
    expect(page.get_by_text("100% completed", exact=True)).to_be_visible(timeout=RUN_SECONDS * 1000)
    assert demo_server.backfill_status(backfill_id) == "COMPLETED_SUCCESS"
    screenshot(page, "browser", "4-two-month-backfill")


def test_checks_of_validated_applications_show_their_results(page: Page, demo_server: DagsterDev) -> None:
    names = demo_server.check_names("validated_applications")
    open_asset_tab(page, "validated_applications", "Checks")
    expect(page.get_by_text(f"Checks ({len(names)})")).to_be_visible()
    for name in names:
        expect(page.get_by_text(name, exact=True).first).to_be_visible()
    # the list shows the newest month's results: BROKEN's file broke one rule
    expect(page.get_by_text("Succeeded", exact=True)).to_have_count(len(names) - 1)
    expect(page.get_by_text("Failed", exact=True)).to_have_count(1)
    screenshot(page, "browser", "5-validated-applications-checks")


def test_each_month_keeps_its_own_check_results(page: Page) -> None:
    """After later months ran, an earlier month's check still shows its own result (partitioned checks)."""
    earlier = SCORED[0]
    page.goto("/assets/validated_applications?view=checks")
    expect(page.get_by_text("Latest execution")).to_be_visible()
    page.get_by_role("tab", name="Partitions").last.click()  # the check's tab, not the asset's
    expect(page.get_by_text(f"Passed ({len(DEMO.month_keys)})", exact=True)).to_be_visible()
    page.get_by_placeholder("Filter by partition").fill(earlier)
    page.get_by_text(earlier, exact=True).filter(visible=True).first.click()
    expect(page.get_by_text("1 Partitions Selected", exact=True)).to_be_visible()
    expect(page.get_by_text("Passed", exact=True).filter(visible=True).first).to_be_visible()
    expect(page.get_by_role("row", name=f"file {landing_file_name(earlier)}")).to_be_visible()
    screenshot(page, "browser", "6-checks-of-one-month")


def month_of_check(page: Page, check: str, month: str) -> None:
    """Open a validated_applications check's Partitions tab with one month selected."""
    page.goto("/assets/validated_applications?view=checks")
    expect(page.get_by_text("Latest execution")).to_be_visible()
    page.get_by_text(check, exact=True).first.click()
    page.get_by_role("tab", name="Partitions").last.click()  # the check's tab, not the asset's
    page.get_by_placeholder("Filter by partition").fill(month)
    page.get_by_text(month, exact=True).filter(visible=True).first.click()
    expect(page.get_by_text("1 Partitions Selected", exact=True)).to_be_visible()


def execution_history(page: Page, month: str, count: int) -> Locator:
    """The month's historical check executions dialog, opened from its latest execution; its rows."""
    page.get_by_text(f"View all historical executions ({count})", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(f"Historical check executions for {month}")).to_be_visible()
    return dialog.get_by_role("row").filter(has_text=month)


def test_a_month_whose_check_failed_shows_the_failure_and_its_findings(page: Page) -> None:
    month_of_check(page, BROKEN_RULE, BROKEN)
    expect(page.get_by_text("Failed (1)", exact=True).filter(visible=True).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"DAYS_BIRTH.*12000")).first).to_be_visible()  # the description
    expect(page.get_by_role("row", name=re.compile(r"^failures"))).to_be_visible()
    rows = execution_history(page, BROKEN, 1)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Failed")
    screenshot(page, "browser", "7-failed-check-of-one-month")


def test_a_month_checked_twice_lists_both_executions(page: Page) -> None:
    month_of_check(page, BROKEN_RULE, RERUN)
    expect(page.get_by_text("Passed (1)", exact=True).filter(visible=True).first).to_be_visible()
    rows = execution_history(page, RERUN, 2)
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Succeeded")).to_have_count(2)
    screenshot(page, "browser", "8-two-executions-of-one-month")


def test_the_decisions_asset_folds_a_month_of_live_decisions(page: Page) -> None:
    """The month's live decisions in the UI: counts, the override report and the blocking comparison with the batch."""
    open_asset_tab(page, "decisions", "Partitions")
    page.get_by_role("textbox", name="Filter by name…").fill(SCORED[0])
    page.get_by_text(SCORED[0], exact=True).filter(visible=True).first.click()
    expect(page.get_by_role("row", name=f"dagster/row_count {LIVE_ROWS}")).to_be_visible()
    expect(page.get_by_text("overrides_by_reason").first).to_be_visible()
    kept = screenshot(page, "browser", "9-decisions-of-one-month", full_page=True)
    if os.environ.get(DOCS_SCREENSHOT_ENV) == "1":
        shutil.copy(kept, DOCS_SCREENSHOT.with_name("decisions_asset.png"))

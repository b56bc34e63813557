"""The portal in real Chromium next to the real `dagster dev` (webserver and daemon): log in, upload a month and
watch the landing sensor's run score it, download its outputs, a broken file's message, the viewer role."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import dagster as dg
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from credit_assets.core.months import landing_file_name
from credit_assets.core.scoring import PROBABILITY_BANDS
from credit_assets.core.store import ArtifactStore
from credit_assets.defs.storage import StorageResource
from credit_assets.portal.audit import AuditLog
from credit_assets.portal.users import Role, UserStore
from credit_assets.synthetic.generate import GeneratorConfig, generate_landing_files
from credit_assets_tests.support.bad_files import set_value
from credit_assets_tests.support.browser import chromium, log_in_as, portal_process, screenshot, tab
from credit_assets_tests.support.e2e import (
    dagster_dev,
    wait_until,
    write_instance,
)
from credit_assets_tests.support.materialise import INGEST, failure_message, materialize_month

# The uploaded month carries a planted disparity (women's external scores 1.5 standard deviations lower), so its
# summary always lists a failed check: the fair-lending warning on sex.
HISTORY, UPLOADED = GeneratorConfig(history_rows=1, months=1).month_keys
MONTHS = GeneratorConfig(
    seed=4, history_rows=3_000, months=1, rows_per_month=1_000, disparity_month=UPLOADED,
    disparity_group="CODE_GENDER=F", disparity_strength=1.5,
)  # fmt: skip
PASSWORDS = {"olga": "uploader-password-1", "victor": "viewer-password-22"}
SCORED_MS = 8 * 60_000  # sensor tick, the file's settling time, run start and a small model on 2 busy cores


@dataclass(frozen=True)
class Portal:
    url: str
    store: ArtifactStore
    source: Path  # the generated files, outside the landing folder
    secrets_dir: Path  # the portal's keys and the audit log's anchored head, under its DAGSTER_HOME


@pytest.fixture(scope="module")
def portal(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """The history ingested, `dagster dev` over it and the portal (`credit-assets portal`) on the same instance."""
    base = tmp_path_factory.mktemp("portal-browser")
    home, store, source = base / "dagster_home", ArtifactStore.at(base / "data"), base / "generated"
    generate_landing_files(MONTHS, source, base / "generator_truth")
    (store.local_root / "landing").mkdir(parents=True)
    (store.local_root / "landing" / landing_file_name(HISTORY)).write_bytes(
        (source / landing_file_name(HISTORY)).read_bytes()
    )
    write_instance(home)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        with dg.DagsterInstance.from_config(str(home)) as instance:
            result = materialize_month(StorageResource(root=str(store.local_root)), HISTORY, INGEST, instance=instance)
            assert result.success, failure_message(result)
    users = UserStore(store.portal_users_file)
    for name, role in (("olga", Role.UPLOADER), ("victor", Role.VIEWER)):
        users.add(name, role, PASSWORDS[name])
    with dagster_dev(home, store.local_root) as server, portal_process(home, store.local_root, server.url) as url:
        yield Portal(url, store, source, home / "credit_assets_secrets")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, portal: Portal) -> Iterator[Page]:
    with tab(browser, portal.url, width=1300, height=800) as opened:
        yield opened


def log_in(page: Page, name: str) -> None:
    log_in_as(page, name, PASSWORDS[name])


def upload(page: Page, month: str, path: Path) -> None:
    page.locator("select[name=month]").select_option(month)
    page.get_by_label(re.compile("Applications file")).set_input_files(path)
    page.get_by_role("button", name="Check and upload").click()


FORWARD = ["landed", "queued", "validating", "scoring", "scored"]


def _scored(page: Page, row: Locator, seen: list[str]) -> bool:
    """Reload the months page and note the month's state (with a screenshot when it changed); True once scored."""
    page.goto("/")
    state = row.locator(".state").inner_text()
    if not seen or seen[-1] != state:
        seen.append(state)
        screenshot(page, "portal", f"state-{len(seen)}-{state}", full_page=True)
    return state == "scored"


def test_without_a_login_every_page_goes_to_the_login(page: Page) -> None:
    for path in ("/", f"/months/{UPLOADED}/forecasts.csv"):
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/login$"))
    screenshot(page, "portal", "1-login", full_page=True)


def test_a_broken_file_is_named_by_column_and_rule_and_not_landed(page: Page, portal: Portal, tmp_path: Path) -> None:
    broken = tmp_path / "applications.csv"
    broken.write_bytes((portal.source / landing_file_name(UPLOADED)).read_bytes())
    set_value("DAYS_BIRTH", 4, "12000")(broken)
    log_in(page, "olga")
    upload(page, UPLOADED, broken)
    expect(page.get_by_role("heading", name=f"{UPLOADED} not landed")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="values_within_bounds")
    expect(row).to_contain_text("DAYS_BIRTH")
    expect(row).to_contain_text("12000")
    assert not portal.store.local_root.joinpath("landing", landing_file_name(UPLOADED)).exists()
    screenshot(page, "portal", "2-broken-file", full_page=True)


def test_a_viewer_sees_no_upload_and_is_refused_one(page: Page, portal: Portal) -> None:
    log_in(page, "victor")
    expect(page.get_by_role("heading", name="Months")).to_be_visible()
    expect(page.get_by_role("heading", name="Upload a month")).to_have_count(0)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    good = portal.source / landing_file_name(UPLOADED)
    answer = page.request.post(
        "/upload",
        multipart={
            "csrf_token": token,
            "month": UPLOADED,
            "file": {"name": good.name, "mimeType": "text/csv", "buffer": good.read_bytes()},
        },
    )
    assert answer.status == 403 and "victor is a viewer" in answer.text()
    assert not portal.store.local_root.joinpath("landing", landing_file_name(UPLOADED)).exists()


def test_an_uploaded_month_is_scored_and_its_outputs_download(page: Page, portal: Portal, tmp_path: Path) -> None:
    log_in(page, "olga")
    screenshot(page, "portal", "3-months", full_page=True)
    upload(page, UPLOADED, portal.source / landing_file_name(UPLOADED))
    expect(page.get_by_role("heading", name=f"{UPLOADED} landed")).to_be_visible()
    screenshot(page, "portal", "4-landed", full_page=True)
    row = page.locator(f"#month-{UPLOADED}")
    seen: list[str] = []
    wait_until(lambda: _scored(page, row, seen), SCORED_MS / 1000, f"{UPLOADED} scored", interval=0.5)
    assert seen == sorted(seen, key=FORWARD.index), seen  # a month's state never goes backwards
    expect(row).to_contain_text("lightgbm-")
    screenshot(page, "portal", "5-scored", full_page=True)
    expected = {
        "forecasts": portal.store.local_root / "forecasts" / f"forecasts_{UPLOADED}.csv",
        "notices": portal.store.local_root / "notices" / f"notices_{UPLOADED}.csv",
    }
    for link, stored in expected.items():
        with page.expect_download() as download:
            row.get_by_role("link", name=link).click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.read_bytes() == stored.read_bytes()
    with page.expect_download() as pack:
        row.get_by_role("link", name="documentation").click()
    version = row.locator("code").inner_text()
    assert (
        Path(pack.value.path()).read_bytes()
        == portal.store.local_root.joinpath("documentation", f"{version}.html").read_bytes()
    )


def test_the_audit_log_holds_every_action(portal: Portal) -> None:
    entries = AuditLog(portal.store.portal_audit_log, portal.secrets_dir).entries()
    actions = [(entry["user"], entry["action"], entry["outcome"]) for entry in entries]
    assert ("olga", "upload", "refused: 1 problem(s)") in actions
    assert ("victor", "upload", "refused: viewer role") in actions
    assert ("olga", "upload", "landed") in actions
    downloads = [entry for entry in entries if entry["action"] == "download" and entry["outcome"] == "ok"]
    assert sorted(entry["file"] for entry in downloads) == ["documentation.html", "forecasts.csv", "notices.csv"]
    assert all(len(entry["file_sha256"]) == 64 and entry["month"] == UPLOADED for entry in downloads)
    assert [entry["user"] for entry in entries if entry["action"] == "login"] == ["olga", "victor", "olga"]


def test_a_scored_months_summary_draws_its_chart_within_the_content_security_policy(page: Page) -> None:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    log_in(page, "victor")
    page.locator(f"#month-{UPLOADED}").get_by_role("link", name=UPLOADED).click()
    chart = page.get_by_role("img", name=f"Applications of {UPLOADED} per default-probability band, by decision")
    expect(chart.locator("g.bar")).to_have_count(PROBABILITY_BANDS)
    box = chart.bounding_box()
    assert box and box["width"] > 500 and box["height"] > 150  # drawn at size: the stylesheet applies
    expect(page.get_by_role("heading", name="Top reasons")).to_be_visible()
    expect(page.get_by_role("heading", name="Trends")).to_be_visible()
    screenshot(page, "portal", "6-month-summary", full_page=True)
    assert not [text for text in console if "Content Security Policy" in text], console
    expect(page.get_by_text("sex F: n = ")).to_be_visible()  # the planted disparity's warning, in plain words
    link = page.get_by_role("link", name="the check in Dagster").first
    check = parse_qs(urlparse(link.get_attribute("href")).query)["checkDetail"][0]
    link.click()
    expect(page).to_have_url(re.compile(rf"/assets/\w+\?view=checks&checkDetail={check}$"))
    expect(page.get_by_text(check).first).to_be_visible()  # the Dagster UI opened the check itself
    screenshot(page, "portal", "7-check-in-dagster")

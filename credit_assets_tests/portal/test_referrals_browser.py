"""The underwriter queue in real Chromium on the real portal (`credit-assets portal`) over a real SQLite decision
log: an underwriter logs in, opens the queue, decides the referral that waited too long with a reason and a
comment, and sees it leave the queue; the decision log and the audit log hold it.

With CREDIT_ASSETS_DOCS_SCREENSHOTS=1 the queue is kept as docs/screenshots/underwriter_queue.png."""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from credit_assets.core.databases import DECISION_DB_ENV
from credit_assets.core.decisions.log import DecisionLog, LiveDecision, now_utc
from credit_assets.core.store import ArtifactStore
from credit_assets.portal.audit import AuditLog
from credit_assets.portal.users import Role, UserStore, generate_password
from credit_assets_tests.support.browser import chromium, log_in_as, portal_process, screenshot, tab
from credit_assets_tests.support.e2e import ROOT, write_instance
from credit_assets_tests.support.models_approval import DOCS_SCREENSHOT_ENV
from credit_assets_tests.support.referrals import Arrival, log_arrivals

DOCS_SCREENSHOT = ROOT / "docs" / "screenshots" / "underwriter_queue.png"
UNDERWRITER = "uma"
COMMENT = "Payslips for the last three months show less than half the stated income."
ARRIVALS = [Arrival(62), Arrival(20), Arrival(5), Arrival(0.7), Arrival(3, "approve")]  # one waits too long


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def open_queue(page: Page, password: str, referrals: int) -> None:
    """Log in as the underwriter and open the queue from the navigation; it must list `referrals` rows."""
    log_in_as(page, UNDERWRITER, password)
    page.get_by_role("navigation").get_by_role("link", name="Referrals").click()
    expect(page.get_by_role("heading", name="Referrals")).to_be_visible()
    expect(page.locator("tr.referral")).to_have_count(referrals)


def decide_in_browser(page: Page, referral: LiveDecision) -> None:
    """Open the referral from the queue, decline it with a reason and a comment, and land back on the queue."""
    page.get_by_role("link", name=str(referral.application_id), exact=True).click()
    expect(page.get_by_role("heading", name=f"Application {referral.application_id}")).to_be_visible()
    page.get_by_label("Decline").check()
    page.get_by_label("Reason").select_option(label="Income could not be verified")
    page.get_by_label(re.compile("Comment")).fill(COMMENT)
    screenshot(page, "referrals", "2-application", full_page=True)
    page.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_role("status")).to_contain_text(f"Recorded: application {referral.application_id} declined")


def test_an_underwriter_decides_a_referral_in_the_browser(
    browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ArtifactStore.at(tmp_path / "data")
    url = f"sqlite:///{store.local_root / 'decisions' / 'decision_log.sqlite'}"
    monkeypatch.setenv(DECISION_DB_ENV, url)  # the portal's process reads the log this test writes
    log = DecisionLog(url)
    old, *_ = log_arrivals(log, now_utc(), ARRIVALS)
    password = generate_password()
    UserStore(store.portal_users_file).add(UNDERWRITER, Role.UNDERWRITER, password)
    home = tmp_path / "dagster_home"
    write_instance(home)
    with portal_process(home, store.local_root, "http://127.0.0.1:3000") as portal, tab(browser, portal) as page:
        open_queue(page, password, referrals=4)
        expect(page.locator("#old-count")).to_have_text("1 older than 48 hours")
        expect(page.locator(f"#referral-{old.decision_id}")).to_contain_text("waiting too long")
        screenshot(page, "referrals", "1-queue", full_page=True)
        if os.environ.get(DOCS_SCREENSHOT_ENV) == "1":
            DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=DOCS_SCREENSHOT, full_page=True)
        decide_in_browser(page, old)
        expect(page.locator(f"#referral-{old.decision_id}")).to_have_count(0)
        expect(page.locator("tr.referral")).to_have_count(3)
        expect(page.locator("#old-count")).to_have_text("0 older than 48 hours")
        screenshot(page, "referrals", "3-decided", full_page=True)
    entry = log.underwriting_of([old.decision_id])[old.decision_id]
    assert (entry.underwriter, entry.final_decision, entry.reason_code, entry.comment) == (
        UNDERWRITER, "decline", "income_not_verified", COMMENT
    )  # fmt: skip
    secrets_dir = Path(os.environ.get("CREDIT_ASSETS_SECRETS_DIR", home / "credit_assets_secrets"))
    audited = AuditLog(store.portal_audit_log, secrets_dir).entries()[-1]
    assert (audited["user"], audited["action"], audited["outcome"]) == (UNDERWRITER, "underwriting", "ok")
    assert old.decision_id in audited["detail"]

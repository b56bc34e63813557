"""A model_risk user's approval of the candidate awaiting it, in real Chromium on the real portal. Works on any
prepared storage root: the small log of support/model_log.py, or a root that real Dagster runs left with a
candidate awaiting approval.

    with chromium() as browser, models_portal(root, dagster_home) as portal, tab(browser, portal.url) as page:
        entry = approve_in_browser(page, portal, "validation and LDA search reviewed")
"""

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from credit_assets.core.modeling import change_control as cc
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.store import ArtifactStore
from credit_assets.portal import models
from credit_assets.portal.users import Role, UserStore, generate_password
from credit_assets_tests.support.browser import log_in_as, portal_process, screenshot
from credit_assets_tests.support.e2e import ROOT, write_instance

DOCS_SCREENSHOT_ENV = "CREDIT_ASSETS_DOCS_SCREENSHOTS"  # set to 1 to refresh the README's screenshot
DOCS_SCREENSHOT = ROOT / "docs" / "screenshots" / "models_approval.png"
MODEL_RISK_USER = "mira"


@dataclass(frozen=True)
class ModelsPortal:
    url: str
    store: ArtifactStore
    secrets_dir: Path  # the portal's keys and the audit log's anchored head
    user: str  # a model_risk user
    password: str

    @property
    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.store.blobs)


@contextmanager
def models_portal(
    root: Path, home: Path, user: str = MODEL_RISK_USER, dagster_url: str = "http://127.0.0.1:3000"
) -> Iterator[ModelsPortal]:
    """The real portal over `root` with `user` as a model_risk user (given a new password when it exists). `home`
    is the DAGSTER_HOME whose instance the months page reads: the runs' own, or a new empty one when it has none."""
    store = ArtifactStore.at(root)
    password = generate_password()
    UserStore(store.portal_users_file).add(user, Role.MODEL_RISK, password, replace=True)
    if not (home / "dagster.yaml").is_file():
        write_instance(home)
    secrets_dir = Path(os.environ.get("CREDIT_ASSETS_SECRETS_DIR", home / "credit_assets_secrets"))
    with portal_process(home, store.local_root, dagster_url) as url:
        yield ModelsPortal(url, store, secrets_dir, user, password)


def _side_by_side(page: Page) -> None:
    """The champion's and the candidate's cards in one row, champion on the left."""
    cards = page.locator("section.model")
    expect(cards.first).to_contain_text("Champion in force")
    expect(cards.nth(1)).to_contain_text("Candidate awaiting approval")
    left, right = cards.first.bounding_box(), cards.nth(1).bounding_box()
    assert left and right and left["x"] + left["width"] <= right["x"] and abs(left["y"] - right["y"]) < 2, (left, right)


def _frontier_drawn(page: Page, version: str) -> None:
    """The candidate's frontier chart is on the page and the browser decoded it (within the CSP)."""
    image = page.locator(f'img.frontier[src="/models/{version}/lda_frontier.png"]')
    expect(image).to_be_visible()
    assert image.evaluate("image => image.complete && image.naturalWidth > 0")


def approve_in_browser(page: Page, portal: ModelsPortal, comment: str) -> dict[str, Any]:
    """Log in as the portal's model_risk user, open Models, check the champion and the candidate side by side with
    the candidate's frontier chart (when its month stored one), type the comment and approve; the page must say so.
    Screenshots go to test-artifacts/models/, and to docs/screenshots/ with CREDIT_ASSETS_DOCS_SCREENSHOTS=1.
    Returns the promotion log's approval entry."""
    state = portal.registry.state()
    assert state.pending, "the storage root has no candidate awaiting approval"
    candidate = state.pending["proposed"]
    log_in_as(page, portal.user, portal.password)
    page.get_by_role("navigation").get_by_role("link", name="Models").click()
    expect(page.get_by_role("heading", name=f"Decision on {candidate}")).to_be_visible()
    compare = page.locator("table.compare")
    for version in filter(None, [state.champion, candidate]):
        expect(compare).to_contain_text(version)
    if state.champion:
        _side_by_side(page)
    if models.frontier_chart(portal.store, state.pending["month"]) is not None:
        _frontier_drawn(page, candidate)
    page.get_by_label(re.compile("Comment")).fill(comment)
    screenshot(page, "models", "1-candidate-awaiting-approval", full_page=True)
    if os.environ.get(DOCS_SCREENSHOT_ENV) == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=DOCS_SCREENSHOT, full_page=True)
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text(f"approved: {candidate} becomes champion")
    expect(page.locator("table.history tbody tr").first).to_contain_text(comment)
    screenshot(page, "models", "2-approved", full_page=True)
    entry = portal.registry.promotions()[-1]
    assert (entry["kind"], entry["version"], entry["decision"], entry["by"]) == (
        cc.APPROVAL, candidate, cc.APPROVE, portal.user
    )  # fmt: skip
    return entry

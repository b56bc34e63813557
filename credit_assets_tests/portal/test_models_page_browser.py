"""The Models page in real Chromium on the real portal: a model_risk user sees the champion and the candidate side
by side with the frontier chart, approves with a comment, and the promotion log and the audit log hold it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from credit_assets.portal.audit import AuditLog
from credit_assets_tests.support.browser import chromium, tab
from credit_assets_tests.support.model_log import prepare_models_root
from credit_assets_tests.support.models_approval import approve_in_browser, models_portal

COMMENT = "Validation, calibration and the LDA search reviewed; every group's AIR is at or above the champion's."


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_a_model_risk_user_approves_the_candidate_in_the_browser(browser: Browser, tmp_path: Path) -> None:
    prepared = prepare_models_root(tmp_path / "data")
    with models_portal(prepared.store.local_root, tmp_path / "dagster_home") as portal:
        with tab(browser, portal.url) as page:
            entry = approve_in_browser(page, portal, COMMENT)
    assert entry["version"] == prepared.candidate and entry["comment"] == COMMENT and entry["decided_at"]
    assert entry["replaces"] == prepared.champion
    assert portal.registry.state().champion == prepared.candidate
    audited = AuditLog(portal.store.portal_audit_log, portal.secrets_dir).entries()[-1]
    assert (audited["user"], audited["action"], audited["outcome"], audited["file"]) == (
        portal.user, "model decision", "approve", prepared.candidate
    )  # fmt: skip

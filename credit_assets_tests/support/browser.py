"""Headless Debian Chromium driven by Playwright (no browser download), tabs with one timeout, screenshots."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

from credit_assets_tests.support.e2e import ROOT, require_tool

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UI_MS = 30_000  # pages fetch after rendering: every action and expectation waits up to this long
ARTIFACTS = ROOT / "test-artifacts"


@contextmanager
def chromium() -> Iterator[Browser]:
    """The system Chromium, or a failure saying how to install it."""
    executable = require_tool(CHROMIUM, "Chromium", "chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@contextmanager
def tab(browser: Browser, base_url: str, width: int = 1400, height: int = 900) -> Iterator[Page]:
    """A fresh tab in its own context (no cookies shared with other tests); every wait up to UI_MS."""
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": height})
    context.set_default_timeout(UI_MS)
    expect.set_options(timeout=UI_MS)
    yield context.new_page()
    context.close()


def screenshot(page: Page, folder: str, name: str, full_page: bool = False) -> Path:
    """Keep what the page shows as a test artifact: test-artifacts/FOLDER/NAME.png."""
    path = ARTIFACTS / folder / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path, full_page=full_page)
    return path

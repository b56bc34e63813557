"""Headless Debian Chromium driven by Playwright (no browser download), tabs with one timeout, screenshots, and the
real portal (`credit-assets portal`) for it to open."""

import os
import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

from credit_assets_tests.support.e2e import (
    HOST,
    ROOT,
    STARTUP_SECONDS,
    VENV_BIN,
    free_port,
    log_tail,
    require_tool,
    spawn_interruptible,
    stop_process_group,
    wait_until,
)

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


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/login", timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


@contextmanager
def portal_process(home: Path, root: Path, dagster_url: str) -> Iterator[str]:
    """`credit-assets portal` on a free port of the loopback interface; its URL once it answers."""
    port, log = free_port(), home / "portal.log"
    url = f"http://{HOST}:{port}"
    command = ["portal", "--root", str(root), "--port", str(port), "--dagster-url", dagster_url]
    env = {**os.environ, "DAGSTER_HOME": str(home), "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    with open(log, "wb") as output:
        process = spawn_interruptible([str(VENV_BIN / "credit-assets"), *command], env, output)
    try:
        wait_until(lambda: _answers(url) or process.poll() is not None, STARTUP_SECONDS, f"the portal on {url}")
        assert process.poll() is None, log_tail(log)
        yield url
    finally:
        stop_process_group(process)


def log_in_as(page: Page, name: str, password: str) -> None:
    """Log in through the login page the months page sends a stranger to."""
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text(f"{name} (")).to_be_visible()

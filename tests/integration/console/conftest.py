"""The browser of the console's tests: the Debian chromium, headless, driven by Playwright
(``executable_path``: nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest

# The alerts test kit's Twilio emulator and Redis key prefix (acknowledging from the live page).
from tests.integration.alerts.conftest import key_prefix, twilio  # noqa: F401 - fixtures

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "chromium is missing: run make setup (APT_PACKAGES has chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()

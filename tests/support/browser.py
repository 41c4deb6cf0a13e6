"""Debian's Chromium driven by Playwright for Python (no browser download): skipped locally when
missing, a failure under CI so the browser tests cannot silently vanish."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("TRACEMILL_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_chromium() -> None:
    missing = None
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        missing = "the playwright package is not installed (pip install -e '.[test]')"
    if missing is None and not CHROMIUM.exists():
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if missing:
        if IN_CI:
            pytest.fail(f"browser tests need Chromium under CI: {missing}")
        pytest.skip(missing)


@asynccontextmanager
async def browser_page(width: int = 1360, height: int = 900) -> AsyncIterator[Any]:
    """A fresh page in a headless Chromium; every JavaScript error on it fails the test at the end."""
    from playwright.async_api import async_playwright

    need_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = await browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
        page = await context.new_page()
        page.js_errors = []
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        try:
            yield page
        finally:
            await browser.close()
        assert page.js_errors == [], page.js_errors


async def screenshot(page: Any, name: str, full_page: bool = False) -> Path:
    """Kept under tests/artifacts/screenshots/ (CI keeps that folder as an artifact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path

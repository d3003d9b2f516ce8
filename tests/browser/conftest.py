"""Real headless Chromium for end-to-end tests (Playwright's sync API).

Debian's chromium is driven through `executable_path` (browser downloads are not possible
here, so never `playwright install`). Reusable fixtures:

    browser                 one Chromium per test module (so that modules elsewhere may
                            import these fixtures: two live sync Playwrights clash)
    new_page(**options)     a fresh context + page; options go to browser.new_context
                            (viewport, timezone_id, locale, java_script_enabled, ...);
                            closed after the test
    page                    new_page() with a desktop viewport
    screenshot(page, name)  saves test-artifacts/<name>.png (full page) and returns its path

Use them with pytest-django's `live_server` (which brings a transactional database) and
mark tests `@pytest.mark.browser`.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import chromium_path, unavailable

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def browser() -> Iterator:
    path = chromium_path()
    if not path:
        unavailable("needs Debian's chromium (/usr/bin/chromium)")
    # Playwright's sync API runs an event loop on the test thread; the ORM calls the tests
    # make meanwhile (factories, refresh_from_db) are still plain synchronous code. Module
    # scope also ends that loop before unrelated tests run.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=path, args=CHROMIUM_ARGS, headless=True
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser) -> Iterator[Callable]:
    contexts = []

    def make(**options):
        options.setdefault("viewport", DESKTOP)
        options.setdefault("locale", "en-US")
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    def save(page, name: str, *, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return save


def assert_png(path: Path) -> None:
    assert path.is_file(), path
    data = path.read_bytes()
    assert len(data) > 1000, f"{path} is suspiciously small"
    assert data.startswith(PNG_SIGNATURE), f"{path} is not a PNG"

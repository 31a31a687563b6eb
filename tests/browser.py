"""Browser tests: the app served by uvicorn on a free local port, driven by Playwright through
Debian's chromium (never a downloaded browser). Every page is watched: console errors, page
errors and the hosts of all its requests are recorded for the tests to assert on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, sync_playwright

from api.config import REPO_ROOT
from tests.live_server import LOCAL_HOST

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# screenshots of every page, kept as test artifacts (ignored by git)
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    page: Page
    console_errors: list[str] = field(default_factory=list)
    hosts: set[str] = field(default_factory=set)

    def assert_clean(self) -> None:
        """No console or page error, and no request left this machine."""
        assert self.console_errors == []
        assert self.hosts <= {LOCAL_HOST}, self.hosts

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path


def watch(page: Page) -> Watched:
    watched = Watched(page)
    page.on(
        "console",
        lambda message: message.type == "error" and watched.console_errors.append(message.text),
    )
    page.on("pageerror", lambda error: watched.console_errors.append(str(error)))
    page.on("request", lambda request: watched.hosts.add(urlsplit(request.url).hostname or ""))
    return watched

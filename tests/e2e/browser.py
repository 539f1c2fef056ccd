"""Shared helpers for real-browser tests: Debian's chromium driven by Playwright, signed-in
browser contexts on a real daphne process (tests/servers.py), and waits for the live socket.

Database work (factories, `session_cookie`) must happen before `chromium()` starts: Playwright's
sync API runs an event loop, and Django refuses ORM calls inside one. During the browser part, a
test acts through the browser or through `tests.servers.HttpMember` (plain HTTP).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The daphne children are not test processes: without this, new members' posting limits
# (3 replies a minute) would refuse the bursts these tests post.
SERVER_ENV = {"FORUM_RATE_LIMITS": "0"}

# True once live.js has a socket open and every named stream is subscribed.
SUBSCRIBED_JS = """(names) => Boolean(window.CarocpLive && window.CarocpLive.isOpen() &&
  names.every((n) => window.CarocpLive.streams[n] && window.CarocpLive.streams[n].subscribed))"""


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium (never skipped: a missing browser is a failure)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def signed_in_context(browser: Any, server: Any, cookies: dict[str, str], **options: Any) -> Any:
    """A browser context (its own cookie jar: one member) signed in with `cookies`."""
    context = browser.new_context(**options)
    if cookies:
        context.add_cookies(
            [{"name": k, "value": v, "url": server.url} for k, v in cookies.items()]
        )
    return context


def watch_errors(page: Any) -> list[str]:
    """Collect uncaught page errors and console errors (a broken live.js shows up here)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    return errors


def open_live(page: Any, url: str, streams: list[str], timeout: float = 10_000) -> None:
    """Load `url` and wait until the page's socket is subscribed to `streams`; then mark the
    page so that `assert_not_reloaded` can tell a live update from a reload."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(url)
    try:
        page.wait_for_function(SUBSCRIBED_JS, arg=streams, timeout=timeout)
    except PlaywrightTimeout:
        state = page.evaluate(
            "() => window.CarocpLive ? JSON.stringify({open: window.CarocpLive.isOpen(),"
            " streams: window.CarocpLive.streams}) : 'live.js did not start'"
        )
        raise AssertionError(f"{url}: not subscribed to {streams} in time: {state}") from None
    page.evaluate("() => { window.__samePage = true; }")


def assert_not_reloaded(page: Any) -> None:
    assert page.evaluate("() => window.__samePage === true"), "the page was reloaded"


def post_texts(page: Any) -> list[str]:
    return page.locator("#posts article.post .post-body").all_inner_texts()

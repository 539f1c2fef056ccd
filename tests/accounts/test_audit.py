"""Audit of issue 2 (accounts) against the code: clauses earlier tests left implicit."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "a-new-Passw0rd-for-carocp"


def _signup(**overrides: str):
    data = {
        "username": "newteacher",
        "email": "newteacher@example.org",
        "display_name": "Ana Lopez",
        "organisation": "Valley ROP",
        "member_type": "teacher",
        "region": "",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **overrides,
    }
    return Client().post("/accounts/signup/", data)


def test_signup_display_name_is_one_line():
    response = _signup(display_name="Ana\r\nBcc: x@example.org\n  Lopez")
    assert response.status_code == 302
    user = get_user_model().objects.get(username="newteacher")
    assert user.display_name == "Ana Bcc: x@example.org Lopez"


def test_signup_blank_display_name_is_refused_next_to_the_field_keeping_values():
    response = _signup(display_name=" \n\t ")
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html or "Enter your full name." in html
    assert 'value="newteacher@example.org"' in html
    assert not get_user_model().objects.filter(username="newteacher").exists()


# ---------------------------------------------------------------- 2.3: CI on both profiles

FAKE_MAKE = """#!/usr/bin/env bash
echo "${DATABASE_URL:-}|${REDIS_URL:-}|$*" >> "$FAKE_MAKE_LOG"
exit "${FAKE_MAKE_RC:-0}"
"""


def _run_ci(tmp_path, make_rc: int):
    import os
    import shutil
    import subprocess
    from pathlib import Path

    from django.conf import settings

    repo, bin_dir = tmp_path / "repo", tmp_path / "bin"
    (repo / ".ci").mkdir(parents=True)
    (repo / "scripts").mkdir()
    bin_dir.mkdir()
    shutil.copy(Path(settings.BASE_DIR) / ".ci" / "run", repo / ".ci" / "run")
    (repo / "scripts" / "services.sh").write_text("echo services up\n")
    (bin_dir / "make").write_text(FAKE_MAKE)
    (bin_dir / "make").chmod(0o755)
    log = tmp_path / "make.log"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_MAKE_LOG": str(log),
        "FAKE_MAKE_RC": str(make_rc),
        # set in the caller's shell: the embedded-default run must not inherit them
        "DATABASE_URL": "postgres://someone@db.example/x",
        "REDIS_URL": "redis://cache.example:6379/3",
    }
    result = subprocess.run(
        ["bash", str(repo / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return result, calls


def test_ci_runs_make_test_on_embedded_default_then_postgres_and_redis(tmp_path):
    result, calls = _run_ci(tmp_path, make_rc=0)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(calls) == 2, calls
    assert calls[0] == "||test"  # no DATABASE_URL, no REDIS_URL: SQLite + in-memory layer
    database, redis, target = calls[1].split("|")
    assert database.startswith("postgres://") and "127.0.0.1:5432" in database
    assert redis.startswith("redis://127.0.0.1:6379")
    assert target == "test"
    assert "CI passed" in result.stdout


@pytest.mark.parametrize("make_rc", [1, 2, 5])
def test_ci_fails_when_make_test_fails(tmp_path, make_rc):
    result, calls = _run_ci(tmp_path, make_rc=make_rc)
    assert result.returncode != 0
    assert len(calls) == 1  # stops at the first failing profile
    assert "CI passed" not in result.stdout


def test_pytest_run_with_no_tests_fails(tmp_path):
    """`make test` fails when no test ran: pytest exits 5 and make passes that on."""
    import subprocess
    import sys

    (tmp_path / "test_nothing.py").write_text("x = 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 5, result.stdout[-500:]


# ---------------------------------------------------------------- 2.4: custom user model


def test_custom_user_model_is_created_by_the_first_migration():
    from django.conf import settings
    from django.db.migrations.loader import MigrationLoader

    assert settings.AUTH_USER_MODEL == "accounts.User"
    loader = MigrationLoader(None, ignore_no_migrations=True)
    first = loader.get_migration("accounts", "0001_initial")
    created = [op.name for op in first.operations if type(op).__name__ == "CreateModel"]
    assert "User" in created
    assert first.initial is True


# ---------------------------------------------------------------- 2.6: pages a person can use


def _layout(html: str) -> dict:
    from html.parser import HTMLParser

    found: dict = {"tags": [], "roles": set(), "links": set(), "assets": [], "viewport": ""}

    class Parser(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list) -> None:
            a = dict(attrs)
            found["tags"].append(tag)
            if a.get("role"):
                found["roles"].add(a["role"])
            if tag == "a" and a.get("href"):
                found["links"].add(a["href"])
            if tag == "script" and a.get("src"):
                found["assets"].append(a["src"])
            if tag == "link" and a.get("href"):
                found["assets"].append(a["href"])
            if tag == "meta" and a.get("name") == "viewport":
                found["viewport"] = a.get("content", "")

    Parser().feed(html)
    return found


def test_base_layout_has_navigation_landmarks_footer_and_local_assets():
    from tests.conftest import client_for, make_member

    member = make_member("layoutcheck")
    for client, signed_in in ((client_for(), False), (client_for(member), True)):
        for url in ("/", "/members/" if signed_in else "/accounts/login/", "/no-such-page/"):
            response = client.get(url)
            page = _layout(response.content.decode())
            assert {"banner", "main", "contentinfo"} <= page["roles"], url
            assert {"header", "nav", "main", "footer"} <= set(page["tags"]), url
            assert "/policy/" in page["links"], url  # the content usage policy, in the footer
            assert "#main" in page["links"], url  # skip link for keyboard users
            assert "width=device-width" in page["viewport"], url
            assert {"/", "/members/", "/search/"} <= page["links"], url
            for asset in page["assets"]:  # no CDN: every script and stylesheet from static/
                assert asset.startswith("/static/"), (url, asset)
            if signed_in:
                assert "/notifications/" in page["links"], url
                assert "/u/layoutcheck/" in page["links"], url  # the profile menu


def test_stylesheet_has_visible_focus_and_phone_width_rules():
    from pathlib import Path

    from django.conf import settings

    css = (Path(settings.BASE_DIR) / "static" / "css" / "forum.css").read_text()
    assert re.search(r":focus-visible\s*\{[^}]*outline:\s*[1-9]", css)
    assert re.search(r"@media\s*\(max-width:\s*(40rem|640px)\)", css)


@pytest.mark.e2e
@pytest.mark.servers
def test_pages_fit_a_phone_and_keyboard_reaches_skip_link_with_visible_focus(transactional_db):
    """A real browser at phone width (375 px) on a daphne process: no sideways scrolling on the
    main pages, and the first Tab lands on a visible "Skip to content" link with an outline."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import make_board, make_member, make_reply, make_thread
    from tests.servers import session_cookie, start_servers

    member = make_member("phonecheck", display_name="Maria Lopez-Hernandez de la Cruz")
    board = make_board("Work-based learning placements and industry partnerships")
    thread = make_thread(
        board, member, title="Advisory committee agendas for the 2026-27 school year"
    )
    make_reply(thread, member, "A long link: https://example.org/" + "a" * 120)
    cookies = session_cookie(member)
    paths = ["/", f"/b/{board.slug}/", thread.get_absolute_url(), "/members/", "/search/?q=x"]

    with start_servers(1) as [server], sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--headless=new"]
        )
        try:
            context = browser.new_context(viewport={"width": 375, "height": 740})
            context.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in cookies.items()]
            )
            page = context.new_page()
            for path in paths:
                page.goto(server.url + path)
                widths = page.evaluate(
                    "() => [document.documentElement.scrollWidth, window.innerWidth]"
                )
                assert widths[0] <= widths[1], (path, widths)
            page.goto(server.url + "/")
            page.keyboard.press("Tab")
            focused = page.evaluate(
                """() => {
                  const el = document.activeElement, box = el.getBoundingClientRect();
                  const style = getComputedStyle(el);
                  return {cls: el.className, text: el.textContent.trim(), left: box.left,
                          outline: style.outlineStyle, width: style.outlineWidth};
                }"""
            )
            assert focused["cls"] == "skip-link" and focused["text"] == "Skip to content"
            assert focused["left"] >= 0  # on screen once focused
            assert focused["outline"] != "none" and focused["width"] != "0px", focused
        finally:
            browser.close()

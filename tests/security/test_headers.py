"""Security headers, production cookie flags and no inline script/style (issue 7 points 1, 2)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import client_for, make_board, make_member, make_reply, make_thread

pytestmark = pytest.mark.django_db

BASE_DIR = Path(settings.BASE_DIR)


def _csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def _pages(client, thread, board) -> dict[str, object]:
    return {
        "index": client.get("/"),
        "board": client.get(f"/b/{board.slug}/"),
        "thread": client.get(thread.get_absolute_url()),
        "login": client.get("/accounts/login/"),
        "signup": client.get("/accounts/signup/"),
        "not found": client.get("/t/999999/no-such-thread/"),
        "search": client.get("/search/?q=pathways"),
    }


@pytest.mark.parametrize("signed_in", [False, True])
def test_pages_send_strict_csp_and_security_headers(signed_in):
    author = make_member()
    board = make_board()
    thread = make_thread(board, author)
    make_reply(thread, author)
    client = client_for(make_member() if signed_in else None)
    for name, response in _pages(client, thread, board).items():
        assert response.status_code in (200, 302, 404), (name, response.status_code)
        csp = _csp(response)
        assert csp["script-src"] == ["'self'"], name
        assert csp["object-src"] == ["'none'"], name
        assert csp["base-uri"] == ["'none'"], name
        assert csp["frame-ancestors"] == ["'none'"], name
        assert "'unsafe-inline'" not in response["Content-Security-Policy"], name
        assert "'unsafe-eval'" not in response["Content-Security-Policy"], name
        assert response["X-Content-Type-Options"] == "nosniff", name
        assert response["Referrer-Policy"] == "same-origin", name
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", name
        assert response["X-Frame-Options"] == "DENY", name


# ---------------------------------------------------------------- no inline script or style

TAG_RE = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)((?:[^>{]|\{\{.*?\}\}|\{%.*?%\})*)>", re.S)
EVENT_ATTR_RE = re.compile(r"(?:^|[\s}\"'/])on[a-z]+\s*=", re.I)
STYLE_ATTR_RE = re.compile(r"(?:^|[\s}\"'/])style\s*=", re.I)


def template_problems(source: str) -> list[str]:
    """Inline script, style blocks, style attributes, event handlers and javascript: URLs in
    a template's source (Django tags may sit inside a tag; they are skipped over)."""
    problems = []
    for match in TAG_RE.finditer(source):
        name, attrs = match.group(1).lower(), match.group(2)
        if name == "script" and not re.search(r"\ssrc\s*=", attrs):
            problems.append(f"inline <script>: {match.group(0)[:80]}")
        if name == "style":
            problems.append("<style> block")
        if EVENT_ATTR_RE.search(attrs):
            problems.append(f"event handler attribute: {match.group(0)[:80]}")
        if STYLE_ATTR_RE.search(attrs):
            problems.append(f"style attribute: {match.group(0)[:80]}")
        if re.search(r"javascript:", attrs, re.I):
            problems.append(f"javascript: URL: {match.group(0)[:80]}")
    return problems


def test_template_problems_detects_each_kind():
    bad = (
        '<script>alert(1)</script><style>p{}</style><p style="color:red">'
        '<button onclick="x()">x</button><a href="javascript:x()">x</a>'
        '<div {% if x %}onmouseover="y()"{% endif %}>'
    )
    found = template_problems(bad)
    assert len(found) == 6, found
    assert template_problems('<script src="{% static "js/forum.js" %}" defer></script>') == []
    assert template_problems('<p data-on="1" class="{{ x }}">text style= onload=</p>') == []


def test_templates_have_no_inline_script_style_or_handlers():
    roots = [BASE_DIR / "templates"]
    import markdownx

    roots.append(Path(markdownx.__file__).parent / "templates")
    checked = 0
    failures = []
    for root in roots:
        for path in sorted(root.rglob("*.html")):
            checked += 1
            for problem in template_problems(path.read_text()):
                failures.append(f"{path.relative_to(root.parent)}: {problem}")
    assert checked > 10
    assert not failures, "\n".join(failures)


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        names = {k.lower() for k, _ in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline script")
        if tag == "style":
            self.problems.append("style block")
        for key, value in attrs:
            if key.lower().startswith("on") or key.lower() == "style":
                self.problems.append(f"<{tag} {key}=...>")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {key}=javascript:...>")


def test_rendered_pages_have_no_inline_script_or_style():
    """The pages as served (including the markdownx editor widget) parsed like a browser."""
    staff = make_member(is_staff=True)
    board = make_board()
    thread = make_thread(board, staff, body="Some **bold** text with a [link](https://x.example)")
    post = make_reply(thread, staff)
    client = client_for(staff)
    urls = [
        "/",
        f"/b/{board.slug}/",
        thread.get_absolute_url(),
        f"/b/{board.slug}/new/",
        f"/p/{post.pk}/edit/",
        f"/p/{post.pk}/history/",
        "/search/?q=bold",
        "/notifications/",
        "/settings/profile/",
        f"/u/{staff.username}/",
        "/members/",
        "/accounts/password/change/",
        "/mod/",
        "/t/99999/x/",
    ]
    seen_editor = False
    for url in urls:
        response = client.get(url)
        assert response.status_code in (200, 404), (url, response.status_code)
        html = response.content.decode()
        seen_editor = seen_editor or 'class="markdownx' in html
        finder = _InlineFinder()
        finder.feed(html)
        assert not finder.problems, (url, finder.problems)
    assert seen_editor, "the markdownx widget was not rendered on any page"


# ---------------------------------------------------------------- production settings

PRODUCTION_PROBE = r"""
import json, os, sys
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0, interactive=False)
from django.contrib.auth import get_user_model
get_user_model().objects.create_user("probe", "probe@example.org", "probe-pass-123456")
client = Client(HTTP_HOST="forum.example.org")
plain = client.get("/policy/")
health = client.get("/healthz", secure=True)
login = client.post("/accounts/login/", {"username": "probe", "password": "probe-pass-123456"},
                    secure=True)
cookies = {}
for name, morsel in login.cookies.items():
    cookies[name] = {"secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"]),
                     "samesite": morsel["samesite"]}
print(json.dumps({
    "plain_status": plain.status_code, "plain_location": plain.get("Location", ""),
    "hsts": health.get("Strict-Transport-Security", ""),
    "nosniff": health.get("X-Content-Type-Options", ""),
    "referrer": health.get("Referrer-Policy", ""),
    "coop": health.get("Cross-Origin-Opener-Policy", ""),
    "login_status": login.status_code, "cookies": cookies,
    "debug": settings.DEBUG,
}))
"""


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DEBUG", "PYTEST_CURRENT_TEST")
    }
    env.update(
        {
            "PRODUCTION": "1",
            "SECRET_KEY": "p" * 20 + "-a-long-random-production-secret-key-for-tests-0123456789",
            "ALLOWED_HOSTS": "forum.example.org",
            "DATA_DIR": str(tmp_path),
            "STATIC_ROOT": str(tmp_path / "static"),
        }
    )
    env.update(extra)
    return env


@pytest.mark.slow
def test_production_sends_hsts_and_secure_cookies(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE],
        cwd=BASE_DIR,
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["debug"] is False
    assert probe["plain_status"] == 301
    assert probe["plain_location"].startswith("https://forum.example.org/")
    assert probe["hsts"].startswith("max-age=31536000")
    assert "includeSubDomains" in probe["hsts"]
    assert probe["nosniff"] == "nosniff"
    assert probe["referrer"] == "same-origin"
    assert probe["coop"] == "same-origin"
    assert probe["login_status"] == 302
    session, csrf = probe["cookies"]["sessionid"], probe["cookies"]["csrftoken"]
    assert session == {"secure": True, "httponly": True, "samesite": "Lax"}
    assert csrf["secure"] is True and csrf["samesite"] == "Lax"


SETTINGS_PROBE = (
    "import json, os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
    "django.setup(); from django.conf import settings as s; print(json.dumps({k: getattr(s, k) "
    "for k in %r}))"
)
SECURITY_SETTINGS = [
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_SAMESITE",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "DEBUG",
]


def _production_settings(tmp_path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SETTINGS_PROBE % (SECURITY_SETTINGS,)],
        cwd=BASE_DIR,
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_turn_on_hsts_and_secure_cookies(tmp_path):
    prod = _production_settings(tmp_path)
    assert prod["SECURE_HSTS_SECONDS"] >= 31536000
    assert prod["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert prod["SECURE_SSL_REDIRECT"] is True
    assert prod["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert prod["SESSION_COOKIE_SECURE"] is prod["CSRF_COOKIE_SECURE"] is True
    assert prod["SESSION_COOKIE_HTTPONLY"] is True
    assert prod["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert prod["CSRF_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert prod["DEBUG"] is False


def test_pages_send_hsts_with_production_values(tmp_path, settings):
    """The values production uses, applied here: every page carries HSTS over HTTPS."""
    prod = _production_settings(tmp_path)
    for key in ("SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD"):
        setattr(settings, key, prod[key])
    board = make_board()
    thread = make_thread(board, make_member())
    for url in (
        "/",
        f"/b/{board.slug}/",
        thread.get_absolute_url(),
        "/accounts/login/",
        "/t/999999/x/",
    ):
        response = client_for().get(url, secure=True)
        assert response["Strict-Transport-Security"].startswith("max-age=31536000"), url
        assert "includeSubDomains" in response["Strict-Transport-Security"]


@pytest.mark.parametrize("hosts", ["*", "forum.example.org,*"])
def test_production_refuses_wildcard_allowed_hosts(tmp_path, hosts):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']="
            "'config.settings'; django.setup()",
        ],
        cwd=BASE_DIR,
        env=_production_env(tmp_path, ALLOWED_HOSTS=hosts),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must not contain '*'" in result.stderr


def test_production_refuses_missing_secret_key(tmp_path):
    env = _production_env(tmp_path)
    del env["SECRET_KEY"]
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']="
            "'config.settings'; django.setup()",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr

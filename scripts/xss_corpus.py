#!/usr/bin/env python
"""Run a hostile-input (XSS) corpus through every place member text is shown; fail on any
executable markup.

Usage:
    .venv/bin/python scripts/xss_corpus.py ../shared/corpora/xss      # the full external corpus
    .venv/bin/python scripts/xss_corpus.py tests/security/data         # the committed sample

A corpus directory holds pat-*.txt files (one payload per line; CRLF tolerated) and optionally
svg/*.svg (each file is one more payload). The script builds a throw-away test database (Django's
test runner: in-memory SQLite, or test_<name> when DATABASE_URL is set) and sends every payload
through these sinks, then parses each output like a browser (html.parser, plus a raw scan) and
reports markup that could run script:

  renderer   forum.markdown.render_markdown, the payload alone and inside 7 Markdown contexts
             (link target, image, autolink, inline code, fenced code, table cell, heading)
  preview    the markdownx preview endpoint (POST, as an approved member)
  thread     the full thread page of a thread created through forum.actions with the payload as
             title and body, by a member whose display name and organisation are the payload
  board      the board pages listing those threads (titles, last posters)
  profile    each author's profile page (display name, organisation, job title, bio) and the
             member directory
  inbox      the notification inbox of a member @mentioned in every thread
  email      the notification emails (HTML part) for those notifications
  search     search result pages (snippets with highlights) for terms found in the payloads

Exit status 1 and a list of payloads when anything executable survives; prints
"1,210 payloads x 8 sinks (...): 0 executable" otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- the checker (no Django needed)

ALWAYS_FORBIDDEN_TAGS = {
    "script",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "base",
    "svg",
    "math",
    "style",
    "portal",
    "xml",
    "xss",
    "import",
    "isindex",
    "bgsound",
    "layer",
    "ilayer",
    "handler",
    "listener",
}
URL_ATTRS = {
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "poster",
    "background",
    "data",
    "codebase",
    "cite",
    "dynsrc",
    "lowsrc",
    "ping",
    "srcset",
    "longdesc",
    "usemap",
    "from",
    "to",
    "values",
    "by",
    "folder",
    "manifest",
    "icon",
}
ALWAYS_FORBIDDEN_ATTRS = {"style", "srcdoc", "formaction", "xmlns:xlink", "http-equiv"}
SAFE_DATA_URL = re.compile(r"^data:image/(png|gif|jpeg|webp);", re.I)
CONTROL = re.compile(r"[\x00-\x20\x7f]+")
RAW_TAG = re.compile(
    r"<\s*(script|iframe|frame|object|embed|applet|svg|math|style|base|meta|link|portal)\b[^>]*>",
    re.I,
)


def _bad_url(value: str) -> str | None:
    url = CONTROL.sub("", value).lower()
    for scheme in ("javascript:", "vbscript:", "livescript:", "mocha:"):
        if url.startswith(scheme):
            return scheme
    if url.startswith("data:") and not SAFE_DATA_URL.match(url):
        return "data:"
    return None


def _chrome_tag(tag: str, attrs: dict[str, str | None]) -> bool:
    """The page's own <script src>, <link> and <meta charset/viewport> (a page sink only)."""
    if tag == "script":
        return (attrs.get("src") or "").startswith("/static/") and set(attrs) <= {
            "src",
            "defer",
            "type",
            "async",
        }
    if tag == "link":
        return (attrs.get("href") or "").startswith("/static/") and set(attrs) <= {
            "rel",
            "href",
            "type",
            "media",
            "sizes",
        }
    if tag == "meta":
        return "http-equiv" not in attrs and set(attrs) <= {"charset", "name", "content"}
    return False


class _Finder(HTMLParser):
    def __init__(self, page: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.problems: list[str] = []
        self._script_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        values = {k.lower(): v for k, v in attrs}
        chrome = self.page and _chrome_tag(tag, values)
        if tag in ALWAYS_FORBIDDEN_TAGS and not chrome:
            self.problems.append(f"<{tag}> element")
        if tag in ("meta", "link") and not chrome and (self.page or tag == "meta"):
            self.problems.append(f"<{tag}> element")
        if tag == "meta" and "refresh" in (values.get("http-equiv") or "").lower():
            self.problems.append("meta refresh")
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=> event handler")
            elif name in ALWAYS_FORBIDDEN_ATTRS:
                self.problems.append(f"<{tag} {name}=> attribute")
            if (name in URL_ATTRS or name.endswith(":href")) and value:
                scheme = _bad_url(value)
                if scheme:
                    self.problems.append(f"<{tag} {name}={scheme}...> URL")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def executable_markup(html: str, *, page: bool = False) -> list[str]:
    """What in this HTML could run script in a browser (empty list: nothing)."""
    finder = _Finder(page)
    finder.feed(html)
    finder.close()
    problems = list(finder.problems)
    for match in RAW_TAG.finditer(html):
        tag = match.group(1).lower()
        if page and tag in ("script", "link", "meta"):
            continue  # checked element by element above (page chrome is allowed)
        if not any(p.startswith(f"<{tag}>") for p in problems):
            problems.append(f"raw <{tag}> tag")
    return problems


# ---------------------------------------------------------------- the corpus

SINKS = ("renderer", "preview", "thread", "board", "profile", "inbox", "email", "search")
MARKDOWN_CONTEXTS: dict[str, Callable[[str], str]] = {
    "whole": lambda p: p,
    "link": lambda p: f"[click me]({p})",
    "image": lambda p: f"![picture]({p})",
    "autolink": lambda p: f"<{p}>",
    "code": lambda p: f"`{p}`",
    "fenced": lambda p: f"```\n{p}\n```",
    "table": lambda p: f"| a | b |\n|---|---|\n| {p} | x |",
    "heading": lambda p: f"# {p}",
}


def load_corpus(directory: Path) -> list[str]:
    payloads: list[str] = []
    for path in sorted(directory.glob("pat-*.txt")) + sorted(directory.glob("sample-*.txt")):
        commented = path.name.startswith("sample-")  # our sample has a "# source" header
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.rstrip("\r")
            if line.strip() and not (commented and line.startswith("# ")):
                payloads.append(line)
    for path in sorted((directory / "svg").glob("*.svg")):
        payloads.append(path.read_text(encoding="utf-8", errors="replace"))
    return payloads


@dataclass
class Report:
    payloads: int = 0
    outputs: int = 0
    unsent_emails: int = 0  # a payload whose email was never built is a payload not checked
    sinks: set[str] = field(default_factory=set)
    failures: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def check(self, sink: str, output: str, suspects: Iterable[str], *, page: bool) -> None:
        self.sinks.add(sink)
        self.outputs += 1
        problems = executable_markup(output, page=page)
        if problems:
            for payload in suspects:
                self.failures.append((sink, payload, problems))

    def summary(self) -> str:
        bad = len({p for _s, p, _x in self.failures})
        return (
            f"{self.payloads:,} payloads x {len(self.sinks)} sinks "
            f"({self.outputs:,} outputs parsed): {bad} executable"
        )


# ---------------------------------------------------------------- the sinks (Django needed)


def _title_for(payload: str, n: int) -> str:
    title = " ".join(payload.split())[:140]
    return title if len(title) >= 5 else f"T{n}: {title}"


def run_sinks(payloads: list[str], *, log: Callable[[str], None] = print) -> Report:
    """Send every payload through every sink. Needs a configured, migrated (test) database."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core import mail
    from django.test import Client

    from accounts.models import MembershipStatus
    from forum import actions, notifications
    from forum.markdown import render_markdown
    from forum.models import Board, Notification, Visibility

    # Caps and limits are for people; the corpus posts 1,000 threads in a minute.
    settings.FORUM["RATE_LIMITS_ENABLED"] = False
    settings.FORUM["NOTIFY_RECIPIENT_DAILY_CAP"] = 10**6
    settings.FORUM["NOTIFY_SENDER_DAILY_CAP"] = 10**6

    report = Report(payloads=len(payloads))
    started = time.monotonic()
    user_model = get_user_model()

    # 1. renderer
    for payload in payloads:
        for wrap in MARKDOWN_CONTEXTS.values():
            report.check("renderer", render_markdown(wrap(payload)), [payload], page=False)
    log(
        f"  renderer: {len(payloads) * len(MARKDOWN_CONTEXTS):,} renders "
        f"({time.monotonic() - started:.0f}s)"
    )

    viewer = user_model.objects.create_user(
        "corpusviewer",
        "viewer@example.org",
        None,
        display_name="Corpus Viewer",
        membership_status=MembershipStatus.APPROVED,
    )
    recipient = user_model.objects.create_user(
        "inbox",
        "inbox@example.org",
        None,
        display_name="Inbox Owner",
        membership_status=MembershipStatus.APPROVED,
    )
    client = Client()
    client.force_login(viewer)

    # 2. preview
    for payload in payloads:
        response = client.post("/markdownx/markdownify/", {"content": payload})
        report.check("preview", response.content.decode(), [payload], page=False)
    log(f"  preview: {len(payloads):,} requests ({time.monotonic() - started:.0f}s)")

    # 3. threads, titles and profiles: one author per payload
    authors = user_model.objects.bulk_create(
        [
            user_model(
                username=f"corpus{n}",
                email=f"corpus{n}@example.org",
                password="!",
                display_name=payload[:80],
                organisation=payload[:120],
                job_title=payload[:120],
                bio=payload[:600],
                membership_status=MembershipStatus.APPROVED,
            )
            for n, payload in enumerate(payloads)
        ]
    )
    board = Board.objects.create(name="Corpus", slug="corpus", visibility=Visibility.MEMBERS)
    threads = []
    for n, (payload, author) in enumerate(zip(payloads, authors, strict=True)):
        thread = actions.create_thread(
            author, board, title=_title_for(payload, n), body=f"{payload}\n\n@inbox"
        )
        threads.append(thread)
    log(f"  created {len(threads):,} threads ({time.monotonic() - started:.0f}s)")

    for payload, thread in zip(payloads, threads, strict=True):
        response = client.get(thread.get_absolute_url())
        assert response.status_code == 200, (thread.pk, response.status_code)
        report.check("thread", response.content.decode(), [payload], page=True)
    log(f"  thread pages: {len(threads):,} ({time.monotonic() - started:.0f}s)")

    per_page = settings.FORUM["THREADS_PER_PAGE"]
    newest_first = list(reversed(payloads))
    for page in range(1, len(payloads) // per_page + 2):
        response = client.get(f"/b/{board.slug}/?page={page}")
        suspects = newest_first[(page - 1) * per_page : page * per_page]
        report.check("board", response.content.decode(), suspects or payloads, page=True)
    response = client.get("/")
    report.check("board", response.content.decode(), payloads[-1:], page=True)

    for payload, author in zip(payloads, authors, strict=True):
        response = client.get(f"/u/{author.username}/")
        assert response.status_code == 200, (author.username, response.status_code)
        report.check("profile", response.content.decode(), [payload], page=True)
    for page in range(1, len(payloads) // 30 + 3):
        response = client.get(f"/members/?page={page}")
        report.check("profile", response.content.decode(), payloads, page=True)
    log(f"  profiles and directory ({time.monotonic() - started:.0f}s)")

    # 4. notifications: the inbox (every page) and the emails
    inbox = Client()
    inbox.force_login(recipient)
    ids = list(Notification.objects.filter(recipient=recipient).values_list("id", flat=True))
    for page in range(1, 500):
        html = inbox.get(f"/notifications/?page={page}").content.decode()
        report.check("inbox", html, payloads, page=True)
        if f"page={page + 1}" not in html:
            break
    mail.outbox = []
    unsent = 0
    for notification_id in ids:  # one by one: a failure must not hide the others' bodies
        unsent += 1 - notifications.send_notification_emails([notification_id])
    report.unsent_emails = unsent
    if unsent:
        log(f"  {unsent} notification emails were not sent (see the log above)")
    for message in mail.outbox:
        for content, mimetype in getattr(message, "alternatives", []):
            if mimetype == "text/html":
                report.check("email", content, payloads, page=True)
    log(
        f"  notifications: {len(ids):,}, emails: {len(mail.outbox):,} "
        f"({time.monotonic() - started:.0f}s)"
    )

    # 5. search snippets
    terms = [
        "alert",
        "script",
        "onerror",
        "javascript",
        "img",
        "svg",
        "src",
        "xss",
        "iframe",
        "onload",
        "style",
        "href",
    ]
    for term in terms:
        for page in range(1, 40):
            response = client.get("/search/", {"q": term, "page": page})
            html = response.content.decode()
            report.check("search", html, payloads, page=True)
            if f"page={page + 1}" not in html:
                break
    log(f"  search: {len(terms)} terms ({time.monotonic() - started:.0f}s)")
    return report


# ---------------------------------------------------------------- running it standalone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path, help="directory with pat-*.txt and svg/*.svg")
    parser.add_argument("--limit", type=int, default=0, help="only the first N payloads")
    args = parser.parse_args(argv)

    payloads = load_corpus(args.corpus)
    if args.limit:
        payloads = payloads[: args.limit]
    if not payloads:
        print(f"No payloads found in {args.corpus}", file=sys.stderr)
        return 2

    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import tempfile

    tmp = tempfile.mkdtemp(prefix="xss-corpus-")
    os.environ["MEDIA_ROOT"] = tmp
    os.environ["DATA_DIR"] = tmp  # the SQLite test database lives here, apart from pytest's
    import django

    django.setup()
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3":  # a test database of its own on PostgreSQL
        db.setdefault("TEST", {})["NAME"] = f"test_{db['NAME']}_xss_corpus"
    from django.test.runner import DiscoverRunner
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()  # locmem email, no real mail
    runner = DiscoverRunner(verbosity=0, interactive=False)
    print(f"Hostile-input corpus: {len(payloads):,} payloads from {args.corpus}")
    old_config = runner.setup_databases()
    try:
        report = run_sinks(payloads)
    finally:
        runner.teardown_databases(old_config)
        teardown_test_environment()

    print(report.summary())
    missing = set(SINKS) - report.sinks
    if missing:
        print(f"FAILED: these sinks were never exercised: {sorted(missing)}")
        return 1
    if report.unsent_emails:
        print(f"FAILED: {report.unsent_emails} notification emails could not be built or sent")
        return 1
    if report.failures:
        shown: set[tuple[str, str]] = set()
        for sink, payload, problems in report.failures:
            if (sink, payload) in shown:
                continue
            shown.add((sink, payload))
            print(f"EXECUTABLE [{sink}] {problems[:3]} <- {payload[:200]!r}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

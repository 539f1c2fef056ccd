"""The hostile-input checker and a committed sample of the XSS corpus (issue 7 point 8, issue 6
point 7). CI also runs scripts/xss_corpus.py on the full external corpus (../shared)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"


def _load_script():
    spec = importlib.util.spec_from_file_location("xss_corpus", ROOT / "scripts" / "xss_corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


xss = _load_script()


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        '<img src=x onerror="alert(1)">',
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        '<a href=" JaVaScRiPt:alert(1)">x</a>',
        '<a href="vbscript:msgbox(1)">x</a>',
        '<iframe src="data:text/html,<script>alert(1)</script>"></iframe>',
        '<object data="data:text/html;base64,PHNjcmlwdD4="></object>',
        '<embed src="x.swf">',
        '<form><button formaction="javascript:alert(1)">x</button></form>',
        '<p style="background:url(javascript:alert(1))">x</p>',
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
        '<base href="https://evil.example/">',
        "<svg><animate onbegin=alert(1)></svg>",
        '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
        "<style>@import 'https://evil.example/x.css';</style>",
        '<a xlink:href="javascript:alert(1)">x</a>',
        '<div><img/src="x"/onerror=alert(1)></div>',
    ],
)
def test_executable_markup_finds_each_kind(html):
    assert xss.executable_markup(html), html


@pytest.mark.parametrize(
    "html",
    [
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>",
        '<p><a href="https://example.org/x" rel="nofollow ugc noopener">'
        "javascript:alert(1)</a></p>",
        '<p><img src="/media/uploads/abc.png" alt="onerror=alert(1)"></p>',
        "<pre><code>&lt;svg onload=alert(1)&gt;</code></pre>",
        '<p><img src="data:image/png;base64,iVBORw0KGgo=" alt=""></p>',
    ],
)
def test_executable_markup_passes_escaped_and_safe_html(html):
    assert xss.executable_markup(html) == []


def test_executable_markup_allows_page_chrome_only_on_pages():
    chrome = (
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        '<link rel="stylesheet" href="/static/css/forum.css">'
        '<script src="/static/js/forum.js" defer></script>'
    )
    assert xss.executable_markup(chrome, page=True) == []
    assert xss.executable_markup(chrome, page=False)
    assert xss.executable_markup('<script src="https://evil.example/x.js"></script>', page=True)
    assert (
        xss.executable_markup('<script src="/static/js/forum.js">alert(1)</script>x', page=True)
        == []
    )  # src wins in browsers; content never runs


def test_load_corpus_reads_sample_and_svgs():
    payloads = xss.load_corpus(DATA)
    assert len(payloads) >= 60 + 8
    assert not any(p.startswith("# ") for p in payloads)
    assert any("<svg" in p for p in payloads)


def test_unsanitized_rendering_would_be_caught():
    """The checker is not vacuous: the same sample through Markdown with raw HTML on and no
    sanitizer is flagged for most payloads."""
    unsafe = MarkdownIt("commonmark", {"html": True})
    payloads = xss.load_corpus(DATA)
    flagged = [p for p in payloads if xss.executable_markup(unsafe.render(p))]
    assert len(flagged) > len(payloads) // 2


@pytest.mark.django_db
def test_run_sinks_sample_corpus_has_no_executable_markup():
    payloads = xss.load_corpus(DATA)
    report = xss.run_sinks(payloads, log=lambda _line: None)
    assert report.sinks == {
        "renderer",
        "preview",
        "thread",
        "board",
        "profile",
        "inbox",
        "email",
        "search",
    }
    assert report.outputs > len(payloads) * 12
    assert report.unsent_emails == 0  # every payload's email was built, so it was checked
    assert report.failures == [], (
        report.summary()
        + "\n"
        + "\n".join(
            f"[{sink}] {problems[:2]} <- {payload[:120]!r}"
            for sink, payload, problems in report.failures[:20]
        )
    )

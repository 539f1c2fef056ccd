"""The one renderer: CommonMark + GFM extras in, allowlisted HTML out; lazy re-render on upgrade."""

from html.parser import HTMLParser

import pytest

from forum import actions, markdown
from forum.markdown import RENDER_VERSION, render_markdown, sanitize_html
from forum.models import Post
from tests.conftest import client_for, make_member, make_reply

DANGEROUS = [
    "<script>alert(1)</script>",
    '<img src="x.png" onerror="alert(1)">',
    '<a href="https://example.org" onclick="steal()">x</a>',
    '<p style="position:fixed">covering</p>',
    '<iframe src="https://evil.example"></iframe>',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<img src="javascript:alert(1)">',
    '<svg onload="alert(1)"></svg>',
    '<object data="x.swf"></object>',
    "<style>body{display:none}</style>",
    '<form action="https://evil.example"><input name="pw"></form>',
]


class _Elements(HTMLParser):
    """Collects the real elements and attributes (escaped text is harmless and ignored)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def _assert_harmless(html: str) -> None:
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag not in {"script", "style", "iframe", "svg", "object", "form", "input"}, html
        for name, value in attrs.items():
            assert not name.startswith("on") and name != "style", html
            if name in {"href", "src"}:
                scheme = value.split(":")[0].lower() if ":" in value.split("/")[0] else ""
                assert scheme in {"", "http", "https", "mailto"}, html


def test_render_markdown_commonmark_basics():
    html = render_markdown(
        "# Title\n\n**bold** _em_ `code`\n\n* one\n* two\n\n1. first\n\n> quoted\n\n"
        "```\nblock\n```\n\n[link](https://example.org/a)"
    )
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html and "<em>em</em>" in html
    assert "<code>code</code>" in html
    assert "<ul>\n<li>one</li>" in html and "<ol>\n<li>first</li>" in html
    assert "<blockquote>\n<p>quoted</p>\n</blockquote>" in html
    assert "<pre><code>block\n</code></pre>" in html
    assert '<a href="https://example.org/a" rel="nofollow ugc noopener">link</a>' in html


def test_render_markdown_gfm_table_with_alignment():
    html = render_markdown("| Course | Seats |\n|:--|--:|\n| Welding | 24 |")
    assert "<table>" in html and '<th align="left">Course</th>' in html
    assert '<td align="right">24</td>' in html
    assert "style=" not in html


def test_render_markdown_gfm_strikethrough_and_autolinks():
    html = render_markdown("~~old plan~~ see https://cde.ca.gov/ci/ct and www.example.com")
    assert "<s>old plan</s>" in html
    assert '<a href="https://cde.ca.gov/ci/ct" rel="nofollow ugc noopener">' in html
    assert '<a href="http://www.example.com" rel="nofollow ugc noopener">' in html


def test_render_markdown_links_get_nofollow_ugc_noopener():
    html = render_markdown('[a](https://example.org "t") <https://example.net>')
    assert html.count('rel="nofollow ugc noopener"') == 2


@pytest.mark.parametrize("source", DANGEROUS)
def test_render_markdown_raw_html_never_survives(source):
    _assert_harmless(render_markdown(source))


@pytest.mark.parametrize("source", DANGEROUS)
def test_sanitize_html_strips_dangerous_markup_even_if_parser_emitted_it(source):
    # Defence in depth: even if the parser ever let HTML through, the allowlist removes it.
    _assert_harmless(sanitize_html(source))


@pytest.mark.parametrize(
    "source",
    [
        "[x](javascript:alert(1))",
        "[x](JAVASCRIPT:alert(1))",
        "[x](java\tscript:alert(1))",
        "![i](javascript:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "<javascript:alert(1)>",
    ],
)
def test_render_markdown_javascript_and_data_urls_never_become_links(source):
    html = render_markdown(source)
    assert 'href="javascript' not in html.lower()
    assert 'href="vbscript' not in html.lower()
    assert 'href="data:' not in html.lower()
    assert 'src="javascript' not in html.lower()


def test_render_markdown_mentions_link_only_known_members():
    html = render_markdown("thanks @maria and @nobody", known_users=["maria"])
    assert '<a class="mention" href="/u/maria/"' in html
    assert "/u/nobody/" not in html and "@nobody" in html


def test_render_markdown_mentions_never_inside_code():
    html = render_markdown(
        "`@maria` inline\n\n    @maria indented\n\n```\n@maria fenced\n```", known_users=["maria"]
    )
    assert "mention" not in html
    assert markdown.extract_mentions("`@maria` and\n```\n@maria\n```") == []


def test_render_markdown_email_is_not_a_mention():
    html = render_markdown("write to maria@example.org", known_users=["example.org", "maria"])
    assert 'class="mention"' not in html


@pytest.mark.django_db
def test_render_post_body_links_only_existing_active_members():
    make_member("maria")
    make_member("gone", is_active=False)
    html = actions.render_post_body("hi @maria @Maria @gone @ghost")
    assert html.count('class="mention"') == 2
    assert "/u/gone/" not in html and "/u/ghost/" not in html


def test_excerpt_is_plain_text_and_shortened():
    html = render_markdown("**Bold** [link](https://example.org) & text " + "word " * 100)
    text = markdown.excerpt(html, 60)
    assert "<" not in text and len(text) <= 60 and text.endswith("…")
    assert text.startswith("Bold link & text")


@pytest.mark.django_db
def test_thread_page_rerenders_posts_with_stale_render_version(thread, other_member):
    post = make_reply(thread, other_member, "**fresh** text")
    Post.objects.filter(pk=post.pk).update(html="<p>stale cache</p>", render_version=0)
    response = client_for().get(thread.get_absolute_url())
    assert b"<strong>fresh</strong>" in response.content
    assert b"stale cache" not in response.content
    post.refresh_from_db()
    assert post.render_version == RENDER_VERSION and "<strong>fresh</strong>" in post.html


@pytest.mark.django_db
def test_thread_page_does_not_rewrite_fresh_posts(thread, other_member, django_assert_num_queries):
    make_reply(thread, other_member, "fresh")
    client = client_for()
    url = thread.get_absolute_url()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]

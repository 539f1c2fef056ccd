"""The one Markdown renderer: Markdown in, sanitized HTML out.

CommonMark (markdown-it-py) with GitHub-style tables, strikethrough and autolinks, plus
@mentions. Every output goes through an allowlist sanitizer (nh3, the Rust ammonia library), so
no script, event handler, style, iframe or javascript: URL survives whatever the parser emits.
Posts store the rendered HTML with RENDER_VERSION; bumping it re-renders lazily.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

RENDER_VERSION = 1

MENTION_RE = re.compile(r"@([A-Za-z0-9_][A-Za-z0-9_.-]{0,149})")
USERNAME_TAIL = ".-"

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
    "input",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
    "abbr": {"title"},
}
ALLOWED_CLASSES = {"a": {"mention", "quote-source"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow ugc noopener"


def _mention_rule(state: StateInline, silent: bool) -> bool:
    """@name -> a mention token, unless glued to a word (an e-mail address)."""
    pos = state.pos
    if state.src[pos] != "@" or state.linkLevel > 0:
        return False
    if pos > 0 and (state.src[pos - 1].isalnum() or state.src[pos - 1] in "_@"):
        return False
    match = MENTION_RE.match(state.src, pos)
    if not match:
        return False
    name = match.group(1).rstrip(USERNAME_TAIL)
    if not name:
        return False
    if not silent:
        token = state.push("mention", "", 0)
        token.meta = {"username": name}
    state.pos += 1 + len(name)
    return True


def _render_mention(self, tokens, idx, options, env) -> str:  # noqa: ANN001 (markdown-it API)
    name = tokens[idx].meta["username"]
    known = env.get("known_users")
    if known is not None and name.lower() not in known:
        return "@" + html_lib.escape(name)
    return f'<a class="mention" href="/u/{html_lib.escape(name)}/">@{html_lib.escape(name)}</a>'


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"linkify": True, "html": False, "typographer": False})
    md.enable(["table", "strikethrough", "linkify"])
    md.inline.ruler.before("emphasis", "mention", _mention_rule)
    md.add_render_rule("mention", _render_mention)
    return md


def _align_attr(html: str) -> str:
    # markdown-it writes table alignment as style; styles are not allowed, align is.
    return re.sub(r' style="text-align:(left|right|center)"', r' align="\1"', html)


def sanitize_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS - {"input"},
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render_markdown(text: str, known_users: Iterable[str] | None = None) -> str:
    """Render member Markdown to safe HTML. known_users (lower-cased usernames), when given,
    limits which @names become profile links; others stay plain text."""
    env: dict = {}
    if known_users is not None:
        env["known_users"] = {u.lower() for u in known_users}
    raw = _parser().render(text or "", env)
    return sanitize_html(_align_attr(raw))


def extract_mentions(text: str) -> list[str]:
    """Usernames @mentioned in the text, in order, once each; mentions inside code don't count."""
    seen: dict[str, None] = {}
    for block in _parser().parse(text or ""):
        for child in block.children or ():
            if child.type == "mention":
                seen.setdefault(child.meta["username"].lower(), None)
    return list(seen)


QUOTE_SOURCE_RE = re.compile(r"\(/p/(\d+)/\)")


def extract_quoted_post_ids(text: str) -> list[int]:
    """Ids of posts quoted with the quote button ("> [@maria wrote](/p/12/):")."""
    ids: dict[int, None] = {}
    for line in (text or "").splitlines():
        if line.lstrip().startswith(">"):
            for match in QUOTE_SOURCE_RE.finditer(line):
                ids.setdefault(int(match.group(1)), None)
    return list(ids)


def plain_text(html: str) -> str:
    """Text of rendered HTML (tags dropped, entities decoded) for excerpts and search."""
    text = nh3.clean(html or "", tags=set())
    return html_lib.unescape(re.sub(r"\s+", " ", text)).strip()


def excerpt(html: str, length: int = 200) -> str:
    """A plain-text excerpt (for notifications and e-mails); escape it where it is shown."""
    text = plain_text(html)
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"

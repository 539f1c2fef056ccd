"""Thread pages built from cached post fragments (forum_tags.post_block) are exactly the pages
rendered from scratch, for every kind of viewer and after every kind of change; the viewer's own
CSRF token is the one in every cached form, and it works."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from forum import actions, moderation, pagecache
from forum.templatetags import forum_tags
from tests.conftest import client_for, make_board, make_member, make_reply, make_staff

pytestmark = pytest.mark.django_db

_CSRF = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+(")')
_CLIENT_TOKEN = re.compile(r'(name="client_token" value=")[^"]+(")')


def _masked(html: str) -> str:
    return _CLIENT_TOKEN.sub(r"\1-\2", _CSRF.sub(r"\1-\2", html))


def _page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def _member_key(post, user) -> str:
    """The fragment key of `post` for `user` reading it as a member who may reply."""
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user
    state = forum_tags.post_state(
        post, user=user, request=request, can_reply=True, can_moderate=False, reaction_kinds=()
    )
    return forum_tags.fragment_key(state)


def _clear() -> None:
    pagecache.clear()
    cache.clear()


@pytest.fixture
def cast():
    author = make_member("maria", display_name="Maria Lopez", job_title="Teacher")
    replier = make_member("james")
    board_mod = make_member("bmod")
    staff = make_staff("admin")
    pending = make_member("newbie", approved=False)
    board = make_board("Networking", moderators=[board_mod])
    thread = actions.create_thread(author, board, title="Pathways", body="First **post**.")
    viewers = {
        "anonymous": None,
        "author": author,
        "replier": replier,
        "board moderator": board_mod,
        "staff": staff,
        "pending": pending,
    }
    return thread, viewers


def _assert_warm_equals_cold(thread, viewers, *, without_page_cache: bool = False) -> None:
    """Every viewer's page served with whatever the caches hold equals the page rendered with
    empty caches (the same read state: a first request marks the page read).
    without_page_cache: the change was no event, which anonymous whole pages show only after
    pagecache.TTL (documented); the post fragments must show it at once."""
    url = thread.get_absolute_url() + "?page=1"
    clients = {name: client_for(user) for name, user in viewers.items()}
    for client in clients.values():
        _page(client, url)
    if without_page_cache:
        pagecache.clear()
    warm = {name: _page(client, url) for name, client in clients.items()}
    _clear()
    for name, client in clients.items():
        cold = _page(client, url)
        assert _masked(warm[name]) == _masked(cold), f"stale fragment for the {name} viewer"
        assert forum_tags._csrf_slot() not in warm[name]


def test_cached_fragments_match_fresh_rendering_through_changes(cast):
    thread, viewers = cast
    author, replier, staff = viewers["author"], viewers["replier"], viewers["staff"]
    first = thread.posts.get(number=1)
    _assert_warm_equals_cold(thread, viewers)

    reply = make_reply(thread, replier, "I agree with @maria.")
    actions.react(author, reply, "like")
    _assert_warm_equals_cold(thread, viewers)

    actions.react(replier, first, "thanks")
    actions.edit_post(author, first, body="First **post**, edited.")
    _assert_warm_equals_cold(thread, viewers)

    moderation.hide_post(staff, reply, reason="Off topic")
    _assert_warm_equals_cold(thread, viewers)

    moderation.restore_post(staff, reply)
    author.display_name, author.job_title, author.organisation = "Maria L.", "Dean", "LACCD"
    author.save()
    _assert_warm_equals_cold(thread, viewers)

    moderation.lock_thread(staff, thread)
    _assert_warm_equals_cold(thread, viewers)

    moderation.unlock_thread(staff, thread)
    moderation.suspend_member(
        staff, replier, until=timezone.now() + timedelta(days=2), reason="Cooling off"
    )
    _assert_warm_equals_cold(thread, viewers)

    reply.refresh_from_db()
    actions.delete_own_post(author, make_reply(thread, author, "Oops."))
    moderation.delete_post(staff, reply)
    _assert_warm_equals_cold(thread, viewers)


def test_a_cached_fragment_carries_the_viewers_own_working_csrf_token(cast):
    thread, viewers = cast
    reply = make_reply(thread, viewers["replier"], "A reply to react to.")
    url = thread.get_absolute_url() + "?page=1"
    _page(client_for(viewers["staff"]), url)  # fills the cache with another viewer's forms
    _page(client_for(viewers["author"]), url)
    client = Client(enforce_csrf_checks=True)
    client.force_login(viewers["author"])
    html = _page(client, url)
    article = html[html.index(f'id="post-{reply.pk}"') :]
    token = _CSRF.search(article[: article.index("</article>")])
    assert token, "the reaction forms of a post a member may react to carry a CSRF token"
    response = client.post(
        f"/p/{reply.pk}/react/",
        {"kind": "like", "csrfmiddlewaretoken": token.group(0).split('value="')[1][:-1]},
    )
    assert response.status_code in (200, 302), response.status_code
    assert reply.reactions.filter(user=viewers["author"], kind="like").exists()


def test_the_csrf_slot_is_secret_and_post_text_cannot_name_it(cast):
    """The slot derives from SECRET_KEY (the same in every process sharing the cache, unknown to
    members): an author who writes a slot-like text into a post does not get viewers' tokens."""
    thread, viewers = cast
    make_reply(thread, viewers["replier"], "csrf-0123456789abcdef0123456789abcdef here")
    html = _page(client_for(viewers["author"]), thread.get_absolute_url() + "?page=1")
    assert "csrf-0123456789abcdef0123456789abcdef here" in html
    assert re.fullmatch(r"csrf-[0-9a-f]{32}", forum_tags._csrf_slot())


def test_each_field_alone_is_part_of_the_key(cast):
    """Fields changed one at a time behind the actions' back (no event, no other field moves)."""
    from accounts.models import User
    from forum.models import Post

    thread, viewers = cast
    author = viewers["author"]
    reply = make_reply(thread, viewers["replier"], "A reply.")
    _assert_warm_equals_cold(thread, viewers)
    changes = [
        (User, author.pk, {"job_title": "Principal"}),
        (User, author.pk, {"organisation": "Fresno USD"}),
        (User, author.pk, {"display_name": "M. Lopez"}),
        (Post, reply.pk, {"edit_count": 3}),
        (Post, reply.pk, {"created_at": reply.created_at - timedelta(days=400)}),
        (Post, reply.pk, {"reaction_counts": {"like": 7}}),
        (Post, reply.pk, {"is_hidden": True, "hidden_reason": "First reason"}),
        (Post, reply.pk, {"hidden_reason": "Second reason"}),
    ]
    for model, pk, fields in changes:
        model.objects.filter(pk=pk).update(**fields)
        _assert_warm_equals_cold(thread, viewers, without_page_cache=True)


def test_a_moderators_forms_return_to_the_page_they_came_from(cast):
    thread, viewers = cast
    client = client_for(viewers["staff"])
    base = thread.get_absolute_url() + "?page=1"
    _page(client, base)
    other = _page(client, base + "&from=search")
    assert 'value="' + base.replace("?", "?") + "&amp;from=search#post-" in other


@pytest.mark.parametrize(
    "check",
    ["can_view_history", "can_edit_post", "can_delete_post", "can_report", "can_react"],
)
def test_each_permission_alone_changes_the_key(cast, monkeypatch, check):
    from forum import permissions

    thread, viewers = cast
    post = thread.posts.select_related("author").get(number=1)
    keys = set()
    for answer in (True, False):
        monkeypatch.setattr(permissions, check, lambda user, post, answer=answer: answer)
        keys.add(_member_key(post, viewers["replier"]))
    assert len(keys) == 2


def test_the_post_templates_read_only_what_the_key_holds():
    """A new field read by _post.html (or what it includes) must be added to _post_state."""
    from pathlib import Path

    from django.conf import settings

    root = Path(settings.BASE_DIR) / "templates"
    text = "".join(
        (root / name).read_text()
        for name in ("forum/_post.html", "moderation/_post_tools.html", "accounts/_avatar.html")
    )
    post_fields = set(re.findall(r"\bpost\.(\w+)", text))
    person_fields = set(re.findall(r"\b(?:author|member)\.(\w+)", text))
    assert post_fields <= {
        "pk",
        "number",
        "author",
        "author_id",
        "is_hidden",
        "is_deleted",
        "hidden_reason",
        "edit_count",
        "created_at",
        "html",
        "body_visible",
    }, post_fields
    # name, initials and avatar_hue derive from username and display_name.
    assert person_fields <= {
        "username",
        "name",
        "job_title",
        "organisation",
        "avatar",
        "avatar_hue",
        "initials",
    }, person_fields
    filters = set(re.findall(r"\|(\w+)", text))
    assert filters <= {
        "can_history",
        "can_edit",
        "can_delete",
        "can_report",
        "date",
        "default",
        "safe",
    }, filters
    names = set(re.findall(r"{{\s*(\w+)", text))
    for tag in re.findall(r"{%\s*(?:if|elif)\s(.*?)%}", text):
        names |= set(re.findall(r"(?:^|\b(?:and|or|not)\s+)\s*(\w+)", tag.strip()))
    names -= {"not", "and", "or"}
    assert names - {"post", "author", "member", "size"} <= {
        "live",
        "can_reply",
        "can_moderate",
        "user",
        "request",
        "reaction_kinds",
    }, names


def _warm_page(cast: Any, reply: str) -> tuple[Client, str, str]:
    """A reply on the cast's thread, then its author's page 1 viewed twice (the cache warm):
    the author's client, the page's URL and the second view's markup."""
    thread, viewers = cast
    make_reply(thread, viewers["replier"], reply)
    client = client_for(viewers["author"])
    url = thread.get_absolute_url() + "?page=1"
    _page(client, url)
    return client, url, _page(client, url)


def test_posts_come_from_the_cache_on_the_next_view(cast, monkeypatch):
    """The second view of a page renders no post: every one comes from the cache (one
    get_many for the page), and is the same markup."""
    from django.template.base import Template

    client, url, first = _warm_page(cast, "Second post.")
    rendered: list[str] = []
    real_render = Template.render

    def spy(self, context):
        rendered.append(self.origin.template_name if self.origin else "?")
        return real_render(self, context)

    monkeypatch.setattr(Template, "render", spy)
    second = _page(client, url)
    assert "forum/_post.html" not in rendered, rendered
    assert _masked(first) == _masked(second)


def test_a_failing_cache_renders_the_posts(cast, monkeypatch, caplog):
    """Redis down: the fragment cache misses, the page is rendered and identical."""
    client, url, expected = _warm_page(cast, "A reply.")
    calls: list[str] = []

    def down(*args, **kwargs):
        calls.append("call")
        raise ConnectionError("Redis is down")

    cache.clear()
    monkeypatch.setattr(cache, "get_many", down)
    monkeypatch.setattr(cache, "set", down)
    monkeypatch.setattr(forum_tags, "_paused_until", 0.0)
    with caplog.at_level("WARNING", logger="forum.templatetags.forum_tags"):
        assert _masked(_page(client, url)) == _masked(expected)
        # The page's one failed get_many pauses the cache: no set per post, no call at all on
        # the next page, each of which could otherwise wait for Redis's timeout.
        assert len(calls) == 1
        assert _masked(_page(client, url)) == _masked(expected)
        assert len(calls) == 1
    assert "post fragment cache unavailable" in caplog.text
    monkeypatch.setattr(forum_tags, "_paused_until", 0.0)


def test_a_change_to_the_post_templates_changes_every_key(cast, monkeypatch):
    """The cache outlives a deploy (Redis): markup of an older _post.html is never served."""
    thread, viewers = cast
    post = thread.posts.select_related("author").get(number=1)

    def key() -> str:
        return _member_key(post, viewers["replier"])

    forum_tags._templates_version()
    before = key()
    monkeypatch.setattr(forum_tags, "_templates_digest", "0123456789abcdef")
    assert key() != before

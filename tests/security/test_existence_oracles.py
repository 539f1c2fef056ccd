"""No existence oracles (issue 7 point 5, issue 6 point 7): a thread, post, board, profile or
notification the viewer may not see answers every HTTP way in exactly as an id that does not
exist: same status, same Location, same body once the id itself is blanked out.

The URL x role matrix is generated from the URLconf: every pattern with a path parameter must be
classified in EXPECTATIONS (which kind of object each parameter names), so a new URL fails this
test until someone decides how it must behave.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import MembershipStatus
from forum import search
from forum.actions import render_post_body
from forum.models import (
    Board,
    ModerationAction,
    Notification,
    NotificationKind,
    Post,
    PostingRule,
    Thread,
    Visibility,
)
from tests.conftest import make_board, make_group, make_member, make_staff, make_thread

pytestmark = pytest.mark.django_db

# Distinctive ids, so that blanking "the id" in a page never touches another number. The
# missing id is one below the private one: SQLite continues numbering after an explicit id.
IDS = {
    "thread": (770001, 770000),
    "post": (880001, 880000),
    "member_id": (660001, 660000),
    "notification": (550001, 550000),
    "mod_action": (440001, 440000),
}
PRIVATE_BOARD_SLUG, MISSING_BOARD_SLUG = "insiders-only-q7", "nothing-here-q7"
HIDDEN_MEMBER, MISSING_MEMBER = "ghostmember7", "nosuchperson7"
SECRET_WORD = "zanzibarquokka"

# route name -> {path parameter: kind}. Kinds: thread, thread_slug, post, board, member,
# member_id, notification, mod_action. SKIP entries say why the pattern is not an object door.
EXPECTATIONS: dict[str, dict[str, str]] = {
    "forum:board": {"slug": "board"},
    "forum:new_thread": {"slug": "board"},
    "forum:mark_board_read": {"slug": "board"},
    "forum:watch_board": {"slug": "board"},
    "forum:thread_short": {"thread_id": "thread"},
    "forum:thread": {"thread_id": "thread", "slug": "thread_slug"},
    "forum:reply": {"thread_id": "thread"},
    "forum:watch_thread": {"thread_id": "thread"},
    "forum:post": {"post_id": "post"},
    "forum:edit_post": {"post_id": "post"},
    "forum:delete_post": {"post_id": "post"},
    "forum:react": {"post_id": "post"},
    "forum:post_history": {"post_id": "post"},
    "forum:quote_source": {"post_id": "post"},
    "realtime:post_fragment": {"post_id": "post"},
    "moderation:report": {"post_id": "post"},
    "moderation:resolve": {"post_id": "post"},
    "moderation:post_edit": {"post_id": "post"},
    "moderation:post_hide": {"post_id": "post"},
    "moderation:post_restore": {"post_id": "post"},
    "moderation:post_delete": {"post_id": "post"},
    "moderation:post_undelete": {"post_id": "post"},
    "moderation:thread_pin": {"thread_id": "thread"},
    "moderation:thread_unpin": {"thread_id": "thread"},
    "moderation:thread_lock": {"thread_id": "thread"},
    "moderation:thread_unlock": {"thread_id": "thread"},
    "moderation:thread_hide": {"thread_id": "thread"},
    "moderation:thread_restore": {"thread_id": "thread"},
    "moderation:thread_delete": {"thread_id": "thread"},
    "moderation:thread_undelete": {"thread_id": "thread"},
    "moderation:thread_rename": {"thread_id": "thread"},
    "moderation:thread_move": {"thread_id": "thread"},
    "moderation:thread_split": {"thread_id": "thread"},
    "moderation:thread_merge": {"thread_id": "thread"},
    "moderation:thread_purge": {"thread_id": "thread"},
    "moderation:undo": {"action_id": "mod_action"},
    "moderation:member": {"username": "member"},
    "moderation:member_suspend": {"username": "member"},
    "moderation:member_silence": {"username": "member"},
    "moderation:member_lift_suspension": {"username": "member"},
    "moderation:member_lift_silence": {"username": "member"},
    "members:profile": {"username": "member"},
    "members:decide": {"user_id": "member_id"},
    "notifications:open": {"notification_id": "notification"},
}
SKIP = {
    "accounts:password_reset_confirm": "a signed token, not an object id; Django checks it",
    "media": "uploads are public by unguessable random name (see docs/SECURITY.md)",
}


@dataclass
class Route:
    name: str
    params: list[str]


def routes() -> list[Route]:
    found: list[Route] = []

    def walk(patterns: list[Any], namespace: str | None) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if str(pattern.pattern).startswith("admin/"):
                    continue  # Django's admin: staff only, its own permission system
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern):
                params = list(pattern.pattern.converters)
                name = f"{namespace}:{pattern.name}" if namespace else (pattern.name or "")
                if params:
                    found.append(Route(name or str(pattern.pattern), params))

    walk(get_resolver().url_patterns, None)
    return found


def test_every_url_with_a_parameter_is_classified():
    unclassified = [
        f"{r.name} {r.params}"
        for r in routes()
        if r.name not in SKIP and set(EXPECTATIONS.get(r.name, {})) != set(r.params)
    ]
    assert not unclassified, (
        "Classify these URL patterns in EXPECTATIONS (which object each parameter names) so "
        "the existence-oracle matrix covers them:\n" + "\n".join(unclassified)
    )
    stale = set(EXPECTATIONS) - {r.name for r in routes()}
    assert not stale, f"EXPECTATIONS lists routes that no longer exist: {stale}"


# ---------------------------------------------------------------- the world


@pytest.fixture
def world(db):
    insider, outsider, staff = make_member("insider7"), make_member("outsider7"), make_staff()
    group = make_group("Insiders", insider)
    board = Board.objects.create(
        name="Insiders only",
        slug=PRIVATE_BOARD_SLUG,
        description="Private",
        visibility=Visibility.GROUPS,
        start_rule=PostingRule.GROUPS,
        reply_rule=PostingRule.GROUPS,
        position=50,
    )
    board.visible_groups.set([group])
    board.posting_groups.set([group])
    now = timezone.now()
    thread_id, post_id = IDS["thread"][0], IDS["post"][0]
    thread = Thread.objects.create(
        pk=thread_id,
        board=board,
        title=f"Budget plan {SECRET_WORD}",
        author=insider,
        created_at=now,
        last_post_at=now,
        last_poster=insider,
        post_count=2,
        reply_count=1,
    )
    body = f"Our confidential {SECRET_WORD} numbers."
    first = Post.objects.create(
        pk=post_id,
        thread=thread,
        number=1,
        author=insider,
        body=body,
        html=render_post_body(body),
        created_at=now,
    )
    reply = Post.objects.create(
        pk=post_id + 10,
        thread=thread,
        number=2,
        author=insider,
        body="Agreed.",
        html=render_post_body("Agreed."),
        created_at=now,
    )
    Thread.objects.filter(pk=thread.pk).update(last_post=reply)
    Board.objects.filter(pk=board.pk).update(
        thread_count=1, post_count=2, last_post=reply, last_post_at=now
    )
    for post in (first, reply):
        search.index_post(post, thread=thread)
    hidden = get_user_model().objects.create_user(
        HIDDEN_MEMBER,
        "ghost@example.org",
        "x-password-123",
        id=IDS["member_id"][0],
        display_name="Ghost Member",
        is_active=False,
        membership_status=MembershipStatus.APPROVED,
    )
    Notification.objects.create(
        pk=IDS["notification"][0],
        recipient=insider,
        kind=NotificationKind.REPLY,
        actor=staff,
        thread=thread,
        post=reply,
        board=board,
        created_at=now,
        updated_at=now,
    )
    ModerationAction.objects.create(
        pk=IDS["mod_action"][0],
        actor=staff,
        action="lock_thread",
        thread=thread,
        board=board,
        reason="private",
        created_at=now,
    )
    public = make_board("Public")
    make_thread(public, insider, title="Open discussion", body="Nothing secret.")
    return {
        "insider": insider,
        "outsider": outsider,
        "staff": staff,
        "board": board,
        "thread": thread,
        "post": first,
        "hidden": hidden,
    }


def _values(kind: str, thread: Thread) -> tuple[str, str]:
    if kind in IDS:
        return tuple(str(i) for i in IDS[kind])  # type: ignore[return-value]
    return {
        "thread_slug": (thread.slug, thread.slug),
        "board": (PRIVATE_BOARD_SLUG, MISSING_BOARD_SLUG),
        "member": (HIDDEN_MEMBER, MISSING_MEMBER),
    }[kind]


TOKEN_RE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+"')


def _normalize(text: str, value: str) -> str:
    text = TOKEN_RE.sub(r'\1TOKEN"', text)
    return re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", "<ID>", text)


def _answer(user: Any, method: str, url: str, value: str) -> tuple[int, str, str]:
    client = Client()
    if user is not None:
        client.force_login(user)
    response = getattr(client, method)(url, HTTP_ACCEPT="text/html")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return (
        response.status_code,
        _normalize(response.get("Location", ""), value),
        _normalize(body.decode(errors="replace"), value),
    )


def _url(route: Route, which: int, thread: Thread) -> tuple[str, str]:
    kinds = EXPECTATIONS[route.name]
    kwargs = {param: _values(kind, thread)[which] for param, kind in kinds.items()}
    main_kind = next(k for k in kinds.values() if k != "thread_slug")
    return reverse(route.name, kwargs=kwargs), _values(main_kind, thread)[which]


@pytest.mark.parametrize("role", ["anonymous", "outsider"])
def test_private_objects_answer_like_missing_ones_on_every_url(world, role):
    user = None if role == "anonymous" else world["outsider"]
    thread = world["thread"]
    checked, differences = 0, []
    for route in routes():
        if route.name in SKIP:
            continue
        private_url, private_value = _url(route, 0, thread)
        missing_url, missing_value = _url(route, 1, thread)
        for method in ("get", "post"):
            private = _answer(user, method, private_url, private_value)
            missing = _answer(user, method, missing_url, missing_value)
            checked += 1
            assert private[0] != 500, (route.name, method)
            if private != missing:
                differences.append(
                    f"{method.upper()} {private_url}: {private[0]} {private[1]!r} vs "
                    f"{missing_url}: {missing[0]} {missing[1]!r}"
                )
    assert checked >= 2 * len(EXPECTATIONS)
    assert not differences, "Existence oracles:\n" + "\n".join(differences)
    # nothing the outsider sent changed the private thread
    assert Thread.objects.filter(pk=thread.pk, is_locked=False, is_deleted=False).exists()
    assert Post.objects.filter(thread=thread, is_hidden=False, is_deleted=False).count() == 2


@pytest.mark.parametrize("role", ["insider", "staff"])
def test_private_objects_visible_to_permitted_roles_without_errors(world, role):
    """The matrix is not vacuous: members who may see the objects get them (GET only, so the
    moderator doors are not actually used), and nothing answers 500."""
    user = world[role]
    thread = world["thread"]
    client = Client()
    client.force_login(user)
    for route in routes():
        if route.name in SKIP:
            continue
        url, _value = _url(route, 0, thread)
        response = client.get(url)
        assert response.status_code != 500, (role, url)
    assert client.get(thread.get_absolute_url()).status_code == 200
    assert client.get(f"/p/{IDS['post'][0]}/").status_code == 302
    assert client.get(f"/b/{PRIVATE_BOARD_SLUG}/").status_code == 200
    assert SECRET_WORD in client.get(thread.get_absolute_url()).content.decode()


# ---------------------------------------------------------------- the other doors


def _body(client: Client, url: str, data: dict | None = None, method: str = "get") -> str:
    response = getattr(client, method)(url, data or {})
    return TOKEN_RE.sub(r'\1TOKEN"', response.content.decode())


@pytest.mark.parametrize("role", ["anonymous", "outsider"])
def test_search_private_word_answers_like_unknown_word(world, role):
    client = Client()
    if role == "outsider":
        client.force_login(world["outsider"])
    private = _body(client, "/search/", {"q": SECRET_WORD}).replace(SECRET_WORD, "<Q>")
    missing = _body(client, "/search/", {"q": "xylophonewombat"}).replace("xylophonewombat", "<Q>")
    assert private == missing
    insider = Client()
    insider.force_login(world["insider"])
    assert "Budget plan" in _body(insider, "/search/", {"q": SECRET_WORD})


def test_search_board_filter_private_slug_answers_like_missing(world):
    client = Client()
    client.force_login(world["outsider"])
    private = _body(client, "/search/", {"q": "numbers", "board": PRIVATE_BOARD_SLUG})
    missing = _body(client, "/search/", {"q": "numbers", "board": MISSING_BOARD_SLUG})
    assert private.replace(PRIVATE_BOARD_SLUG, "<B>") == missing.replace(MISSING_BOARD_SLUG, "<B>")


def test_mention_autocomplete_hidden_member_answers_like_missing(world):
    client = Client()
    client.force_login(world["outsider"])
    hidden = client.get("/api/members/", {"q": HIDDEN_MEMBER[:8]}).json()
    missing = client.get("/api/members/", {"q": MISSING_MEMBER[:8]}).json()
    assert hidden == missing == {"results": []}
    assert client.get("/api/members/", {"q": "insider7"}).json()["results"]


def test_inbox_hides_notification_about_thread_viewer_cannot_see(world):
    """A member told about a thread that later moved out of their sight sees nothing of it."""
    outsider = world["outsider"]
    client = Client()
    client.force_login(outsider)
    before = _body(client, "/notifications/")
    Notification.objects.create(
        recipient=outsider,
        kind=NotificationKind.MENTION,
        actor=world["insider"],
        thread=world["thread"],
        post=world["post"],
        board=world["board"],
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )
    after = _body(client, "/notifications/")
    assert SECRET_WORD not in after and "Budget plan" not in after
    assert after == before


@pytest.mark.parametrize(
    "template",
    [
        "See [this](/p/{post}/) and /t/{thread}/",
        "> [@insider7 wrote](/p/{post}/):\n> something\n\nI agree.",
    ],
)
def test_preview_of_link_to_private_post_answers_like_missing(world, template):
    client = Client()
    client.force_login(world["outsider"])
    (post_p, post_m), (thread_p, thread_m) = IDS["post"], IDS["thread"]
    private = _body(
        client,
        "/markdownx/markdownify/",
        {"content": template.format(post=post_p, thread=thread_p)},
        "post",
    )
    missing = _body(
        client,
        "/markdownx/markdownify/",
        {"content": template.format(post=post_m, thread=thread_m)},
        "post",
    )
    norm = {str(post_p): "<P>", str(post_m): "<P>", str(thread_p): "<T>", str(thread_m): "<T>"}
    for value, placeholder in norm.items():
        private, missing = private.replace(value, placeholder), missing.replace(value, placeholder)
    assert private == missing
    assert SECRET_WORD not in private and "Budget" not in private


def test_profile_of_author_lists_no_private_posts(world):
    client = Client()
    client.force_login(world["outsider"])
    page = _body(client, f"/u/{world['insider'].username}/")
    assert SECRET_WORD not in page and "Budget plan" not in page
    assert "Open discussion" in page

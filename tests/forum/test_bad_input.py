"""Bad input (issue 3, point 8): a clear message or a 403/404 page, never a 500; a refused form
keeps the member's text; a double-submitted reply makes one post."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from forum.models import Post, PostingRule, Reaction, Thread, Visibility
from tests.conftest import client_for, make_board, make_group, make_member, make_reply, make_thread

TEXT = "My carefully written reply about work-based learning"


def _main(response) -> str:
    html = response.content.decode()
    return re.search(r"<main.*?</main>", html, re.S).group(0)


def _reply(client, thread, body=TEXT, **extra):
    return client.post(f"/t/{thread.pk}/reply/", {"body": body, **extra})


# ---------------------------------------------------------------- titles and bodies


@pytest.mark.django_db
@pytest.mark.parametrize(
    "title,message",
    [
        ("", "Give the thread a title."),
        ("abc", "The title is too short: at least 5 characters."),
        ("x" * 151, "The title is too long: at most 150 characters (this one has 151)."),
        ("     ", "Give the thread a title."),
    ],
)
def test_new_thread_bad_title_says_the_limit_and_keeps_text(member, board, title, message):
    response = client_for(member).post(f"/b/{board.slug}/new/", {"title": title, "body": TEXT})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert TEXT in html  # the body the member wrote is still in the form
    assert not Thread.objects.exists()


@pytest.mark.django_db
def test_new_thread_title_counts_collapsed_spaces(member, board):
    # "a    b" has 6 characters typed but 3 after collapsing: the action's rule applies.
    response = client_for(member).post(f"/b/{board.slug}/new/", {"title": "a      b", "body": TEXT})
    assert response.status_code == 400
    assert "The title is too short: at least 5 characters." in response.content.decode()
    assert "a      b" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body,message",
    [
        ("", "The post is empty: write at least a few words."),
        ("   \n  ", "The post is empty: write at least a few words."),
        ("x" * 20001, "The post is too long: at most 20,000 characters (this one has 20001)."),
    ],
)
def test_reply_bad_body_says_the_limit_and_keeps_text(member, thread, body, message):
    response = _reply(client_for(member), thread, body=body)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    if body.strip():
        assert body in html
    assert Post.objects.filter(thread=thread).count() == 1


@pytest.mark.django_db
def test_new_thread_form_states_the_limits(member, board):
    html = client_for(member).get(f"/b/{board.slug}/new/").content.decode()
    assert "5 to 150 characters." in html
    assert "Up to 20,000 characters." in html


@pytest.mark.django_db
def test_edit_post_empty_body_keeps_title_and_says_why(member, thread):
    post = thread.posts.get(number=1)
    response = client_for(member).post(
        f"/p/{post.pk}/edit/", {"title": "A better title here", "body": "", "reason": "typo"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "The post is empty" in html and "A better title here" in html


# ---------------------------------------------------------------- unknown and hidden ids


@pytest.mark.django_db
def test_unknown_and_hidden_ids_get_the_same_404(member, other_member):
    private = make_board(visibility=Visibility.GROUPS, groups=[make_group("Board", other_member)])
    secret = make_thread(private, other_member, title="Secret budget talk")
    secret_post = make_reply(secret, other_member, "secret reply")
    client = client_for(member)
    pairs = [
        (f"/b/{private.slug}/", "/b/no-such-board/"),
        (secret.get_absolute_url(), "/t/99999/whatever/"),
        (f"/t/{secret.pk}/", "/t/99999/"),
        (f"/p/{secret_post.pk}/", "/p/99999/"),
        (f"/p/{secret_post.pk}/history/", "/p/99999/history/"),
        (f"/p/{secret_post.pk}/quote/", "/p/99999/quote/"),
        (f"/p/{secret_post.pk}/edit/", "/p/99999/edit/"),
    ]
    for hidden, missing in pairs:
        a, b = client.get(hidden), client.get(missing)
        assert a.status_code == b.status_code == 404, (hidden, a.status_code, b.status_code)
        assert _main(a) == _main(b)
        assert b"Secret budget" not in a.content
    for hidden, missing in [
        (f"/t/{secret.pk}/reply/", "/t/99999/reply/"),
        (f"/p/{secret_post.pk}/react/", "/p/99999/react/"),
        (f"/p/{secret_post.pk}/delete/", "/p/99999/delete/"),
        (f"/b/{private.slug}/mark-read/", "/b/nope/mark-read/"),
    ]:
        a = client.post(hidden, {"body": TEXT, "kind": "like"})
        b = client.post(missing, {"body": TEXT, "kind": "like"})
        assert a.status_code == b.status_code == 404, (hidden, a.status_code, b.status_code)
    assert Post.objects.filter(thread=secret).count() == 2
    assert not Reaction.objects.exists()


@pytest.mark.django_db
def test_hidden_thread_is_404_for_members_but_visible_to_moderators(member, board):
    mod = make_member("mod")
    board.moderators.add(mod)
    thread = make_thread(board, member)
    Thread.objects.filter(pk=thread.pk).update(is_hidden=True)
    assert client_for(make_member()).get(thread.get_absolute_url()).status_code == 404
    assert client_for(mod).get(thread.get_absolute_url()).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["abc", "-3", "0", "99999", "1e9", ""])
def test_odd_page_numbers_never_fail(thread, page):
    for url in (thread.get_absolute_url(), thread.board.get_absolute_url()):
        assert client_for().get(url, {"page": page}).status_code == 200


# ---------------------------------------------------------------- rights


@pytest.mark.django_db
def test_reply_to_locked_thread_is_refused_and_keeps_text(member, other_member, thread):
    Thread.objects.filter(pk=thread.pk).update(is_locked=True)
    response = _reply(client_for(other_member), thread)
    assert response.status_code == 403
    html = response.content.decode()
    assert "This thread is locked: no new replies." in html
    assert TEXT in html
    assert Post.objects.filter(thread=thread).count() == 1


@pytest.mark.django_db
def test_reply_without_posting_rights_is_refused_and_keeps_text(member):
    staff_board = make_board(reply_rule=PostingRule.STAFF)
    thread = make_thread(staff_board, make_member(is_staff=True))
    response = _reply(client_for(member), thread)
    assert response.status_code == 403
    assert f"You do not have posting rights in {staff_board.name}." in response.content.decode()
    assert TEXT in response.content.decode()


@pytest.mark.django_db
def test_new_thread_without_posting_rights_shows_why(member):
    board = make_board(start_rule=PostingRule.STAFF)
    response = client_for(member).get(f"/b/{board.slug}/new/")
    assert response.status_code == 403
    assert f"Only staff start threads in {board.name}." in response.content.decode()
    response = client_for(member).post(
        f"/b/{board.slug}/new/", {"title": "A new thread title", "body": TEXT}
    )
    assert response.status_code == 403
    assert TEXT in response.content.decode()
    assert not Thread.objects.exists()


@pytest.mark.django_db
def test_pending_and_suspended_members_cannot_post(thread):
    pending = make_member(approved=False)
    suspended = make_member(
        suspended_until=timezone.now() + timedelta(days=1), suspension_reason="spam"
    )
    r1 = _reply(client_for(pending), thread)
    r2 = _reply(client_for(suspended), thread)
    assert r1.status_code == r2.status_code == 403
    assert "awaiting approval" in r1.content.decode() and TEXT in r1.content.decode()
    assert "suspended" in r2.content.decode() and "Reason: spam" in r2.content.decode()
    assert Post.objects.filter(thread=thread).count() == 1


@pytest.mark.django_db
def test_visitor_posting_is_sent_to_sign_in(thread):
    response = _reply(client_for(), thread)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_editing_someone_elses_post_is_refused(member, other_member, thread):
    post = thread.posts.get(number=1)
    client = client_for(other_member)
    response = client.get(f"/p/{post.pk}/edit/")
    assert response.status_code == 403
    assert "You can only edit your own posts." in response.content.decode()
    response = client.post(f"/p/{post.pk}/edit/", {"title": "", "body": "Hijacked text here"})
    assert response.status_code == 403
    post.refresh_from_db()
    assert post.body == "First post body." and post.edit_count == 0


@pytest.mark.django_db
def test_deleting_someone_elses_post_is_refused(member, other_member, thread):
    post = make_reply(thread, member, "mine")
    response = client_for(other_member).post(f"/p/{post.pk}/delete/")
    assert response.status_code == 403
    assert "You can only remove your own posts." in response.content.decode()
    post.refresh_from_db()
    assert not post.is_deleted


# ---------------------------------------------------------------- reactions


@pytest.mark.django_db
def test_reaction_twice_is_refused_with_a_message(member, other_member, thread):
    post = thread.posts.get(number=1)
    client = client_for(other_member)
    assert client.post(f"/p/{post.pk}/react/", {"kind": "like"}).status_code == 302
    response = client.post(f"/p/{post.pk}/react/", {"kind": "like"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "You already reacted with that."}
    page = client.post(f"/p/{post.pk}/react/", {"kind": "like"})
    assert page.status_code == 400 and "You already reacted with that." in page.content.decode()
    post.refresh_from_db()
    assert post.reaction_counts == {"like": 1}
    assert Reaction.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["", "love", "x" * 200])
def test_unknown_reaction_kind_is_refused(other_member, thread, kind):
    post = thread.posts.get(number=1)
    response = client_for(other_member).post(f"/p/{post.pk}/react/", {"kind": kind})
    assert response.status_code == 400
    assert "Unknown reaction" in response.content.decode()


@pytest.mark.django_db
def test_reacting_to_own_post_is_refused(member, thread):
    post = thread.posts.get(number=1)
    response = client_for(member).post(
        f"/p/{post.pk}/react/", {"kind": "like"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 403
    assert response.json()["error"] == "You cannot react to your own post."


@pytest.mark.django_db
def test_undoing_a_reaction_never_made_is_refused(other_member, thread):
    post = thread.posts.get(number=1)
    response = client_for(other_member).post(f"/p/{post.pk}/react/", {"kind": "like", "undo": "1"})
    assert response.status_code == 400
    assert "You had not reacted with that." in response.content.decode()


# ---------------------------------------------------------------- double submit


@pytest.mark.django_db
def test_double_submitted_reply_creates_one_post(member, other_member, thread):
    client = client_for(other_member)
    first = _reply(client, thread, client_token="tok-123")
    second = _reply(client, thread, client_token="tok-123")
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Post.objects.filter(thread=thread, author=other_member).count() == 1
    thread.refresh_from_db()
    assert thread.post_count == 2 and thread.reply_count == 1
    other_member.refresh_from_db()
    assert other_member.post_count == 1


@pytest.mark.django_db
def test_double_submitted_new_thread_creates_one_thread(member, board):
    client = client_for(member)
    data = {"title": "Advisory committee agendas", "body": TEXT, "client_token": "tok-9"}
    first = client.post(f"/b/{board.slug}/new/", data)
    second = client.post(f"/b/{board.slug}/new/", data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Thread.objects.count() == 1
    board.refresh_from_db()
    assert board.thread_count == 1 and board.post_count == 1


@pytest.mark.django_db
def test_reply_page_carries_a_fresh_client_token(member, thread):
    html = client_for(member).get(thread.get_absolute_url()).content.decode()
    token = re.search(r'name="client_token" value="([^"]+)"', html).group(1)
    assert len(token) >= 16
    html2 = client_for(member).get(thread.get_absolute_url()).content.decode()
    assert token not in html2

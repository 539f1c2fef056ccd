"""Audit of issue 5 (moderation), points 1 to 7: the clauses no other test proved on its own.

Each test names the clause it proves; docs/ACCEPTANCE.md maps every clause to its tests."""

from __future__ import annotations

import inspect
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from forum import moderation
from forum.models import ModerationAction, Post, Reaction, Report, Thread, Visibility
from forum.permissions import forget_cached_permissions
from tests.conftest import (
    client_for,
    make_board,
    make_group,
    make_member,
    make_reply,
    make_thread,
)
from tests.forum.test_moderation_actions import make_world

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    return response.content.decode()


def _png() -> io.BytesIO:
    data = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(data, "PNG")
    data.seek(0)
    data.name = "dot.png"
    return data


# ---------------------------------------------------------------- 5.6 every action is logged

# Public functions of forum.moderation whose first argument is the acting member but which are
# not moderator actions (a member's report; reads).
NOT_MODERATOR_ACTIONS = {"report_post", "open_reports", "open_report_count"}


def _moderator_actions() -> set[str]:
    names = set()
    for name, fn in vars(moderation).items():
        if name.startswith("_") or not inspect.isfunction(fn):
            continue
        if fn.__module__ != moderation.__name__:
            continue
        params = list(inspect.signature(fn).parameters)
        if params and params[0] == "user" and name not in NOT_MODERATOR_ACTIONS:
            names.add(name)
    return names


def _case_world():
    w = make_world()
    w.reason = "Audit reason"
    w.target_member = make_member()
    return w


def _report(w):
    moderation.report_post(w.member, w.replies[1], reason="spam")
    return w.replies[1]


def _undo_setup(w):
    moderation.pin_thread(w.mod_a, w.thread, reason="first")
    return ModerationAction.objects.get(action="pin_thread")


# name -> (prepare(w) -> extra, run(w, extra), logged action, what the entry points at)
CASES = {
    "pin_thread": (None, lambda w, x: moderation.pin_thread(w.mod_a, w.thread, reason=w.reason)),
    "unpin_thread": (
        lambda w: moderation.pin_thread(w.mod_a, w.thread),
        lambda w, x: moderation.unpin_thread(w.mod_a, w.thread, reason=w.reason),
    ),
    "lock_thread": (None, lambda w, x: moderation.lock_thread(w.mod_a, w.thread, reason=w.reason)),
    "unlock_thread": (
        lambda w: moderation.lock_thread(w.mod_a, w.thread),
        lambda w, x: moderation.unlock_thread(w.mod_a, w.thread, reason=w.reason),
    ),
    "hide_thread": (None, lambda w, x: moderation.hide_thread(w.mod_a, w.thread, reason=w.reason)),
    "restore_thread": (
        lambda w: moderation.hide_thread(w.mod_a, w.thread, reason="x"),
        lambda w, x: moderation.restore_thread(w.mod_a, w.thread, reason=w.reason),
    ),
    "delete_thread": (
        None,
        lambda w, x: moderation.delete_thread(w.mod_a, w.thread, reason=w.reason),
    ),
    "restore_deleted_thread": (
        lambda w: moderation.delete_thread(w.mod_a, w.thread),
        lambda w, x: moderation.restore_deleted_thread(w.mod_a, w.thread, reason=w.reason),
    ),
    "rename_thread": (
        None,
        lambda w, x: moderation.rename_thread(
            w.mod_a, w.thread, title="Renamed by the audit", reason=w.reason
        ),
    ),
    "move_thread": (
        None,
        lambda w, x: moderation.move_thread(w.mod_a, w.thread, board=w.board_c, reason=w.reason),
    ),
    "purge_thread": (
        None,
        lambda w, x: moderation.purge_thread(
            w.staff, w.thread, confirm_title=w.thread.title, reason=w.reason
        ),
    ),
    "split_thread": (
        None,
        lambda w, x: moderation.split_thread(
            w.mod_a, w.thread, post_ids=[w.replies[2].pk], title="Split off", reason=w.reason
        ),
    ),
    "merge_threads": (
        None,
        lambda w, x: moderation.merge_threads(w.mod_a, w.other_thread, w.thread, reason=w.reason),
    ),
    "hide_post": (None, lambda w, x: moderation.hide_post(w.mod_a, w.replies[0], reason=w.reason)),
    "restore_post": (
        lambda w: moderation.hide_post(w.mod_a, w.replies[0], reason="x"),
        lambda w, x: moderation.restore_post(w.mod_a, w.replies[0], reason=w.reason),
    ),
    "delete_post": (
        None,
        lambda w, x: moderation.delete_post(w.mod_a, w.replies[0], reason=w.reason),
    ),
    "restore_deleted_post": (
        lambda w: moderation.delete_post(w.mod_a, w.replies[0]),
        lambda w, x: moderation.restore_deleted_post(w.mod_a, w.replies[0], reason=w.reason),
    ),
    "moderator_edit_post": (
        None,
        lambda w, x: moderation.moderator_edit_post(
            w.mod_a, w.replies[0], body="Edited by a moderator.", reason=w.reason
        ),
    ),
    "resolve_report": (
        _report,
        lambda w, x: moderation.resolve_report(w.mod_a, x, resolution="dismiss", reason=w.reason),
    ),
    "suspend_member": (
        None,
        lambda w, x: moderation.suspend_member(
            w.mod_a, w.target_member, until=None, reason=w.reason
        ),
    ),
    "lift_suspension": (
        lambda w: moderation.suspend_member(w.mod_a, w.target_member, until=None, reason="x"),
        lambda w, x: moderation.lift_suspension(w.mod_a, w.target_member, reason=w.reason),
    ),
    "silence_member": (
        None,
        lambda w, x: moderation.silence_member(
            w.mod_a,
            w.target_member,
            until=timezone.now() + timedelta(days=2),
            reason=w.reason,
        ),
    ),
    "lift_silence": (
        lambda w: moderation.silence_member(
            w.mod_a, w.target_member, until=timezone.now() + timedelta(days=2), reason="x"
        ),
        lambda w, x: moderation.lift_silence(w.mod_a, w.target_member, reason=w.reason),
    ),
    "undo_action": (_undo_setup, lambda w, x: moderation.undo_action(w.mod_a, x)),
}
# The log's name for what a function does, where it differs from the function's name.
LOGGED_AS = {
    "moderator_edit_post": "edit_post",
    "resolve_report": "resolve_reports",
    "undo_action": "unpin_thread",
}


def test_audit_cases_cover_every_moderator_action():
    """5.6: a new moderator action cannot be added without a logging case here."""
    assert set(CASES) == _moderator_actions()


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_moderator_action_is_logged_with_who_what_target_when_reason_before_after(name):
    """5.6: who, what, on what, when, reason, and the state before and after."""
    w = _case_world()
    prepare, run = CASES[name]
    extra = prepare(w) if prepare else None
    started = timezone.now()
    known = set(ModerationAction.objects.values_list("pk", flat=True))
    run(w, extra)
    new = list(ModerationAction.objects.exclude(pk__in=known))
    action = LOGGED_AS.get(name, name)
    [entry] = [e for e in new if e.action == action]
    assert entry.actor in (w.mod_a, w.staff)  # who
    assert entry.created_at >= started  # when
    # On what: a thread (with its board), a post, or a member.
    assert entry.thread_id or entry.post_id or entry.target_user_id or entry.board_id
    if name.endswith("_member") or name.startswith("lift_"):
        assert entry.target_user_id == w.target_member.pk
    elif name == "purge_thread":
        assert entry.board_id == w.board_a.pk and entry.before["title"] == w.thread.title
    else:
        assert entry.board_id in (w.board_a.pk, w.board_c.pk)
    if name != "undo_action":
        assert entry.reason == w.reason  # why
    assert entry.before != entry.after  # the state before and after
    # The log page shows it to the moderator who acted.
    viewer = w.staff if name == "purge_thread" else w.mod_a
    html = _html(client_for(viewer).get(reverse("moderation:log")))
    assert f'id="log-{entry.pk}"' in html or action.replace("_", " ") in html


# ---------------------------------------------------------------- 5.1 roles, 5.6 the log


# Role checks outside forum/permissions.py that are not permission decisions, with why.
ROLE_READS_ALLOWED = {
    # Staff reports always count towards hiding a post automatically (trust, not a permission).
    ("forum/moderation.py", "if member.is_staff:"),
}
ROLE_PATTERN = re.compile(r"is_staff|is_superuser|moderator_groups|\.moderators\b")


def test_role_checks_live_only_in_the_permission_module():
    """5.1: every check goes through forum/permissions.py: no view, action, consumer or forum
    template reads staff or moderator roles itself."""
    root = Path(__file__).resolve().parents[2]
    files = [
        *[
            p
            for p in (root / "forum").glob("*.py")
            if p.name not in {"permissions.py", "models.py"}
        ],
        *(root / "forum" / "templatetags").glob("*.py"),
        *(root / "forum" / "management" / "commands").glob("*.py"),
        *[p for p in (root / "realtime").glob("*.py") if p.name != "models.py"],
        *(root / "templates" / "forum").glob("*.html"),
        *(root / "templates" / "moderation").glob("*.html"),
    ]
    assert len(files) > 30
    found = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        if rel == "forum/admin.py":
            continue  # Django admin registration, not a forum decision
        for line in path.read_text().splitlines():
            if ROLE_PATTERN.search(line) and (rel, line.strip()) not in ROLE_READS_ALLOWED:
                found.append(f"{rel}: {line.strip()}")
    assert found == []


def test_purge_of_a_private_thread_is_logged_on_its_board_for_its_moderators_only():
    """5.1/5.6: a permanent deletion is logged against its board, so the log's board filter
    finds it and moderators of other boards never read the private thread's title."""
    w = make_world()
    group = make_group("Directors", w.mod_a)
    w.board_a.visibility = Visibility.GROUPS
    w.board_a.save()
    w.board_a.visible_groups.set([group])
    moderation.purge_thread(w.staff, w.thread, confirm_title=w.thread.title, reason="Legal")
    entry = ModerationAction.objects.get(action="purge_thread")
    assert entry.board_id == w.board_a.pk
    log = reverse("moderation:log")
    assert w.thread.title in _html(client_for(w.staff).get(log, {"board": w.board_a.pk}))
    assert w.thread.title in _html(client_for(w.mod_a).get(log))
    other = _html(client_for(w.mod_b).get(log))
    assert w.thread.title not in other and "purge thread" not in other


def test_member_page_shows_other_moderators_nothing_from_boards_they_cannot_see():
    """5.1/5.5 with 3.1: a board moderator's view of a member lists reports and history only
    from boards they may see (private boards appear nowhere)."""
    w = make_world()
    group = make_group("Directors", w.mod_a, w.author, w.member)
    private = make_board("Directors room", visibility=Visibility.GROUPS, groups=[group])
    private.moderators.add(w.mod_a)
    for user in (w.mod_a, w.author, w.member):
        forget_cached_permissions(user)
    secret = make_thread(private, w.author, title="Zanzibar severance terms")
    reply = make_reply(secret, w.author, "Confidential numbers.")
    moderation.report_post(w.member, reply, reason="harassment", text="Zanzibar tone")
    moderation.report_post(w.author, make_reply(secret, w.member, "Hm."), reason="spam")
    moderation.hide_post(w.mod_a, reply, reason="Zanzibar confidential")
    moderation.lock_thread(w.mod_a, secret, reason="Zanzibar closed")
    # Public activity the other moderator may see.
    moderation.report_post(w.member, w.replies[1], reason="off_topic")
    moderation.hide_post(w.mod_a, w.replies[1], reason="Public reason")
    for name in (w.author.username, w.member.username):
        url = reverse("moderation:member", args=[name])
        outsider = _html(client_for(w.mod_b).get(url))
        assert "Zanzibar" not in outsider and "Directors room" not in outsider, name
        insider = _html(client_for(w.mod_a).get(url))
        assert "Zanzibar" in insider, name
    outsider = _html(
        client_for(w.mod_b).get(reverse("moderation:member", args=[w.author.username]))
    )
    assert "Off-topic by" in outsider  # a report on a public board is still listed


def test_group_assigned_as_board_moderators_moderates_only_that_board():
    """5.1: board moderators can be a group: its members moderate that board only, and stop
    when they leave the group."""
    w = make_world()
    counselor = make_member()
    group = make_group("Lead counselors", counselor)
    w.board_a.moderator_groups.add(group)
    lock = reverse("moderation:thread_lock", args=[w.thread.pk])
    html = _html(client_for(counselor).get(w.thread.get_absolute_url() + "?page=1"))
    assert lock in html
    assert client_for(counselor).post(lock).status_code == 302
    w.thread.refresh_from_db()
    assert w.thread.is_locked
    assert ModerationAction.objects.get(action="lock_thread").actor == counselor
    moderation.report_post(w.member, w.replies[1], reason="spam")
    queue = _html(client_for(counselor).get(reverse("moderation:queue")))
    assert f"report-item-{w.replies[1].pk}" in queue
    b_thread = make_thread(w.board_b, w.author, title="Board B thread")
    refused = client_for(counselor).post(reverse("moderation:thread_lock", args=[b_thread.pk]))
    assert refused.status_code == 403
    b_thread.refresh_from_db()
    assert not b_thread.is_locked
    counselor.groups.remove(group)
    unlock = reverse("moderation:thread_unlock", args=[w.thread.pk])
    assert client_for(counselor).post(unlock).status_code == 403
    w.thread.refresh_from_db()
    assert w.thread.is_locked


# ---------------------------------------------------------------- 5.5 members


def test_suspended_member_reads_but_cannot_post_react_report_or_upload_and_sees_why():
    """5.5: a suspended member reads but cannot post, react, report (nor preview or upload),
    and every refusal shows the reason and until when."""
    w = make_world()
    until = timezone.now() + timedelta(days=10)
    moderation.suspend_member(w.mod_a, w.member, until=until, reason="Repeated spam links")
    client = client_for(w.member)
    page = client.get(w.thread.get_absolute_url() + "?page=1")
    assert page.status_code == 200 and "Reply 1 body" in _html(page)  # reads
    assert 'id="reply-form"' not in _html(page)
    assert "Your account is suspended until" in _html(page)
    assert "Reason: Repeated spam links" in _html(page)
    target = w.replies[1]
    attempts = {
        "reply": client.post(f"/t/{w.thread.pk}/reply/", {"body": "Still here."}),
        "new thread": client.post(
            f"/b/{w.board_a.slug}/new/", {"title": "A brand new thread", "body": "Hello."}
        ),
        "react": client.post(f"/p/{target.pk}/react/", {"kind": "like"}),
        "report": client.post(f"/p/{target.pk}/report/", {"reason": "spam"}),
        "edit": client.post(f"/p/{w.replies[0].pk}/edit/", {"body": "Changed text."}),
        "preview": client.post("/markdownx/markdownify/", {"content": "**hi**"}),
        "upload": client.post("/markdownx/upload/", {"image": _png()}),
    }
    for what, response in attempts.items():
        assert response.status_code == 403, what
        assert "suspended" in _html(response), what
    assert "Repeated spam links" in _html(attempts["reply"])
    assert "Still here." in _html(attempts["reply"])  # the refused form keeps the text
    assert not Post.objects.filter(author=w.member, body__contains="Still here").exists()
    assert not Reaction.objects.filter(user=w.member).exists()
    assert not Report.objects.filter(reporter=w.member).exists()
    assert not Thread.objects.filter(title="A brand new thread").exists()
    # Report links and reaction buttons are not offered.
    html = _html(client.get(w.thread.get_absolute_url() + "?page=1"))
    assert f'href="/p/{target.pk}/report/" hidden' in html
    assert 'data-kind="like" data-count="0"' in html and "disabled" in html
    # Lifting restores posting at once.
    moderation.lift_suspension(w.mod_a, w.member, reason="Appeal accepted")
    assert client.post(f"/t/{w.thread.pk}/reply/", {"body": "Back again."}).status_code == 302


def test_silenced_member_cannot_start_or_reply_but_may_react_until_lifted():
    """5.5: silence (cannot start threads or reply for a period); lift."""
    w = make_world()
    moderation.silence_member(
        w.mod_a, w.member, until=timezone.now() + timedelta(days=1), reason="Cool down"
    )
    client = client_for(w.member)
    reply = client.post(f"/t/{w.thread.pk}/reply/", {"body": "Let me answer."})
    start = client.post(
        f"/b/{w.board_a.slug}/new/", {"title": "Another new thread", "body": "Hello."}
    )
    for response in (reply, start):
        assert response.status_code == 403
        assert "You are silenced until" in _html(response) and "Cool down" in _html(response)
    assert client.post(f"/p/{w.replies[1].pk}/react/", {"kind": "thanks"}).status_code == 302
    assert Reaction.objects.filter(user=w.member, kind="thanks").exists()
    moderation.lift_silence(w.mod_a, w.member)
    assert client.post(f"/t/{w.thread.pk}/reply/", {"body": "Let me answer."}).status_code == 302


def test_approving_and_declining_sign_ups_are_logged_moderator_actions():
    """5.5/5.6: approve or decline pending sign-ups; both are moderator actions in the log,
    with before and after, found by the log's action and member filters."""
    w = make_world()
    hopeful, spammer = make_member(approved=False), make_member(approved=False)
    staff = client_for(w.staff)
    for member, decision in ((hopeful, "approve"), (spammer, "decline")):
        url = reverse("members:decide", args=[member.pk])
        assert staff.post(url, {"decision": decision}).status_code == 302
    approved = ModerationAction.objects.get(action="approve_member")
    declined = ModerationAction.objects.get(action="decline_member")
    assert approved.actor == w.staff and approved.target_user == hopeful
    assert approved.before == {"membership_status": "pending"}
    assert approved.after == {"membership_status": "approved"}
    assert declined.target_user == spammer and declined.after == {"membership_status": "declined"}
    log = _html(staff.get(reverse("moderation:log"), {"action": "approve_member"}))
    assert f'id="log-{approved.pk}"' in log and f'id="log-{declined.pk}"' not in log
    assert "membership status:</span> pending → approved" in log
    log = _html(staff.get(reverse("moderation:log"), {"member": spammer.username}))
    assert f'id="log-{declined.pk}"' in log and f'id="log-{approved.pk}"' not in log
    page = _html(staff.get(reverse("moderation:member", args=[hopeful.username])))
    assert "approve member" in page
    # A second click changes nothing and logs nothing.
    staff.post(reverse("members:decide", args=[hopeful.pk]), {"decision": "approve"})
    assert ModerationAction.objects.filter(action="approve_member").count() == 1


# ---------------------------------------------------------------- 5.2 thread tools


def test_moved_thread_old_links_work_and_old_board_no_longer_lists_it():
    """5.2: move: old links lead to the thread; the new board's permission applies at once."""
    w = make_world()
    group = make_group("Counselors", w.mod_a, w.author)
    w.board_c.visibility = Visibility.GROUPS
    w.board_c.save()
    w.board_c.visible_groups.set([group])
    post = w.replies[2]
    old_links = [w.thread.get_absolute_url(), f"/t/{w.thread.pk}/", f"/p/{post.pk}/"]
    moderation.move_thread(w.mod_a, w.thread, board=w.board_c, reason="Counselors only")
    insider = client_for(w.author)
    for url in old_links:
        response = insider.get(url, follow=True)
        assert response.status_code == 200 and "Welding pathway funding" in _html(response), url
        assert response.context["board"] == w.board_c
    for url in old_links:
        assert client_for(w.member).get(url).status_code == 404, url
    old_board = _html(client_for(w.author).get(w.board_a.get_absolute_url()))
    assert "Welding pathway funding" not in old_board
    refused = client_for(w.member).post(f"/t/{w.thread.pk}/reply/", {"body": "Can I?"})
    assert refused.status_code == 404
    assert not Post.objects.filter(body="Can I?").exists()


def test_split_and_merge_pages_offer_only_what_the_moderator_may_do():
    """5.2/5.1: split and merge through the pages; a board moderator cannot merge into a
    thread of a board they do not moderate, and other moderators cannot open the pages."""
    w = make_world()
    split_url = reverse("moderation:thread_split", args=[w.thread.pk])
    assert client_for(w.mod_b).get(split_url).status_code == 403
    response = client_for(w.mod_a).post(
        split_url,
        {"title": "Funding questions", "posts": [w.replies[1].pk, w.replies[3].pk]},
    )
    assert response.status_code == 302
    new = Thread.objects.get(title="Funding questions")
    assert [(p.number, p.author_id) for p in new.posts.order_by("number")] == [
        (1, w.author.pk),
        (2, w.author.pk),
    ]
    assert [p.body for p in new.posts.order_by("number")] == ["Reply 2 body", "Reply 4 body"]
    foreign = make_thread(w.board_b, w.author, title="Board B thread")
    merge_url = reverse("moderation:thread_merge", args=[new.pk])
    refused = client_for(w.mod_a).post(merge_url, {"target": str(foreign.pk)})
    assert refused.status_code == 400
    assert Thread.objects.get(pk=new.pk).merged_into_id is None
    ok = client_for(w.mod_a).post(merge_url, {"target": w.thread.get_absolute_url()})
    assert ok.status_code == 302
    bodies = list(w.thread.posts.order_by("number").values_list("body", flat=True))
    assert bodies[-2:] == ["Reply 2 body", "Reply 4 body"]


# ---------------------------------------------------------------- 5.3 post tools


def test_hidden_post_reason_shown_to_author_and_moderators_others_see_it_was_hidden():
    """5.3: hide with a reason: the author and moderators see it, marked, with the reason;
    others (members, visitors, moderators of other boards) see only that a post was hidden."""
    w = make_world()
    post = w.replies[1]  # by w.author
    moderation.hide_post(w.mod_a, post, reason="Personal details of a student")
    url = w.thread.get_absolute_url() + "?page=1"
    for viewer in (w.author, w.mod_a, w.staff):
        html = _html(client_for(viewer).get(url))
        assert "Reply 2 body" in html and "Personal details of a student" in html
        assert "Hidden by a moderator" in html
    for viewer in (w.member, w.mod_b, None):
        html = _html(client_for(viewer).get(url))
        assert "Reply 2 body" not in html and "Personal details" not in html
        assert "This post was hidden by a moderator." in html


def test_moderator_edit_reason_is_kept_in_the_history_page():
    """5.3: edit with a reason, kept in the revision history (and shown on its page)."""
    w = make_world()
    post = w.replies[0]
    response = client_for(w.mod_a).post(
        reverse("moderation:post_edit", args=[post.pk]),
        {"body": "Reply 1 body, without the phone number.", "reason": "Removed phone number"},
    )
    assert response.status_code == 302
    history = _html(client_for(w.member).get(f"/p/{post.pk}/history/"))
    assert "Removed phone number" in history
    assert "+Reply 1 body, without the phone number." in history
    assert "-Reply 1 body" in history


# ---------------------------------------------------------------- 5.4 reports


def test_report_queue_item_shows_the_post_in_context_and_resolving_tells_every_reporter():
    """5.4: the queue item links the post in its thread (its page and anchor), and resolving
    closes the item and notifies every reporter."""
    w = make_world()
    post = w.replies[3]
    a, b = make_member(), make_member()
    moderation.report_post(a, post, reason="spam")
    moderation.report_post(b, post, reason="other", text="Selling textbooks")
    queue = _html(client_for(w.mod_a).get(reverse("moderation:queue")))
    assert f'href="/p/{post.pk}/"' in queue and w.thread.title in queue
    assert "Selling textbooks" in queue and "Reply 4 body" in queue
    location = client_for(w.mod_a).get(f"/p/{post.pk}/")["Location"]
    assert location.endswith(f"#post-{post.pk}")
    response = client_for(w.mod_a).post(
        reverse("moderation:resolve", args=[post.pk]),
        {"resolution": "hide", "reason": "Advertising"},
    )
    assert response.status_code == 302
    assert "No open reports" in _html(client_for(w.mod_a).get(reverse("moderation:queue")))
    for reporter in (a, b):
        assert reporter.notifications.filter(kind="report_resolved", post=post).exists()
    assert not Report.objects.filter(post=post, resolved_at__isnull=True).exists()


def test_auto_hide_counts_established_members_not_newcomers_nor_repeat_reports(settings):
    """5.4: hidden at three established members (configurable); newcomers do not count."""
    w = make_world()
    post = w.replies[0]
    joined = timezone.now() - timedelta(days=settings.FORUM["NEW_MEMBER_DAYS"] + 1)
    veterans = [
        make_member(date_joined=joined, post_count=settings.FORUM["NEW_MEMBER_POSTS"])
        for _ in range(2)
    ]
    newcomers = [make_member() for _ in range(3)]
    for reporter in veterans + newcomers:
        moderation.report_post(reporter, post, reason="spam")
    post.refresh_from_db()
    assert post.is_visible  # 2 established + 3 new members: below the threshold
    third = make_member(date_joined=joined, post_count=settings.FORUM["NEW_MEMBER_POSTS"])
    moderation.report_post(third, post, reason="harassment")
    post.refresh_from_db()
    assert post.is_hidden and post.hidden_by_id is None
    html = _html(client_for(w.author).get(w.thread.get_absolute_url() + "?page=1"))
    assert "This post was hidden by a moderator." in html  # others no longer read it
    assert "Reply 1 body" not in html


def test_report_counts_for_moderator_menu_cover_only_their_boards():
    """5.4: the number of open reports on the moderator's menu counts posts (queue items) in
    the boards they moderate."""
    w = make_world()
    moderation.report_post(w.member, w.replies[1], reason="spam")
    moderation.report_post(w.author, w.replies[0], reason="spam")
    moderation.report_post(make_member(), w.replies[0], reason="off_topic")
    b_thread = make_thread(w.board_b, w.author, title="Board B topic")
    moderation.report_post(w.member, b_thread.posts.get(number=1), reason="spam")
    assert moderation.open_report_count(w.mod_a) == 2
    assert moderation.open_report_count(w.mod_b) == 1
    assert moderation.open_report_count(w.staff) == 3
    assert moderation.open_report_count(w.member) == 0


# ---------------------------------------------------------------- 5.7 limits, every way in


def test_new_member_limit_holds_for_the_json_reply_and_says_when(settings, monkeypatch):
    """5.7: enforced in the action, so the editor's JSON reply (as well as the form and the
    preview, tests/security/test_limits.py) is refused with the time the member can post again;
    an established member is not limited at that rate."""
    from forum import limits

    monkeypatch.setattr(limits, "_now", lambda: 1_800_000_000.0 + 30)  # 30 s into a minute
    settings.FORUM = {
        **settings.FORUM,
        "RATE_LIMITS_ENABLED": True,
        "RATE_LIMITS": {**settings.FORUM["RATE_LIMITS"], "post_new": (1, 60)},
    }
    thread = make_thread(make_board(), make_member(), title="Open questions thread")
    client = client_for(make_member())
    url = f"/t/{thread.pk}/reply/"
    first = client.post(url, {"body": "First answer"}, HTTP_ACCEPT="application/json")
    assert first.status_code == 200 and first.json()["post_id"]
    refused = client.post(url, {"body": "Second answer"}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 429
    assert "You can post again in 30 seconds." in str(refused.json()["errors"])
    assert not Post.objects.filter(body="Second answer").exists()
    joined = timezone.now() - timedelta(days=settings.FORUM["NEW_MEMBER_DAYS"] + 1)
    veteran = make_member(date_joined=joined, post_count=settings.FORUM["NEW_MEMBER_POSTS"] + 1)
    veteran_client = client_for(veteran)
    for body in ("Veteran one", "Veteran two"):
        assert veteran_client.post(url, {"body": body}).status_code == 302

"""Fixes from the exploratory QA pass of 2026-12-06 (member and moderator flows in a browser):
each test reproduces what the pass found."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from forum import moderation, notifications
from forum.models import ModerationAction
from tests.conftest import client_for, make_board, make_member, make_staff, make_thread

pytestmark = pytest.mark.django_db


def test_a_suspended_moderator_loses_every_moderator_power():
    staff = make_staff("admin")
    mod = make_member("mod")
    maria = make_member("maria")
    board = make_board("Advocacy", moderators=[mod])
    thread = make_thread(board, maria, title="AB 2345 hearing", body="Tuesday.")
    moderation.lock_thread(mod, thread, reason="")
    entry = ModerationAction.objects.get(action="lock_thread")
    client = client_for(mod)
    for url in ("/mod/", "/mod/log/", "/mod/u/maria/"):
        assert client.get(url).status_code == 200, url

    moderation.suspend_member(
        staff, mod, until=timezone.now() + timedelta(days=3), reason="Cooling off"
    )
    for url in ("/mod/", "/mod/log/", "/mod/u/maria/"):
        assert client.get(url).status_code == 403, url
    until = (timezone.localdate() + timedelta(days=5)).isoformat()
    response = client.post("/mod/u/maria/silence/", {"until": until, "reason": "Spam"})
    assert response.status_code == 403
    maria.refresh_from_db()
    assert not maria.is_silenced
    assert client.post(f"/mod/log/{entry.pk}/undo/").status_code == 403
    assert client.post(f"/t/{thread.pk}/mod/unlock/", {"reason": ""}).status_code == 403
    thread.refresh_from_db()
    assert thread.is_locked
    # No moderator's share of the bell or the inbox either, and still a reader of the board.
    mod.refresh_from_db()
    assert (
        notifications.unread_count(mod)
        == notifications.inbox_queryset(mod).filter(is_read=False).count()
    )
    assert client.get(thread.get_absolute_url()).status_code == 200

    moderation.lift_suspension(staff, mod)
    assert client.get("/mod/").status_code == 200


def test_suspension_and_silence_ends_are_shown_in_the_sites_time_zone():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    staff = make_staff("admin")
    maria = make_member("maria")
    la = ZoneInfo("America/Los_Angeles")
    year = timezone.localdate().year + 1
    moderation.silence_member(
        staff, maria, until=datetime(year, 12, 25, 23, 59, tzinfo=la), reason="Heated"
    )
    board = make_board("Networking")
    thread = make_thread(board, make_member("james"))
    page = client_for(maria).get(thread.get_absolute_url()).content.decode()
    assert f"You are silenced until December 25, {year} 11:59 PM PST." in page
    moderation.suspend_member(
        staff, maria, until=datetime(year, 7, 4, 9, 30, tzinfo=la), reason="Cooling off"
    )
    page = client_for(maria).get(thread.get_absolute_url()).content.decode()
    assert f"Your account is suspended until July 4, {year} 9:30 AM PDT." in page


def test_a_declined_member_is_not_told_to_wait_for_approval():
    from accounts.models import MembershipStatus

    board = make_board("Networking")
    thread = make_thread(board, make_member("james"))
    declined = make_member("newbie", approved=False)
    declined.membership_status = MembershipStatus.DECLINED
    declined.save()
    page = client_for(declined).get(thread.get_absolute_url()).content.decode()
    assert "declined" in page and "awaiting approval" not in page
    pending = make_member("newbie2", approved=False)
    page = client_for(pending).get(thread.get_absolute_url()).content.decode()
    assert "awaiting approval" in page


def test_a_post_link_lands_on_that_post_for_a_member_with_unread_posts():
    from forum import actions

    author, reader = make_member("james"), make_member("dana")
    thread = make_thread(make_board("Networking"), author, body="One.")
    second = actions.reply_to_thread(author, thread, body="Two.").post
    actions.mark_read(reader, thread, 1)
    actions.reply_to_thread(author, thread, body="Three.")
    client = client_for(reader)
    location = client.get(f"/p/{second.pk}/")["Location"]
    assert location.endswith(f"#post-{second.pk}")
    page = client.get(location.split("#")[0])
    assert page.status_code == 200, page.get("Location")  # not sent on to the first unread
    assert f'id="post-{second.pk}"' in page.content.decode()


def test_a_short_thread_link_keeps_its_page():
    author = make_member("james")
    thread = make_thread(make_board("Networking"), author)
    response = client_for(make_member("dana")).get(f"/t/{thread.pk}/?page=1")
    assert response["Location"] == f"{thread.get_absolute_url()}?page=1"


def _selected(html: str, select_id: str) -> list[str]:
    import re

    select = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="(\w+)" selected>', select)


def test_the_notification_dropdowns_show_the_members_level():
    from forum import actions

    maria, james = make_member("maria"), make_member("james")
    board = make_board("Advocacy")
    thread = make_thread(board, james, title="AB 2345 hearing")
    client = client_for(maria)
    # Never chosen: shown as Normal, which is how she is notified.
    assert _selected(client.get(thread.get_absolute_url()).content.decode(), "thread-watch") == [
        "normal"
    ]
    assert _selected(client.get(board.get_absolute_url()).content.decode(), "board-watch") == [
        "normal"
    ]
    for level in ("watching", "muted", "normal"):
        client.post(f"/b/{board.slug}/watch/", {"level": level})
        html = client.get(board.get_absolute_url()).content.decode()
        assert _selected(html, "board-watch") == [level]
        client.post(f"/t/{thread.pk}/watch/", {"level": level})
        html = client.get(thread.get_absolute_url() + "?page=1").content.decode()
        assert _selected(html, "thread-watch") == [level]
    # Another member's choice is not hers.
    actions.set_board_watch(james, board, "muted")
    html = client.get(board.get_absolute_url()).content.decode()
    assert _selected(html, "board-watch") == ["normal"]


def test_moderation_notifications_name_no_moderator_and_no_unseen_board():
    from forum.models import Notification, Visibility

    mod = make_member("mod", display_name="Priya Raman")
    james = make_member("james", display_name="James Chen")
    board = make_board("Networking", moderators=[mod])
    room = make_board("Board Room", visibility=Visibility.GROUPS, moderators=[mod])
    thread = make_thread(board, james, title="Regional meetups")
    moderation.lock_thread(mod, thread, reason="")
    moderation.move_thread(mod, thread, board=room, reason="")
    notes = list(Notification.objects.filter(recipient=james, kind="moderation"))
    assert len(notes) == 2 and all(n.actor_id is None for n in notes)
    texts = sorted(n.text for n in notes)
    assert texts[0].startswith("A moderator locked your thread")
    assert "moved your thread to a board you cannot see" in texts[1]
    assert "Board Room" not in " ".join(texts)
    inbox = client_for(james).get("/notifications/").content.decode()
    assert "Priya" not in inbox and ">PR<" not in inbox and "Board Room" not in inbox


def test_read_only_pages_answer_head_like_get():
    board = make_board("Networking")
    thread = make_thread(board, make_member("james"))
    client = client_for()
    for url in (
        "/",
        board.get_absolute_url(),
        thread.get_absolute_url(),
        "/search/?q=cte",
        "/healthz",
        "/accounts/login/",
    ):
        assert client.head(url).status_code == 200, url


def test_mention_autocomplete_suggests_only_listed_members():
    make_member("newteach", approved=False)
    make_member("newton")
    results = client_for(make_member("maria")).get("/api/members/?q=new").json()["results"]
    assert [r["username"] for r in results] == ["newton"]


def test_password_help_is_inside_the_element_the_field_points_to():
    import re

    html = client_for().get("/accounts/signup/").content.decode()
    described = re.search(r'<input type="password" name="password1"[^>]*>', html).group(0)
    help_id = re.search(r'aria-describedby="([^"]+)"', described).group(1)
    block = re.search(rf'<div class="help muted" id="{help_id}">(.*?)</div>', html, re.S)
    assert block and "<li>" in block.group(1)


def test_moderation_notifications_name_no_thread_the_member_may_not_see():
    from forum.models import Notification, Visibility
    from tests.conftest import make_group, make_reply

    mod, maria, tomas = make_member("mod"), make_member("maria"), make_member("tomas")
    group = make_group("Board members", mod)
    public = make_board("Networking", moderators=[mod])
    room = make_board("Board Room", visibility=Visibility.GROUPS, groups=[group], moderators=[mod])
    thread = make_thread(public, maria, title="Meetup plans")
    moderation.move_thread(mod, thread, board=room)
    moderation.rename_thread(mod, thread, title="RENAMEDSECRET budget talks")
    source = make_thread(public, mod, title="Open questions")
    reply = make_reply(source, tomas, "A reply that moves")
    moderation.split_thread(
        mod, source, post_ids=[reply.pk], title="SPLITSECRET follow-up", board=room
    )
    texts = " ".join(Notification.objects.filter(kind="moderation").values_list("text", flat=True))
    assert "renamed your thread" in texts and "moved your post" in texts
    assert "RENAMEDSECRET" not in texts and "SPLITSECRET" not in texts
    assert "Meetup plans" not in texts  # moved where she cannot follow: no title at all


def test_a_sign_up_awaiting_approval_reads_what_a_visitor_reads():
    from accounts.models import MembershipStatus
    from forum.models import Visibility

    james = make_member("james", organisation="Fresno Unified")
    lounge = make_board("Members lounge", visibility=Visibility.MEMBERS)
    secret = make_thread(lounge, james, title="LOUNGETITLE budget gossip")
    public = make_board("Networking")
    make_thread(public, james, title="Open to all")
    for status in (MembershipStatus.PENDING, MembershipStatus.DECLINED):
        newbie = make_member(f"newbie-{status}", approved=False)
        newbie.membership_status = status
        newbie.save()
        client = client_for(newbie)
        assert client.get(public.get_absolute_url()).status_code == 200
        assert client.get(lounge.get_absolute_url()).status_code == 404
        assert client.get(secret.get_absolute_url()).status_code == 404
        assert "LOUNGETITLE" not in client.get("/search/?q=gossip").content.decode()
        assert "LOUNGETITLE" not in client.get("/").content.decode()
        directory = client.get("/members/")
        assert directory.status_code == 403
        assert "once staff approve" in directory.content.decode()
        assert client.get("/u/james/").status_code == 404
        assert client.get(f"/u/{newbie.username}/").status_code == 200  # their own
    # Approved: the members' board, the directory and profiles open.
    newbie.membership_status = MembershipStatus.APPROVED
    newbie.save()
    client = client_for(newbie)
    assert client.get(lounge.get_absolute_url()).status_code == 200
    assert client.get("/members/").status_code == 200
    assert client.get("/u/james/").status_code == 200
    # A pending sign-up's profile is for staff and themselves, not for members.
    pending = make_member("pendy", approved=False)
    assert client_for(james).get("/u/pendy/").status_code == 404
    assert client_for(make_staff("admin")).get("/u/pendy/").status_code == 200
    assert client_for(pending).get("/u/pendy/").status_code == 200


def test_mentions_link_only_members_the_directory_lists():
    from forum.actions import render_post_body

    make_member("pendy", approved=False)
    make_member("listed")
    html = render_post_body("Hello @pendy and @listed")
    assert 'href="/u/listed/"' in html and 'href="/u/pendy/"' not in html


def test_the_author_cannot_read_a_removed_post_through_its_history():
    from forum import actions

    mod, james = make_member("mod"), make_member("james")
    board = make_board("Networking", moderators=[mod])
    thread = make_thread(board, james)
    post = actions.reply_to_thread(james, thread, body="DELETEDBODY first words").post
    actions.edit_post(james, post, body="DELETEDBODY second words")
    client = client_for(james)
    assert client.get(f"/p/{post.pk}/history/").status_code == 200
    moderation.delete_post(mod, post, reason="Off topic")
    response = client.get(f"/p/{post.pk}/history/")
    assert response.status_code == 404 and b"DELETEDBODY" not in response.content
    assert client_for(mod).get(f"/p/{post.pk}/history/").status_code == 200


def test_a_thread_merged_into_a_private_one_does_not_name_it():
    from forum.models import Visibility
    from tests.conftest import make_group

    mod, james, insider = make_member("mod"), make_member("james"), make_member("insider")
    group = make_group("Board members", mod, insider)
    public = make_board("Networking", moderators=[mod])
    room = make_board("Board Room", visibility=Visibility.GROUPS, groups=[group], moderators=[mod])
    source = make_thread(public, james, title="Agenda ideas")
    target = make_thread(room, mod, title="Draft agenda")
    moderation.merge_threads(mod, source, target)
    for who in (None, james):
        response = client_for(who).get(f"/t/{source.pk}/")
        assert response.status_code == 404 and str(target.pk) not in response.get("Location", "")
    assert client_for(insider).get(f"/t/{source.pk}/")["Location"] == f"/t/{target.pk}/"


def test_the_log_shows_a_moderator_of_one_board_nothing_of_a_private_one():
    from forum.models import Visibility
    from tests.conftest import make_group, make_reply

    staff, netmod, james = make_staff("admin"), make_member("netmod"), make_member("james")
    group = make_group("Board members")
    public = make_board("Networking", moderators=[netmod])
    room = make_board("Board Room", visibility=Visibility.GROUPS, groups=[group])
    source = make_thread(public, james, title="Open questions")
    reply = make_reply(source, james, "A reply that moves")
    moderation.lock_thread(netmod, source, reason="")
    moderation.split_thread(
        staff, source, post_ids=[reply.pk], title="SPLITSECRET follow-up", board=room
    )
    moved = make_thread(public, james, title="MOVEDSECRET plans")
    moderation.pin_thread(netmod, moved, reason="")
    moderation.move_thread(staff, moved, board=room)
    moderation.rename_thread(staff, moved, title="RENAMEDSECRET plans")
    client = client_for(netmod)
    for url in ("/mod/log/", f"/mod/log/?board={public.pk}", "/mod/u/james/"):
        html = client.get(url).content.decode()
        for secret in ("SPLITSECRET", "MOVEDSECRET", "RENAMEDSECRET", "Board Room"):
            assert secret not in html, (url, secret)
    assert "a board you cannot see" in client.get("/mod/log/").content.decode()
    html = client_for(staff).get("/mod/log/").content.decode()
    assert "SPLITSECRET" in html and "Board Room" in html and "RENAMEDSECRET" in html
    # Undo of another board's entry answers like a missing one.
    entry = ModerationAction.objects.filter(board=room).first()
    assert client.post(f"/mod/log/{entry.pk}/undo/").status_code == 404
    assert client.post("/mod/log/999999/undo/").status_code == 404


def test_a_reply_refused_by_a_lock_says_so_once_and_keeps_the_text():
    mod, maria = make_member("mod"), make_member("maria")
    board = make_board("Networking", moderators=[mod])
    thread = make_thread(board, make_member("james"))
    moderation.lock_thread(mod, thread, reason="")
    response = client_for(maria).post(f"/t/{thread.pk}/reply/", {"body": "Typed before the lock"})
    html = response.content.decode()
    assert response.status_code == 403
    assert "Typed before the lock" in html
    shown = [
        chunk
        for chunk in html.split("<p")
        if "This thread is locked: no new replies." in chunk and " hidden>" not in chunk
    ]
    assert len(shown) == 1, shown


def test_moderator_pages_answer_head_too():
    staff = make_staff("admin")
    make_member("maria")
    client = client_for(staff)
    for url in ("/mod/", "/mod/log/", "/mod/u/maria/", "/notifications/settings/"):
        assert client.head(url).status_code == 200, url


def test_the_report_queue_offers_no_delete_for_a_deleted_post():
    from forum import actions

    mod, james, maria = make_member("mod"), make_member("james"), make_member("maria")
    board = make_board("Networking", moderators=[mod])
    thread = make_thread(board, james)
    post = actions.reply_to_thread(james, thread, body="Reported, then removed").post
    moderation.report_post(maria, post, reason="spam", text="")
    client = client_for(mod)
    assert 'value="delete"' in client.get("/mod/").content.decode()
    actions.delete_own_post(james, post)
    html = client.get("/mod/").content.decode()
    assert "Reported, then removed" in html or "Deleted" in html
    assert 'value="delete"' not in html

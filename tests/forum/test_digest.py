"""The daily digest: `manage.py send_digest`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from forum import notifications
from forum.models import Notification, NotificationKind, Visibility
from tests.conftest import make_board, make_group, make_member, make_reply, make_thread

K = NotificationKind
pytestmark = pytest.mark.django_db


def run_digest() -> str:
    out = StringIO()
    call_command("send_digest", stdout=out)
    return out.getvalue()


def test_send_digest_sends_one_email_per_member_and_marks_emailed(thread, member, other_member):
    make_reply(thread, other_member, "First reply <b>here</b>")
    make_thread(thread.board, other_member, title="Question for Maria", body="Hello @maria")
    assert run_digest().strip() == "Sent 1 digest."
    assert len(mail.outbox) == 1
    msg = mail.outbox[0]
    assert msg.to == [member.email]
    assert "2 unread notifications" in msg.subject
    assert f"{other_member.name} replied to" in msg.body
    assert f"{other_member.name} mentioned you in “Question for Maria”" in msg.body
    html = msg.alternatives[0][0]
    assert "<b>here</b>" not in html and "First reply &lt;b&gt;here" in html
    assert not Notification.objects.filter(recipient=member, emailed_at__isnull=True).exists()


def test_send_digest_second_run_same_day_sends_nothing(thread, member, other_member):
    make_reply(thread, other_member, "First reply")
    run_digest()
    make_reply(make_thread(thread.board, member, title="Another thread"), other_member, "Again")
    assert run_digest().strip() == "Sent 0 digests."
    assert len(mail.outbox) == 1


def test_send_digest_next_day_sends_only_new_items(thread, member, other_member):
    make_reply(thread, other_member, "First reply")
    run_digest()
    new_thread = make_thread(thread.board, member, title="Tomorrow's topic")
    make_reply(new_thread, other_member, "Next day reply")
    member.refresh_from_db()
    prefs = dict(member.notification_prefs)
    prefs[notifications.DIGEST_SENT_ON] = "2000-01-01"
    type(member).objects.filter(pk=member.pk).update(notification_prefs=prefs)
    run_digest()
    assert len(mail.outbox) == 2
    assert "Tomorrow's topic" in mail.outbox[1].body
    assert thread.title not in mail.outbox[1].body


def test_send_digest_skips_read_and_already_emailed(
    thread, member, other_member, django_capture_on_commit_callbacks
):
    notifications.update_preferences(member, {K.REPLY: "email"})
    with django_capture_on_commit_callbacks(execute=True):
        make_reply(thread, other_member, "Mailed at once")
    assert len(mail.outbox) == 1
    lee = make_member("lee")
    make_reply(make_thread(thread.board, lee), other_member, "Read already")
    notifications.mark_all_read(lee)
    assert run_digest().strip() == "Sent 0 digests."
    assert len(mail.outbox) == 1


def test_send_digest_respects_opt_out(thread, member, other_member):
    notifications.update_preferences(member, {}, digest=False)
    make_reply(thread, other_member, "A reply")
    assert run_digest().strip() == "Sent 0 digests."
    assert Notification.objects.get(recipient=member).emailed_at is None


def test_send_digest_leaves_out_threads_member_can_no_longer_see(db):
    insider = make_member("insider")
    group = make_group("Council", insider)
    board = make_board("Council", visibility=Visibility.GROUPS, groups=[group])
    thread = make_thread(board, insider, title="Council business")
    make_reply(thread, make_member("other", is_staff=True), "A reply")
    group.user_set.remove(insider)
    assert run_digest().strip() == "Sent 0 digests."
    assert mail.outbox == []


def test_send_digest_failed_send_retries_next_run(thread, member, other_member, monkeypatch):
    make_reply(thread, other_member, "A reply")

    def broken(self, messages):  # noqa: ANN001
        raise OSError("SMTP down")

    from django.core.mail.backends.locmem import EmailBackend

    monkeypatch.setattr(EmailBackend, "send_messages", broken)
    assert run_digest().strip() == "Sent 0 digests."
    assert Notification.objects.get(recipient=member).emailed_at is None
    monkeypatch.undo()
    assert run_digest().strip() == "Sent 1 digest."

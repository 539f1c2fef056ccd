"""Audit of issue 7 (and 6.7) against the code: the clauses that earlier tests only covered by
calling a helper directly, now proved through the doors a person or an attacker really uses.

- Sessions (7.3): sign-out, password change, password reset, suspension, deactivation and a
  staff password change in the admin, each through its real view or action, close the member's
  open sockets within 5 seconds, end the server-side sessions, and let no private event through
  once the door has answered.
- Abuse caps (7.7): reports, uploads and socket messages refused through their real doors with a
  message saying when to try again; what happens to each when Redis is down; reading with both
  the cache and the channel layer down.
- No existence oracles (7.5): members whose rights are reduced (pending, suspended) get the same
  URL-matrix answers as anonymous visitors; feeds and listings show nothing private.
- Open redirects (6.7): the moderators' `next` parameter never leaves the site.
"""

from __future__ import annotations

import io
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from PIL import Image

from accounts.models import MembershipStatus
from forum import limits, moderation
from forum.models import Report, Visibility
from realtime import consumers
from tests.conftest import (
    PASSWORD,
    client_for,
    make_board,
    make_member,
    make_reply,
    make_staff,
    make_thread,
)
from tests.realtime.conftest import Socket, connect, db, run
from tests.security.test_existence_oracles import (  # noqa: F401 (world is a fixture)
    SECRET_WORD,
    SKIP,
    _answer,
    _url,
    routes,
    world,
)

ROOT = Path(settings.BASE_DIR)
NEW_PASSWORD = "a-new-Passw0rd-for-carocp"
CLOSE_WITHIN = 5.0  # seconds: the bound for closing a cut-off member's sockets


# ---------------------------------------------------------------- sockets of a session


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def _socket_of(client: Client) -> Socket:
    """A socket carrying this browser's session cookie (the way a tab of that browser opens it)."""
    cookie = f"{settings.SESSION_COOKIE_NAME}={_session_key(client)}"
    connected, sock = await connect(headers=[(b"cookie", cookie.encode())])
    assert connected, f"handshake refused: {sock}"
    return sock


async def _frames_until_closed(sock: Socket, timeout: float = CLOSE_WITHIN) -> list[dict]:
    """Every frame up to the close; fails if the socket is still open after `timeout`."""
    loop = __import__("asyncio").get_running_loop()
    deadline = loop.time() + timeout
    frames = []
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"socket still open after {timeout}s: {frames}")
        try:
            frame = await sock.next(left)
        except TimeoutError:
            raise AssertionError(f"socket still open after {timeout}s: {frames}") from None
        frames.append(frame)
        if frame["type"] == "__closed__":
            return frames


def _private_events(frames: list[dict], member: Any) -> list[dict]:
    """Inbox events about the reply posted after the door answered. (A suspension notice is
    published in the same commit as the suspension, before the sockets are told: that one is
    allowed, it tells the member what happened.)"""
    inbox = f"inbox:{member.pk}"
    return [
        f
        for f in frames
        if f["type"] == "event"
        and f.get("stream") == inbox
        and f.get("data", {}).get("kind") != "moderation"
    ]


def _mention_member(thread: Any, author: Any, member: Any) -> None:
    """A reply that tells `member` (author of the thread, and @mentioned): an inbox event."""
    make_reply(thread, author, f"@{member.username} here is the budget item I promised.")


@pytest.fixture
def people(transactional_db):
    member, other, staff = make_member(), make_member(), make_staff()
    board = make_board(visibility=Visibility.MEMBERS)
    thread = make_thread(board, member, title="Advisory committee minutes")
    return {"member": member, "other": other, "staff": staff, "thread": thread}


def test_sign_out_view_closes_socket_and_no_private_event_follows(people):
    member, other, thread = people["member"], people["other"], people["thread"]

    async def main():
        browser = await db(_signed_in)(member)
        sock = await _socket_of(browser)
        assert (await sock.subscribe(f"inbox:{member.pk}"))["type"] == "subscribed"
        key = _session_key(browser)

        def sign_out_then_reply():
            assert browser.post("/accounts/logout/").status_code == 302
            # Someone replies right after: the signed-out socket must not get the inbox event.
            _mention_member(thread, other, member)

        await db(sign_out_then_reply)()
        frames = await _frames_until_closed(sock)
        assert {"type": "closing", "code": 4001, "reason": "signed_out"} in frames
        assert frames[-1] == {"type": "__closed__", "code": consumers.CLOSE_SESSION_ENDED}
        assert _private_events(frames, member) == []
        assert not await db(Session.objects.filter(session_key=key).exists)()

    run(main)


def test_password_change_view_closes_sockets_and_ends_other_sessions(people):
    """Django gives the browser that changed the password a new session key, so its own socket
    (opened with the old key) closes too and reconnects with the new cookie; the other
    browser's session is deleted on the server and its socket gets nothing more."""
    member, other, thread = people["member"], people["other"], people["thread"]

    async def main():
        laptop, phone = await db(_signed_in)(member), await db(_signed_in)(member)
        laptop_sock, phone_sock = await _socket_of(laptop), await _socket_of(phone)
        for sock in (laptop_sock, phone_sock):
            assert (await sock.subscribe(f"inbox:{member.pk}"))["type"] == "subscribed"
        phone_key = _session_key(phone)

        def change_password_then_reply():
            response = laptop.post(
                "/accounts/password/change/",
                {
                    "old_password": PASSWORD,
                    "new_password1": NEW_PASSWORD,
                    "new_password2": NEW_PASSWORD,
                },
            )
            assert response.status_code == 302, response.content[:500]
            _mention_member(thread, other, member)

        await db(change_password_then_reply)()
        for sock in (phone_sock, laptop_sock):
            frames = await _frames_until_closed(sock)
            assert {"type": "closing", "code": 4001, "reason": "password_changed"} in frames
            assert _private_events(frames, member) == []
        # The phone's session is gone on the server, not merely refused on its next request.
        assert not await db(Session.objects.filter(session_key=phone_key).exists)()
        # The laptop goes on with its new cookie: its tab reconnects and gets its inbox.
        assert await db(lambda: laptop.get("/settings/profile/").status_code)() == 200
        again = await _socket_of(laptop)
        assert (await again.subscribe(f"inbox:{member.pk}"))["type"] == "subscribed"
        await db(_mention_member)(thread, other, member)
        assert (await again.expect("event", timeout=3))["stream"] == f"inbox:{member.pk}"
        await again.close()

    run(main)


def test_password_reset_view_ends_every_session_and_closes_sockets(people):
    member = people["member"]

    async def main():
        phone = await db(_signed_in)(member)
        sock = await _socket_of(phone)
        assert (await sock.subscribe(f"inbox:{member.pk}"))["type"] == "subscribed"
        phone_key = _session_key(phone)

        def reset_password():
            member.refresh_from_db()
            uid = urlsafe_base64_encode(force_bytes(member.pk))
            token = default_token_generator.make_token(member)
            browser = Client()
            response = browser.get(f"/accounts/password/reset/{uid}/{token}/", follow=True)
            form_url = response.redirect_chain[-1][0]
            response = browser.post(
                form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
            )
            assert response.status_code == 302

        await db(reset_password)()
        frames = await _frames_until_closed(sock)
        assert {"type": "closing", "code": 4001, "reason": "password_changed"} in frames
        assert not await db(Session.objects.filter(session_key=phone_key).exists)()

    run(main)


def test_suspension_closes_socket_and_no_private_event_follows(people):
    member, other, staff, thread = (people[k] for k in ("member", "other", "staff", "thread"))

    async def main():
        browser = await db(_signed_in)(member)
        sock = await _socket_of(browser)
        assert (await sock.subscribe(f"inbox:{member.pk}"))["type"] == "subscribed"

        def suspend_then_reply():
            response = _signed_in(staff).post(
                f"/mod/u/{member.username}/suspend/",
                {"reason": "Spam links in three boards", "indefinitely": "on"},
            )
            assert response.status_code == 302, response.content.decode()[:1500]
            member.refresh_from_db()
            assert member.is_suspended
            _mention_member(thread, other, member)

        await db(suspend_then_reply)()
        frames = await _frames_until_closed(sock)
        closing = [f for f in frames if f["type"] == "closing"]
        assert [(f["code"], f["reason"]) for f in closing] == [(4001, "suspended")]
        assert closing[0]["member"]["suspended"] and not closing[0]["member"]["may_post"]
        assert _private_events(frames, member) == []

    run(main)


class _FormFields(HTMLParser):
    """The values a browser would submit for the first form with a given id (admin pages)."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.data = form_id, False, {}
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.data.setdefault(name, []).append(a.get("value") or "on")
            elif kind not in ("submit", "button", "file", "image"):
                self.data[name] = a.get("value") or ""
        elif tag == "select" and name:
            self.select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self.select and "selected" in a:
            self.data[self.select].append(a.get("value") or "")
        elif tag == "textarea" and name:
            self.textarea = name
            self.data[name] = ""

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.data[self.textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def _admin_form(client: Client, url: str, form_id: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    parser = _FormFields(form_id)
    parser.feed(response.content.decode())
    assert parser.data, f"no form {form_id} on {url}"
    return parser.data


def test_deactivation_in_admin_closes_socket_within_five_seconds(people):
    member, other, thread = people["member"], people["other"], people["thread"]
    superuser = make_staff(is_superuser=True)

    async def main():
        browser = await db(_signed_in)(member)
        sock = await _socket_of(browser)
        assert (await sock.subscribe(f"inbox:{member.pk}"))["type"] == "subscribed"

        def deactivate_then_reply():
            admin = _signed_in(superuser)
            url = f"/admin/accounts/user/{member.pk}/change/"
            data = _admin_form(admin, url, "user_form")
            data.pop("is_active", None)  # untick "Active"
            response = admin.post(url, data)
            assert response.status_code == 302, re.findall(
                r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S
            )
            member.refresh_from_db()
            assert member.is_active is False
            _mention_member(thread, other, member)

        await db(deactivate_then_reply)()
        frames = await _frames_until_closed(sock)
        assert any(f.get("type") == "closing" and f.get("code") == 4001 for f in frames)
        assert _private_events(frames, member) == []

    run(main)


def test_group_removed_in_admin_drops_private_stream_at_once(transactional_db):
    from tests.conftest import make_group

    insider = make_member()
    group = make_group("Board members", insider)
    board = make_board(visibility=Visibility.GROUPS, groups=[group])
    thread = make_thread(board, insider, title="Budget item for CTE")
    superuser = make_staff(is_superuser=True)
    replier = make_staff()

    async def main():
        browser = await db(_signed_in)(insider)
        sock = await _socket_of(browser)
        assert (await sock.subscribe(f"thread:{thread.pk}"))["type"] == "subscribed"

        def remove_from_group():
            admin = _signed_in(superuser)
            url = f"/admin/accounts/user/{insider.pk}/change/"
            data = _admin_form(admin, url, "user_form")
            assert data.get("groups") == [str(group.pk)]
            data["groups"] = []
            assert admin.post(url, data).status_code == 302
            assert not insider.groups.exists()

        await db(remove_from_group)()
        closed = await sock.expect("error", timeout=CLOSE_WITHIN)
        assert closed["code"] == "stream_closed" and closed["stream"] == f"thread:{thread.pk}"
        told = await sock.expect("member", timeout=CLOSE_WITHIN)  # the account itself is fine
        assert told["member"]["may_post"] and not told["member"]["suspended"]
        await db(make_reply)(thread, replier, "Private follow-up on the budget item")
        await sock.nothing(0.5)  # nothing more from the private thread
        await sock.close()

    run(main)


def test_member_deleted_in_admin_loses_socket_and_private_stream(transactional_db):
    from tests.conftest import make_group

    insider = make_member()
    board = make_board(visibility=Visibility.GROUPS, groups=[make_group("Board members", insider)])
    superuser, replier = make_staff(is_superuser=True), make_staff()
    thread = make_thread(board, replier, title="Budget item for CTE")

    async def main():
        browser = await db(_signed_in)(insider)
        sock = await _socket_of(browser)
        assert (await sock.subscribe(f"thread:{thread.pk}"))["type"] == "subscribed"

        def delete_member_then_reply():
            admin = _signed_in(superuser)
            url = f"/admin/accounts/user/{insider.pk}/delete/"
            assert admin.post(url, {"post": "yes"}).status_code == 302
            assert not get_user_model().objects.filter(pk=insider.pk).exists()
            make_reply(thread, replier, "Private follow-up on the budget item")

        await db(delete_member_then_reply)()
        frames = await _frames_until_closed(sock)
        assert any(f.get("type") == "closing" and f.get("code") == 4001 for f in frames)
        assert not [f for f in frames if f["type"] == "event"], frames

    run(main)


def test_password_set_by_staff_in_admin_ends_sessions_and_closes_sockets(people):
    member = people["member"]
    superuser = make_staff(is_superuser=True)

    async def main():
        browser = await db(_signed_in)(member)
        sock = await _socket_of(browser)
        key = _session_key(browser)
        admin = await db(_signed_in)(superuser)

        def set_password():
            url = f"/admin/accounts/user/{member.pk}/password/"
            response = admin.post(
                url,
                {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
            )
            assert response.status_code == 302, response.content.decode()[:1500]
            member.refresh_from_db()
            assert member.check_password(NEW_PASSWORD)

        await db(set_password)()
        frames = await _frames_until_closed(sock)
        assert any(f.get("type") == "closing" and f.get("code") == 4001 for f in frames)
        assert not await db(Session.objects.filter(session_key=key).exists)()
        # the staff member stays signed in (Django gave their session a new key)
        assert await db(lambda: admin.get("/admin/").status_code)() == 200

    run(main)


def test_staff_changing_own_password_in_admin_stays_signed_in(db):
    superuser = make_staff(is_superuser=True)
    admin, other_browser = client_for(superuser), client_for(superuser)
    url = f"/admin/accounts/user/{superuser.pk}/password/"
    response = admin.post(
        url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )
    assert response.status_code == 302
    assert admin.get("/admin/").status_code == 200
    assert not Session.objects.filter(session_key=_session_key(other_browser)).exists()


# ---------------------------------------------------------------- abuse caps through their doors


def _established(**fields: Any) -> Any:
    from datetime import timedelta

    from django.utils import timezone

    return make_member(date_joined=timezone.now() - timedelta(days=30), post_count=50, **fields)


def test_report_view_rate_limited_with_time_to_retry(db, limits_on, clock):
    author, reporter = _established(), _established()
    thread = make_thread(make_board(), author)
    posts = []
    for n in range(11):
        posts.append(make_reply(thread, author, f"Reply number {n} about pathways"))
        clock.advance(15)  # under the posting limit
    client = client_for(reporter)
    count = limits.limit_for("report").count
    for post in posts[:count]:
        response = client.post(f"/p/{post.pk}/report/", {"reason": "spam", "text": ""})
        assert response.status_code == 302, response.content.decode()[:1500]
    refused = client.post(f"/p/{posts[count].pk}/report/", {"reason": "spam", "text": ""})
    assert refused.status_code == 429
    assert re.search(r"You can report again in \d+ minutes\.", refused.content.decode())
    assert Report.objects.filter(reporter=reporter).count() == count
    clock.advance(3600)
    again = client.post(f"/p/{posts[count].pk}/report/", {"reason": "spam", "text": ""})
    assert again.status_code == 302


def test_report_fails_open_when_cache_down(db, limits_on, cache_down):
    author, reporter = _established(), _established()
    thread = make_thread(make_board(), author)
    posts = [make_reply(thread, author, f"Reply number {n} about pathways") for n in range(11)]
    for post in posts:
        moderation.report_post(reporter, post, reason="spam")
    assert Report.objects.filter(reporter=reporter).count() == 11


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def test_upload_view_rate_limited_with_time_to_retry(db, limits_on, clock, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.FORUM = {
        **settings.FORUM,
        "RATE_LIMITS": {**settings.FORUM["RATE_LIMITS"], "upload": (2, 3600)},
    }
    client = client_for(_established())

    def upload():
        image = SimpleUploadedFile("photo.png", _png(), content_type="image/png")
        return client.post("/markdownx/upload/", {"image": image})

    assert upload().status_code == 200
    assert upload().status_code == 200
    refused = upload()
    assert refused.status_code == 429
    assert "You can upload again in 60 minutes" in refused.json()["image"][0]


def test_upload_fails_open_when_cache_down(db, limits_on, cache_down, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    client = client_for(_established())
    for _ in range(limits.limit_for("upload").count + 1):
        image = SimpleUploadedFile("photo.png", _png(), content_type="image/png")
        assert client.post("/markdownx/upload/", {"image": image}).status_code == 200


def test_socket_message_flood_refusal_says_when(transactional_db):
    async def main():
        connected, sock = await connect()
        assert connected
        for _ in range(int(consumers.RATE_BURST) + 3):
            await sock.send({"type": "ping"})
        while True:
            frame = await sock.next()
            if frame.get("code") == "rate_limited":
                break
        assert re.search(r"You can send again in \d+ seconds?\.", frame["message"]), frame
        await sock.close()

    run(main)


@pytest.fixture
def redis_down(settings, cache_down):
    """Cache and channel layer both pointing at a Redis nobody listens on."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def test_reading_and_posting_work_with_redis_down(db, limits_on, redis_down):
    author, reader = _established(), _established()
    board = make_board()
    thread = make_thread(board, author, title="Work-based learning placements")
    reply = make_reply(thread, author, f"@{reader.username} the placements list is ready.")
    client = client_for(reader)
    for url in (
        "/",
        f"/b/{board.slug}/",
        thread.get_absolute_url(),
        f"/p/{reply.pk}/",
        "/notifications/",
        "/search/?q=placements",
        f"/u/{author.username}/",
        "/members/",
    ):
        response = client.get(url)
        assert response.status_code in (200, 302), (url, response.status_code)
    for url in ("/", f"/b/{board.slug}/", thread.get_absolute_url(), "/search/?q=placements"):
        assert client_for().get(url).status_code == 200, url  # anonymous visitors too
    response = client.post(f"/t/{thread.pk}/reply/", {"body": "Thanks, I will share it today."})
    assert response.status_code == 302
    assert thread.posts.filter(author=reader).exists()


# ---------------------------------------------------------------- no existence oracles


@pytest.mark.parametrize("role", ["pending", "suspended", "declined"])
def test_private_objects_answer_like_missing_ones_for_reduced_members(world, role):  # noqa: F811
    """Members with reduced rights get the matrix answers of anonymous visitors and outsiders."""
    from django.utils import timezone

    user = make_member(f"{role}7")
    if role == "pending":
        user.membership_status = MembershipStatus.PENDING
    elif role == "declined":
        user.membership_status = MembershipStatus.DECLINED
    else:
        user.suspended_until = timezone.now() + timezone.timedelta(days=3)
    user.save()
    thread = world["thread"]
    differences, checked = [], 0
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
                    f"{method.upper()} {private_url}: {private[:2]} vs {missing[:2]}"
                )
    assert checked > 50
    assert not differences, "Existence oracles:\n" + "\n".join(differences)


@pytest.mark.parametrize("role", ["anonymous", "outsider"])
def test_feeds_and_listings_show_nothing_private(world, role):  # noqa: F811
    client = client_for(None if role == "anonymous" else world["outsider"])
    for url in ("/", "/new/", "/members/", "/search/?q=Budget", "/notifications/"):
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert SECRET_WORD not in html and "Budget plan" not in html, url
        assert "Insiders only" not in html, url
    insider = client_for(world["insider"])
    assert "Insiders only" in insider.get("/").content.decode()  # not vacuous


# ---------------------------------------------------------------- open redirects


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:alert(1)"],
)
def test_moderator_next_parameter_never_leaves_the_site(db, target):
    staff = make_staff()
    thread = make_thread(make_board(), make_member())
    response = client_for(staff).post(
        f"/t/{thread.pk}/mod/lock/?next={target}", {"reason": "", "next": target}
    )
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/") and not location.startswith("//"), location
    assert "evil" not in location and "javascript" not in location
    thread.refresh_from_db()
    assert thread.is_locked


def test_moderator_next_parameter_on_site_is_followed(db):
    staff = make_staff()
    thread = make_thread(make_board(), make_member())
    response = client_for(staff).post(
        f"/t/{thread.pk}/mod/lock/", {"reason": "", "next": "/mod/log/"}
    )
    assert response["Location"] == "/mod/log/"


# ---------------------------------------------------------------- foundation odds and ends


def test_make_run_host_and_port_override_the_address():
    result = subprocess.run(
        ["make", "-n", "run", "HOST=0.0.0.0", "PORT=8123"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "config.serve -b 0.0.0.0 -p 8123 config.asgi:application" in result.stdout
    assert "http://0.0.0.0:8123/" in result.stdout
    default = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True)
    assert "config.serve -b 127.0.0.1 -p 8000 config.asgi:application" in default.stdout


def test_signed_out_member_cannot_reuse_old_session_cookie(db):
    member = make_member()
    browser = client_for(member)
    key = _session_key(browser)
    browser.post("/accounts/logout/")
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = key
    assert thief.get("/settings/profile/").status_code == 302
    assert SESSION_KEY not in thief.session
    assert get_user_model().objects.filter(pk=member.pk, is_active=True).exists()


# ---------------------------------------------------------------- hostile names in emails


def test_email_subject_with_line_break_in_a_name_is_one_line_and_batch_is_sent(
    db, django_capture_on_commit_callbacks
):
    from django.core import mail

    from forum import notifications
    from forum.models import NotificationKind

    reader, other_reader = make_member(), make_member()
    # Set in the admin or older data: the forms collapse it, the email path must not depend on it.
    author = make_member(display_name='<svg onload="x">\nBcc: victim@example.org\r\nX')
    thread = make_thread(make_board(), reader, title="Webinar follow-up")
    for member in (reader, other_reader):
        notifications.update_preferences(member, {NotificationKind.MENTION: "email"})
    with django_capture_on_commit_callbacks(execute=True):
        make_reply(thread, author, f"@{reader.username} @{other_reader.username} slides attached")
    assert len(mail.outbox) == 2  # one bad subject used to stop the whole batch
    for message in mail.outbox:
        assert "\n" not in message.subject and "\r" not in message.subject
        assert message.message()["Bcc"] is None
        assert "Bcc: victim@example.org" in message.subject  # shown as text, not a header

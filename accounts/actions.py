"""Member journeys: sign up, sign in/out, profile, approval, sessions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, login, logout
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from .models import MembershipStatus


def sign_up(request: HttpRequest, form: Any) -> Any:
    user = form.save(commit=False)
    user.membership_status = (
        MembershipStatus.PENDING
        if settings.FORUM["MEMBERSHIP_APPROVAL"]
        else MembershipStatus.APPROVED
    )
    user.save()
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return user


def sign_out(request: HttpRequest) -> None:
    user = request.user
    logout(request)  # flushes the server-side session
    if getattr(user, "is_authenticated", False):
        from realtime.publish import disconnect_member

        disconnect_member(user.pk, reason="signed_out")


def end_other_sessions(user: Any, keep: str | None, *, reason: str = "password_changed") -> None:
    """After a password change or reset (or a deactivation): every other session of this
    member ends, on the server and in their open sockets."""
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.session_key == keep:
            continue
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
    from realtime.publish import disconnect_member

    disconnect_member(user.pk, reason=reason, keep_session=keep)


def update_profile(user: Any, form: Any) -> Any:
    """Save the profile form; a new avatar (already re-encoded by the form) replaces the old."""
    instance = form.save(commit=False)
    old_avatar = instance.avatar.name if instance.avatar else ""
    avatar = form.cleaned_data.get("avatar")
    if avatar:
        data, ext = avatar
        instance.avatar.save(f"avatar.{ext}", ContentFile(data), save=False)
    elif form.cleaned_data.get("remove_avatar"):
        instance.avatar = ""
    instance.save()
    if old_avatar and old_avatar != (instance.avatar.name or ""):
        instance.avatar.storage.delete(old_avatar)
    return instance


@transaction.atomic
def approve_member(staff: Any, member: Any) -> bool:
    """Approve a sign-up; returns False when nothing changed (already approved: a double click
    or a second staff member), so the member is told once."""
    from forum import notifications

    User = get_user_model()
    locked = User.objects.select_for_update().get(pk=member.pk)
    if locked.membership_status == MembershipStatus.APPROVED:
        return False
    before = locked.membership_status
    locked.membership_status = MembershipStatus.APPROVED
    locked.approved_at = timezone.now()
    locked.approved_by = staff
    locked.save(update_fields=["membership_status", "approved_at", "approved_by"])
    member.membership_status, member.approved_at = locked.membership_status, locked.approved_at
    member.approved_by = staff
    _log_decision(staff, locked, "approve_member", before)
    notifications.notify_membership_approved(locked, staff)
    return True


@transaction.atomic
def decline_member(staff: Any, member: Any) -> bool:
    """Decline a pending sign-up: the account can still read public boards but never post.
    An already approved member is not declined from this queue (suspend them instead)."""
    User = get_user_model()
    locked = User.objects.select_for_update().get(pk=member.pk)
    if locked.membership_status != MembershipStatus.PENDING:
        return False
    locked.membership_status = MembershipStatus.DECLINED
    locked.save(update_fields=["membership_status"])
    member.membership_status = locked.membership_status
    _log_decision(staff, locked, "decline_member", MembershipStatus.PENDING)
    return True


def _log_decision(staff: Any, member: Any, action: str, before: str) -> None:
    """Approving and declining sign-ups are moderator actions: they go in the moderation log."""
    from forum.moderation import log_action

    log_action(
        staff,
        action,
        target_user=member,
        before={"membership_status": str(before)},
        after={"membership_status": str(member.membership_status)},
    )


def _login_keys(request: HttpRequest, username: str) -> list[tuple[str, str, str]]:
    from forum import limits

    return [
        ("login_account", username.strip().lower(), "for this account"),
        ("login_address", limits.client_address(request), "from your network"),
    ]


def check_login_throttle(request: HttpRequest, username: str) -> None:
    """Raise ValidationError when sign-in is throttled: too many recent failures for this
    account name or from this address. FAILS CLOSED: when the cache (Redis) cannot be reached,
    nobody signs in, so a password guesser gets no free attempts during an outage."""
    from forum import limits

    if not limits.enabled():
        return
    try:
        for name, ident, where in _login_keys(request, username):
            wait = limits.peek(name, ident, limits.limit_for(name))
            if wait:
                raise ValidationError(
                    f"Too many failed sign-ins {where}. You can try again in "
                    f"{limits.wait_text(wait)}, or reset your password.",
                    code="throttled",
                )
    except limits.LimiterUnavailable:
        raise ValidationError(
            "Sign-in is temporarily unavailable. Please try again in a minute.",
            code="unavailable",
        )


def record_login_failure(request: HttpRequest, username: str) -> None:
    """Count a failed sign-in per account and per address (names that do not exist count the
    same, so the throttle tells nothing about which accounts exist)."""
    from forum import limits

    if not limits.enabled():
        return
    try:
        for name, ident, _where in _login_keys(request, username):
            limits.hit(name, ident, limits.limit_for(name))
    except limits.LimiterUnavailable:
        pass  # check_login_throttle already refuses every sign-in while the cache is down


def record_login_success(request: HttpRequest, username: str) -> None:
    """The account's failure count starts again (the address count does not: an attacker with
    an account of their own must not reset it between guesses at others)."""
    from forum import limits

    if limits.enabled():
        name, ident, _where = _login_keys(request, username)[0]
        limits.reset(name, ident, limits.limit_for(name))


def check_signup_throttle(request: HttpRequest | None) -> None:
    """Raise ValidationError when this address has signed up too often (fails open)."""
    from forum import limits

    if request is None:
        return
    try:
        limits.check_address_rate(request, "signup")
    except limits.RateLimited as limited:
        raise ValidationError(limited.message, code="throttled")


__all__ = ["ValidationError", "logout"]

"""The inbox and notification settings. Thin: every rule lives in forum/notifications.py."""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from . import actions, notifications, permissions, queries
from .models import BoardWatch, NotificationKind, ThreadWatch, WatchLevel

PER_PAGE = 30
THREAD_WATCHES_SHOWN = 50


@require_safe
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    items = notifications.inbox_queryset(request.user)
    total = items.count()
    pages = max(1, math.ceil(total / PER_PAGE))
    number = min(queries.parse_page(request.GET.get("page")), pages)
    shown = list(items[(number - 1) * PER_PAGE : number * PER_PAGE])
    for n in shown:
        n.url = notifications.target_url(n)
    page = queries.Page(number=number, count=pages, items=shown)
    has_unread = any(not n.is_read for n in shown) or items.filter(is_read=False).exists()
    return render(
        request,
        "notifications/inbox.html",
        {"page": page, "items": shown, "total": total, "has_unread": has_unread},
    )


@require_POST
@login_required
def open_notification(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark one notification read and go to what it is about."""
    n = notifications.mark_notification_read(request.user, notification_id)
    return redirect(notifications.target_url(n))


@require_POST
@login_required
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = notifications.mark_all_read(request.user)
    if count:
        messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    else:
        messages.info(request, "Nothing was unread.")
    return redirect("notifications:inbox")


class NotificationSettingsForm(forms.Form):
    """One choice per notification type, the daily digest, and a watch level per board."""

    def __init__(self, *args: Any, user: Any, boards: list, levels: dict, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.boards = boards
        for kind, label in NotificationKind.choices:
            self.fields[f"kind_{kind}"] = forms.ChoiceField(
                label=label,
                choices=notifications.PREF_CHOICES,
                initial=notifications.preference(user, kind),
                widget=forms.RadioSelect,
            )
        self.fields["digest"] = forms.BooleanField(
            required=False,
            initial=notifications.wants_digest(user),
            label="Email me a daily digest of unread notifications I have not been emailed",
        )
        for board in boards:
            self.fields[f"board_{board.id}"] = forms.ChoiceField(
                label=board.name,
                choices=WatchLevel.choices,
                initial=levels.get(board.id, WatchLevel.NORMAL),
                help_text=board.description,
            )

    def kind_fields(self) -> list:
        return [self[f"kind_{kind}"] for kind in NotificationKind.values]

    def board_fields(self) -> list:
        return [self[f"board_{board.id}"] for board in self.boards]


def watched_threads(user: Any) -> QuerySet[ThreadWatch]:
    """The member's watched or muted threads that they may still see (issue 7.5: a title is
    never shown once the thread is hidden, deleted, merged away or moved out of reach).

    The same rule as notifications.inbox_queryset and permissions.can_view_thread: a board the
    member may see, and a listed thread unless the member moderates its board (staff: every
    board). A thread merged into another is left out: its watch was carried to the target."""
    seen = Q(thread__board_id__in=permissions.visible_board_ids(user))
    moderated = permissions.moderated_board_ids(user)
    if moderated is not None:
        listed = Q(thread__is_hidden=False, thread__is_deleted=False)
        seen &= (listed | Q(thread__board_id__in=moderated)) if moderated else listed
    return (
        ThreadWatch.objects.filter(user=user, thread__merged_into__isnull=True)
        .filter(seen)
        .exclude(level=WatchLevel.NORMAL)
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    user = request.user
    boards = list(permissions.visible_boards(user).order_by("position", "name"))
    levels = dict(BoardWatch.objects.filter(user=user).values_list("board_id", "level"))
    form = NotificationSettingsForm(request.POST or None, user=user, boards=boards, levels=levels)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            notifications.update_preferences(
                user,
                {kind: data[f"kind_{kind}"] for kind in NotificationKind.values},
                digest=data["digest"],
            )
            for board in boards:
                level = data[f"board_{board.id}"]
                if level != levels.get(board.id, WatchLevel.NORMAL):
                    actions.set_board_watch(user, board, level)
        except ValidationError as exc:
            form.add_error(None, "; ".join(exc.messages))
        else:
            messages.success(request, "Notification settings saved.")
            return redirect(reverse("notifications:settings"))
    watches = list(
        watched_threads(user)
        .select_related("thread")
        .order_by("-thread__last_post_at")[:THREAD_WATCHES_SHOWN]
    )
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "notifications/settings.html",
        {"form": form, "watches": watches, "watches_limit": THREAD_WATCHES_SHOWN},
        status=status,
    )


app_name = "notifications"
urlpatterns = [
    path("notifications/", inbox, name="inbox"),
    path("notifications/<int:notification_id>/open/", open_notification, name="open"),
    path("notifications/read-all/", mark_all_read, name="mark_all_read"),
    path("notifications/settings/", notification_settings, name="settings"),
]

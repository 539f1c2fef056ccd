from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from . import actions
from .models import User


@admin.register(User)
class MemberAdmin(UserAdmin):
    list_display = (
        "username",
        "display_name",
        "organisation",
        "member_type",
        "region",
        "membership_status",
        "is_staff",
    )
    list_filter = ("membership_status", "member_type", "region", "is_staff", "is_active")
    search_fields = ("username", "display_name", "email", "organisation")
    fieldsets = UserAdmin.fieldsets + (
        (
            "Profile",
            {
                "fields": (
                    "display_name",
                    "organisation",
                    "job_title",
                    "member_type",
                    "region",
                    "bio",
                    "avatar",
                )
            },
        ),
        (
            "Membership",
            {
                "fields": (
                    "membership_status",
                    "approved_at",
                    "approved_by",
                    "suspended_until",
                    "suspension_reason",
                    "silenced_until",
                    "silence_reason",
                    "notification_prefs",
                )
            },
        ),
        (
            "Counters",
            {"fields": ("post_count", "thread_count", "last_visit_at", "previous_visit_at")},
        ),
    )
    raw_id_fields = ("approved_by",)
    # Email is unique and required: without it here a second account added in the admin would
    # collide on the empty address.
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "email",
                    "display_name",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

    # Staff change members here too: the sessions and open sockets of a member who is
    # deactivated, suspended, given a new password or moved between groups must follow at once,
    # as they do when the same change is made through the forum's own pages.

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = User.objects.filter(pk=obj.pk).values("is_active", "suspended_until").first()
        super().save_model(request, obj, form, change)
        if not change or before is None:
            return
        if before["is_active"] and not obj.is_active:
            transaction.on_commit(
                lambda: actions.end_other_sessions(obj, keep=None, reason="deactivated")
            )
        elif before["suspended_until"] != obj.suspended_until:
            _disconnect_on_commit(
                obj.pk, "suspended" if obj.is_suspended else "permissions_changed"
            )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        member = form.instance
        groups = set(member.groups.values_list("pk", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        if change and groups != set(member.groups.values_list("pk", flat=True)):
            _disconnect_on_commit(member.pk, "permissions_changed")

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        pk = obj.pk
        super().delete_model(request, obj)
        _disconnect_on_commit(pk, "deleted")

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        pks = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        for pk in pks:
            _disconnect_on_commit(pk, "deleted")

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            member = self.get_object(request, id)
            if member is not None:
                # Staff changing their own password stay signed in here (Django keeps this
                # session); everyone else's sessions of that member end.
                keep = request.session.session_key if member.pk == request.user.pk else None
                actions.end_other_sessions(member, keep=keep)
        return response


def _disconnect_on_commit(user_id: int, reason: str) -> None:
    from realtime.publish import disconnect_member

    transaction.on_commit(lambda: disconnect_member(user_id, reason=reason))

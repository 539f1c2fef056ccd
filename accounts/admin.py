from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

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

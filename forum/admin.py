from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from . import models


@admin.register(models.Board)
class BoardAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "position",
        "visibility",
        "start_rule",
        "reply_rule",
        "thread_count",
        "post_count",
    )
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("visible_groups", "posting_groups", "moderators", "moderator_groups")
    readonly_fields = ("thread_count", "post_count", "last_post", "last_post_at")


@admin.register(models.Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "board",
        "author",
        "post_count",
        "is_pinned",
        "is_locked",
        "is_hidden",
        "is_deleted",
        "last_post_at",
    )
    list_filter = ("board", "is_pinned", "is_locked", "is_hidden", "is_deleted")
    search_fields = ("title",)
    raw_id_fields = ("author", "last_post", "last_poster", "merged_into")


@admin.register(models.Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ("id", "thread", "number", "author", "created_at", "is_hidden", "is_deleted")
    list_filter = ("is_hidden", "is_deleted")
    raw_id_fields = ("thread", "author", "hidden_by", "deleted_by")


for model in (
    models.PostRevision,
    models.Reaction,
    models.ReadState,
    models.BoardReadMark,
    models.ThreadWatch,
    models.BoardWatch,
    models.Report,
    models.Upload,
    models.Notification,
):
    admin.site.register(model, list_display=[f.name for f in model._meta.fields][:7])


@admin.register(models.ModerationAction)
class ModerationActionAdmin(admin.ModelAdmin):
    """The moderation log is a record: staff read it here, nobody adds, edits or deletes it
    (undo goes through the forum's log page, which logs the inverse action)."""

    list_display = ("created_at", "actor", "action", "board", "thread", "target_user", "reason")
    list_filter = ("action",)
    search_fields = ("actor__username", "target_user__username", "reason")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in models.ModerationAction._meta.fields]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

from django.contrib import admin

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
    models.ModerationAction,
    models.Upload,
    models.Notification,
):
    admin.site.register(model, list_display=[f.name for f in model._meta.fields][:7])

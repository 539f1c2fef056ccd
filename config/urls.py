from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from forum import uploads
from forum import views as forum_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("healthz", forum_views.healthz, name="healthz"),
    path("readyz", forum_views.readyz, name="readyz"),
    # The markdownx endpoints go through our permission checks and our one renderer.
    path("markdownx/markdownify/", uploads.preview, name="markdownx_markdownify"),
    path("markdownx/upload/", uploads.upload_image, name="markdownx_upload"),
    path("media/<path:path>", uploads.serve_media, name="media"),
    path("", include("accounts.member_urls")),
    path("", include("realtime.urls")),
    path("", include("forum.search_views")),
    path("", include("forum.moderation_views")),
    path("", include("forum.notification_views")),
    path("", include("forum.urls")),
]

handler403 = "forum.errors.permission_denied"
handler404 = "forum.errors.page_not_found"
handler500 = "forum.errors.server_error"

if settings.DEBUG:  # pragma: no cover
    pass

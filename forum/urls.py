from django.urls import path

from . import views

app_name = "forum"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.new_since_last_visit, name="new"),
    path("policy/", views.policy, name="policy"),
    path("b/<slug:slug>/", views.board, name="board"),
    path("b/<slug:slug>/new/", views.new_thread, name="new_thread"),
    path("b/<slug:slug>/mark-read/", views.mark_board_read, name="mark_board_read"),
    path("b/<slug:slug>/watch/", views.watch_board, name="watch_board"),
    path("t/<int:thread_id>/", views.thread_short, name="thread_short"),
    # Before the slug route, which would otherwise take "reply" and "watch" as slugs. A GET
    # there is a thread whose title slugifies to that word: those views hand it on.
    path("t/<int:thread_id>/reply/", views.reply, name="reply"),
    path("t/<int:thread_id>/watch/", views.watch_thread, name="watch_thread"),
    path("t/<int:thread_id>/<slug:slug>/", views.thread, name="thread"),
    path("p/<int:post_id>/", views.post_permalink, name="post"),
    path("p/<int:post_id>/edit/", views.edit_post, name="edit_post"),
    path("p/<int:post_id>/delete/", views.delete_post, name="delete_post"),
    path("p/<int:post_id>/react/", views.react, name="react"),
    path("p/<int:post_id>/history/", views.post_history, name="post_history"),
    path("p/<int:post_id>/quote/", views.quote_source, name="quote_source"),
    path("api/members/", views.member_autocomplete, name="member_autocomplete"),
]

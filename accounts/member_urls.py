from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("members/", views.directory, name="directory"),
    path("members/pending/", views.pending_members, name="pending"),
    path("members/pending/<int:user_id>/", views.decide_membership, name="decide"),
    path("u/<str:username>/", views.profile, name="profile"),
    path("settings/profile/", views.edit_profile, name="edit_profile"),
]

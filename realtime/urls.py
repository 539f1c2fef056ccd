from django.urls import path

from . import views

app_name = "realtime"

urlpatterns = [
    path("p/<int:post_id>/fragment/", views.post_fragment, name="post_fragment"),
]

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

VISIT_GAP = timedelta(minutes=30)


class MemberActivityMiddleware:
    """Keeps last_visit_at / previous_visit_at, writing at most once every few minutes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = timezone.now()
            last = user.last_visit_at
            if last is None or now - last > timedelta(minutes=5):
                fields = {"last_visit_at": now}
                if last is None or now - last > VISIT_GAP:
                    fields["previous_visit_at"] = last or now
                get_user_model().objects.filter(pk=user.pk).update(**fields)
                for key, value in fields.items():
                    setattr(user, key, value)
        return self.get_response(request)

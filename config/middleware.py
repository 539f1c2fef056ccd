"""When the database is unreachable, answer 503 "temporarily unavailable" instead of a 500.

A database outage is not a bug in the forum: the member should learn that the site is briefly
unavailable and that trying again shortly is the right thing to do, and clients (the forum's
script, a proxy, a monitor) should see 503 with Retry-After. Two places can meet the outage:

- the session and member lookup, which AuthenticationMiddleware leaves lazy and the next
  middleware would trigger where no view is running: this middleware triggers it itself,
  inside a try, so it sits right after AuthenticationMiddleware;
- the view (and the templates it renders): process_exception.

The page is rendered without context processors, as the 500 page is: they query the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
MESSAGE = "The forum is temporarily unavailable. Please try again in a few seconds."
DATABASE_ERRORS = (OperationalError, InterfaceError)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    wants_json = request.headers.get("X-Requested-With") == "XMLHttpRequest" or (
        "application/json" in request.headers.get("Accept", "")
    )
    if wants_json:
        response: HttpResponse = JsonResponse({"error": MESSAGE, "retry": True}, status=503)
    else:
        response = HttpResponse(render_to_string("503.html", {"message": MESSAGE}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None:
            try:
                user.is_authenticated  # noqa: B018 (loads session and member now)
            except DATABASE_ERRORS as exc:
                return self._unavailable(request, exc)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            return self._unavailable(request, exception)
        return None

    def _unavailable(self, request: HttpRequest, exc: Exception) -> HttpResponse:
        log.warning("database unavailable for %s %s: %s", request.method, request.path, exc)
        return unavailable_response(request)

"""The project's URLconf plus /bench/plain/: a plain Django view returning a fixed 5 KB page,
served by the same server and middleware, as the yardstick for every page's throughput."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

_FILLER = "<p>" + ("Career technical education connects school to work. " * 4) + "</p>\n"
_HEAD = "<!doctype html><html><head><title>plain</title></head><body>\n"
_TAIL = "</body></html>\n"
_BODY = _HEAD + _FILLER * ((5120 - len(_HEAD) - len(_TAIL)) // len(_FILLER))
PLAIN_PAGE = (_BODY + " " * (5120 - len(_BODY) - len(_TAIL)) + _TAIL).encode()
assert len(PLAIN_PAGE) == 5120


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PLAIN_PAGE, content_type="text/html; charset=utf-8")


urlpatterns = [
    path("bench/plain/", plain, name="bench_plain"),
    path("", include("config.urls")),
]

handler403 = "forum.errors.permission_denied"
handler404 = "forum.errors.page_not_found"
handler500 = "forum.errors.server_error"

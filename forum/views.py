"""Thin views: parse input, call one action or query, render."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST, require_safe

from . import actions, drafts, pagecache, permissions, queries
from .forms import EditPostForm, ReplyForm, ThreadForm
from .limits import RateLimited
from .models import REACTION_EMOJI, Board, ReactionKind, Thread, WatchLevel
from .templatetags.forum_tags import prefetch_post_fragments


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "") or (
        request.headers.get("X-Requested-With") == "XMLHttpRequest"
    )


def _refusal_response(request: HttpRequest, message: str, status: int = 403) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": message}, status=status)
    return render(request, "403.html", {"message": message}, status=status)


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# ---------------------------------------------------------------- reading


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    cache_key = pagecache.anonymous_index_key(request)
    if cache_key is not None and (hit := pagecache.get(cache_key)) is not None:
        return _shared_page(hit)
    response = render(request, "forum/index.html", {"boards": queries.board_index(request.user)})
    if cache_key is not None and response.status_code == 200:
        pagecache.put(cache_key, response.content, response["Content-Type"])
    return response


def _shared_page(hit: tuple[bytes, str]) -> HttpResponse:
    """A page from forum.pagecache, marked as varying with the cookie (a member's differs)."""
    response = HttpResponse(hit[0], content_type=hit[1])
    patch_vary_headers(response, ("Cookie",))
    return response


BOARD_WATCH_LEVELS = [
    (WatchLevel.WATCHING, "Watching (every new thread)"),
    (WatchLevel.NORMAL, "Normal"),
    (WatchLevel.MUTED, "Muted"),
]


@require_safe
def board(request: HttpRequest, slug: str) -> HttpResponse:
    member = request.user.is_authenticated
    board = queries.visible_board(request.user, slug, live_seq=not member, watch_level=member)
    cache_key = pagecache.anonymous_board_key(request, board)
    if cache_key is not None and (hit := pagecache.get(cache_key)) is not None:
        return _shared_page(hit)
    page = queries.board_page(request.user, board, queries.parse_page(request.GET.get("page")))
    response = render(
        request,
        "forum/board.html",
        {
            "board": board,
            "page": page,
            "can_start_thread": permissions.can_start_thread(request.user, board),
            "can_moderate": permissions.can_moderate_board(request.user, board),
            "watch_level": getattr(board, "viewer_watch_level", None) or WatchLevel.NORMAL,
            "watch_levels": BOARD_WATCH_LEVELS,
        },
    )
    if cache_key is not None and response.status_code == 200:
        pagecache.put(cache_key, response.content, response["Content-Type"])
    return response


@require_safe
def thread(request: HttpRequest, thread_id: int, slug: str = "") -> HttpResponse:
    user = request.user
    thread = queries.get_thread(user, thread_id, follow_merged=True, viewer_state=True)
    if thread.merged_into_id:
        return redirect(reverse("forum:thread_short", args=[thread.merged_into_id]))
    if slug != thread.slug:
        return redirect(thread.get_absolute_url() + _query(request))
    read = queries.read_number(user, thread)
    if "page" not in request.GET and read is not None and read < thread.post_count:
        # Jump to the first unread post (on page 1 too: the anchor scrolls there).
        target = queries.page_of_number(read + 1)
        return redirect(f"{thread.get_absolute_url()}?page={target}#n{read + 1}")
    cache_key = pagecache.anonymous_key(request, thread)
    if cache_key is not None and (hit := pagecache.get(cache_key)) is not None:
        return _shared_page(hit)
    page = queries.thread_page(user, thread, queries.parse_page(request.GET.get("page")))
    if page.items and user.is_authenticated:
        actions.mark_read(user, thread, page.items[-1].number, known=read)
    form = ReplyForm(initial={"client_token": secrets.token_urlsafe(16)})
    response = render(
        request, "forum/thread.html", _thread_context(request, thread, page, form, read)
    )
    if cache_key is not None and response.status_code == 200:
        pagecache.put(cache_key, response.content, response["Content-Type"])
    return response


def _query(request: HttpRequest) -> str:
    return ("?" + request.GET.urlencode()) if request.GET else ""


def _thread_context(
    request: HttpRequest, thread: Thread, page: queries.Page, form: Any, read: int | None
) -> dict:
    user = request.user
    watch = queries.watch_level(user, thread)
    can_moderate = permissions.can_moderate_thread(user, thread)
    can_reply = permissions.can_reply(user, thread)
    reaction_kinds = [(k, label, REACTION_EMOJI[k]) for k, label in ReactionKind.choices]
    for post in page.items:
        post.body_visible = can_moderate or permissions.can_see_post_body(user, post)
    prefetch_post_fragments(
        request,
        page.items,
        can_reply=can_reply,
        can_moderate=can_moderate,
        reaction_kinds=reaction_kinds,
    )
    return {
        "thread": thread,
        "board": thread.board,
        "page": page,
        "form": form,
        "first_unread": (read + 1) if read is not None else None,
        "reply_refusal": (
            permissions.reply_refusal(user, thread) if user.is_authenticated else None
        ),
        "can_reply": can_reply,
        "can_moderate": can_moderate,
        # No row: notified as Normal is (replies to their own thread, mentions, quotes).
        "watch_level": watch or WatchLevel.NORMAL,
        "watch_levels": WatchLevel.choices,
        "reaction_kinds": reaction_kinds,
    }


@require_safe
def post_permalink(request: HttpRequest, post_id: int) -> HttpResponse:
    post = queries.get_post(request.user, post_id)
    # Always with its page, page 1 too: without one, a member with unread posts would be sent
    # on to their first unread post instead of this one.
    page = queries.page_of_number(post.number)
    return redirect(f"{post.thread.get_absolute_url()}?page={page}#post-{post.pk}")


@require_safe
def thread_short(request: HttpRequest, thread_id: int) -> HttpResponse:
    thread = queries.get_thread(request.user, thread_id, follow_merged=True)
    if thread.merged_into_id:
        return redirect(reverse("forum:thread_short", args=[thread.merged_into_id]))
    return redirect(thread.get_absolute_url() + _query(request))


@require_safe
def post_history(request: HttpRequest, post_id: int) -> HttpResponse:
    post = queries.get_post(request.user, post_id)
    if not permissions.can_view_history(request.user, post):
        raise Http404("No such post.")
    revisions = list(post.revisions.select_related("editor"))
    return render(
        request, "forum/history.html", {"post": post, "revisions": _diffs(post, revisions)}
    )


def _diffs(post: Any, revisions: list) -> list[dict]:
    """Each revision with the unified diff to the text that followed it."""
    import difflib

    out = []
    texts = [r.body for r in revisions] + [post.body]
    for i, rev in enumerate(revisions):
        diff = difflib.unified_diff(
            texts[i].splitlines(),
            texts[i + 1].splitlines(),
            lineterm="",
            n=2,
            fromfile=f"version {rev.number}",
            tofile=f"version {rev.number + 1}",
        )
        out.append({"revision": rev, "diff": list(diff)[2:]})
    return out


@require_safe
def new_since_last_visit(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        return redirect(f"{reverse('accounts:login')}?next={request.path}")
    since = user.previous_visit_at or user.date_joined
    threads = queries.new_since(user, since)
    return render(request, "forum/new.html", {"threads": threads, "since": since})


# ---------------------------------------------------------------- writing


@login_required
def new_thread(request: HttpRequest, slug: str) -> HttpResponse:
    board = queries.visible_board(request.user, slug)
    status = 200
    if request.method == "POST":
        # Permission is checked by the action, so a refusal keeps what the member typed.
        form = ThreadForm(request.POST)
        if form.is_valid():
            try:
                thread = actions.create_thread(
                    request.user,
                    board,
                    title=form.cleaned_data["title"],
                    body=form.cleaned_data["body"],
                    client_token=form.cleaned_data.get("client_token", ""),
                )
                return drafts.mark_sent(request, redirect(thread.get_absolute_url()))
            except ValidationError as exc:
                form.add_error(_error_field(exc), exc)
            except (permissions.Refused, RateLimited) as refused:
                form.add_error(None, refused.message)
                status = _refusal_status(refused)
        status = status if status != 200 else 400
    else:
        try:
            permissions.check_start_thread(request.user, board)
        except permissions.Refused as refused:
            return _refusal_response(request, refused.message)
        form = ThreadForm(initial={"client_token": secrets.token_urlsafe(16)})
    return render(request, "forum/new_thread.html", {"board": board, "form": form}, status=status)


def _error_field(exc: ValidationError) -> str | None:
    return {"title": "title", "body": "body"}.get(getattr(exc, "code", None) or "")


def _refusal_status(refused: Exception) -> int:
    return 429 if isinstance(refused, RateLimited) else 403


def _thread_or_post_only(view: Any) -> Any:
    """/t/<id>/reply/ and /t/<id>/watch/ take POSTs; a GET there is the thread page of a thread
    whose slug is that word (a thread titled "Reply")."""
    from functools import wraps

    word = view.__name__.removesuffix("_thread")

    @wraps(view)
    def wrapper(request: HttpRequest, thread_id: int) -> HttpResponse:
        if request.method in ("GET", "HEAD"):
            return thread(request, thread_id, slug=word)
        return view(request, thread_id)

    return wrapper


@_thread_or_post_only
@require_POST
@login_required
def reply(request: HttpRequest, thread_id: int) -> HttpResponse:
    thread = queries.get_thread(request.user, thread_id)
    form = ReplyForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            result = actions.reply_to_thread(
                request.user,
                thread,
                body=form.cleaned_data["body"],
                client_token=form.cleaned_data.get("client_token", ""),
            )
            url = result.post.get_absolute_url()
            if _wants_json(request):
                return JsonResponse({"post_id": result.post.pk, "url": url})
            return drafts.mark_sent(request, redirect(url))
        except ValidationError as exc:
            form.add_error("body", exc)
        except (permissions.Refused, RateLimited) as refused:
            form.add_error(None, refused.message)
            status = _refusal_status(refused)
    if _wants_json(request):
        return JsonResponse({"errors": form.errors.get_json_data()}, status=status)
    thread.refresh_from_db()
    page = queries.thread_page(request.user, thread, queries.page_of_number(thread.post_count))
    context = _thread_context(request, thread, page, form, None)
    return render(request, "forum/thread.html", context, status=status)


@login_required
def edit_post(request: HttpRequest, post_id: int) -> HttpResponse:
    post = queries.get_post(request.user, post_id)
    is_first = post.number == 1
    status = 200
    if request.method == "POST":
        # The action checks permission; a refusal re-shows the form with the member's text.
        form = EditPostForm(request.POST)
        if form.is_valid():
            try:
                actions.edit_post(
                    request.user,
                    post,
                    body=form.cleaned_data["body"],
                    title=form.cleaned_data["title"] if is_first else None,
                    reason=form.cleaned_data["reason"],
                )
                messages.success(request, "Your changes were saved.")
                return drafts.mark_sent(request, redirect(post.get_absolute_url()))
            except ValidationError as exc:
                form.add_error("title" if exc.code == "title" else "body", exc)
            except (permissions.Refused, RateLimited) as refused:
                form.add_error(None, refused.message)
                status = _refusal_status(refused)
        status = status if status != 200 else 400
    else:
        try:
            permissions.check_edit_post(request.user, post)
        except permissions.Refused as refused:
            return _refusal_response(request, refused.message)
        form = EditPostForm(initial={"body": post.body, "title": post.thread.title})
    return render(
        request,
        "forum/edit_post.html",
        {"post": post, "form": form, "is_first": is_first},
        status=status,
    )


@require_POST
@login_required
def delete_post(request: HttpRequest, post_id: int) -> HttpResponse:
    post = queries.get_post(request.user, post_id)
    try:
        actions.delete_own_post(request.user, post)
    except permissions.Refused as refused:
        return _refusal_response(request, refused.message)
    messages.success(request, "The post was removed.")
    return redirect(post.get_absolute_url())


@require_POST
@login_required
def react(request: HttpRequest, post_id: int) -> HttpResponse:
    post = queries.get_post(request.user, post_id)
    kind = request.POST.get("kind", "")
    undo = request.POST.get("undo") == "1"
    try:
        counts = (actions.unreact if undo else actions.react)(request.user, post, kind)
    except ValidationError as exc:
        return _refusal_response(request, _error_text(exc), status=400)
    except (permissions.Refused, RateLimited) as refused:
        return _refusal_response(request, refused.message, status=_refusal_status(refused))
    if _wants_json(request):
        names = queries.reactor_names(post, kind)
        return JsonResponse({"counts": counts, "mine": not undo, "kind": kind, "names": names})
    return redirect(post.get_absolute_url())


@require_safe
@login_required
def quote_source(request: HttpRequest, post_id: int) -> JsonResponse:
    """The Markdown to insert when quoting a post (attributed, linking back to it)."""
    post = queries.get_post(request.user, post_id)
    if not post.is_visible:
        return JsonResponse({"error": "This post cannot be quoted."}, status=403)
    quoted = "\n".join("> " + line for line in post.body.splitlines())
    markdown = f"> [@{post.author.username} wrote](/p/{post.pk}/):\n{quoted}\n\n"
    return JsonResponse({"markdown": markdown, "author": post.author.username})


@require_POST
@login_required
def mark_board_read(request: HttpRequest, slug: str) -> HttpResponse:
    board = queries.visible_board(request.user, slug)
    actions.mark_board_read(request.user, board)
    messages.success(request, f"Every thread in {board.name} is marked read.")
    return redirect(board.get_absolute_url())


@_thread_or_post_only
@require_POST
@login_required
def watch_thread(request: HttpRequest, thread_id: int) -> HttpResponse:
    thread = queries.get_thread(request.user, thread_id)
    try:
        actions.set_thread_watch(request.user, thread, request.POST.get("level", ""))
    except ValidationError as exc:
        return _refusal_response(request, _error_text(exc), status=400)
    messages.success(request, "Notification level saved for this thread.")
    return redirect(thread.get_absolute_url())


@require_POST
@login_required
def watch_board(request: HttpRequest, slug: str) -> HttpResponse:
    board = queries.visible_board(request.user, slug)
    try:
        actions.set_board_watch(request.user, board, request.POST.get("level", ""))
    except ValidationError as exc:
        return _refusal_response(request, _error_text(exc), status=400)
    messages.success(request, f"Notification level saved for {board.name}.")
    return redirect(board.get_absolute_url())


# ---------------------------------------------------------------- small endpoints


@require_safe
def member_autocomplete(request: HttpRequest) -> JsonResponse:
    """@mention autocomplete: signed-in members only; suggests members as the directory lists
    them (active, and approved or staff)."""
    from django.contrib.auth import get_user_model

    if not request.user.is_authenticated:
        return JsonResponse({"results": []}, status=403)
    q = request.GET.get("q", "").strip().lstrip("@")[:40]
    if not q:
        return JsonResponse({"results": []})
    from django.db.models import Q

    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(permissions.listed_members())
        .filter(Q(username__istartswith=q) | Q(display_name__icontains=q))
        .order_by("username")
        .values("username", "display_name")[:8]
    )
    return JsonResponse(
        {
            "results": [
                {"username": u["username"], "name": u["display_name"] or u["username"]}
                for u in users
            ]
        }
    )


@require_safe
def policy(request: HttpRequest) -> HttpResponse:
    return render(request, "forum/policy.html")


def _health(*, layer: bool = True) -> dict[str, str]:
    """Each part this worker needs, "ok" or "error: <kind>" (a health check reports, never
    raises): the database, the static files manifest (a worker started before collectstatic,
    or with another STATIC_ROOT, would answer every page with a 500) and the channel layer (a
    round trip through it)."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    from realtime.health import channel_layer_roundtrip

    state: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        state["database"] = "ok"
    except Exception as exc:
        state["database"] = f"error: {type(exc).__name__}"
    try:
        staticfiles_storage.url("css/forum.css")
        state["static"] = "ok"
    except Exception as exc:
        state["static"] = f"error: {type(exc).__name__}"
    if layer:
        state["channel_layer"] = channel_layer_roundtrip()
    return state


def _health_response(state: dict[str, str], required: tuple[str, ...]) -> JsonResponse:
    ok = all(state[part] == "ok" for part in required)
    status = "ok" if all(v == "ok" for v in state.values()) else "degraded"
    return JsonResponse({"status": status, **state}, status=200 if ok else 503)


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """For monitoring: 200 only when every part works (database, static files, channel
    layer); 503 "degraded" or "down" otherwise, naming the part."""
    return _health_response(_health(), ("database", "static", "channel_layer"))


@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """For a proxy's health check and a rolling restart: 200 while this worker can serve pages
    (database and static files). The channel layer (Redis) is not asked: pages and posting
    work without it (docs/RELIABILITY.md), a proxy that took every worker out for it would turn
    a live-updates outage into a full one, and a Redis that hangs would slow every probe.
    /healthz checks it, for monitoring."""
    return _health_response(_health(layer=False), ("database", "static"))


def get_board_or_404(slug: str) -> Board:
    return get_object_or_404(Board, slug=slug)

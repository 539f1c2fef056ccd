"""Moderator pages and endpoints. Thin: parse input, call one forum.moderation action, render.

Who may: forum.permissions (through the actions). Things a viewer cannot see answer 404 (the
thread/post lookups in forum.queries), things they see but may not do answer 403.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, date, datetime, time
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Min, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from . import drafts, limits, moderation, permissions, queries
from .models import Board, ModerationAction, Post, Report, ReportReason, Thread

User = get_user_model()
PER_PAGE = 30


# ---------------------------------------------------------------- forms


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=500, label="Reason")


class RequiredReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        label="Reason",
        error_messages={"required": "Give a reason: members see it."},
    )


class RenameForm(ReasonForm):
    title = forms.CharField(max_length=200, label="New title")


class MoveForm(ReasonForm):
    board = forms.ModelChoiceField(
        queryset=Board.objects.none(), label="Move to board", empty_label="Choose a board"
    )

    def __init__(self, *args: Any, user: Any, thread: Thread, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        boards = Board.objects.exclude(pk=thread.board_id).order_by("position", "name")
        ids = permissions.moderated_board_ids(user)
        if ids is not None:
            boards = boards.filter(pk__in=ids)
        self.fields["board"].queryset = boards


class SplitForm(ReasonForm):
    title = forms.CharField(max_length=200, label="Title of the new thread")
    posts = forms.TypedMultipleChoiceField(
        coerce=int, label="Replies to move", widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, post_choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["posts"].choices = post_choices


class MergeForm(ReasonForm):
    target = forms.CharField(
        max_length=300,
        label="Merge into thread",
        help_text="The number or the address of the thread that receives these posts.",
    )

    def clean_target(self) -> int:
        value = self.cleaned_data["target"].strip()
        match = re.search(r"/t/(\d+)", value) or re.fullmatch(r"#?(\d+)", value)
        if not match:
            raise ValidationError("Give a thread number (like 42) or a thread address.")
        return int(match.group(1))


class PurgeForm(ReasonForm):
    confirm_title = forms.CharField(max_length=200, label="Type the thread title to confirm")


class ModeratorEditForm(RequiredReasonForm):
    title = forms.CharField(max_length=200, required=False, label="Title")
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 12}), label="Post")
    field_order = ["title", "body", "reason"]


class ReportForm(forms.Form):
    reason = forms.ChoiceField(
        choices=ReportReason.choices,
        widget=forms.RadioSelect,
        label="What is wrong with this post?",
        error_messages={"required": "Choose a reason."},
    )
    text = forms.CharField(
        required=False,
        max_length=500,
        label="Details",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required for “Something else”; optional otherwise.",
    )


class ResolveForm(forms.Form):
    resolution = forms.ChoiceField(
        choices=[
            ("dismiss", "Dismiss"),
            ("hide", "Hide the post"),
            ("delete", "Delete the post"),
            ("edit", "Edit the post"),
        ],
    )
    reason = forms.CharField(required=False, max_length=500)
    body = forms.CharField(required=False, widget=forms.Textarea)


def _years_ahead(years: int) -> date:
    today = timezone.localdate()
    try:
        return today.replace(year=today.year + years)
    except ValueError:  # February 29th
        return today.replace(year=today.year + years, day=28)


class DayField(forms.DateField):
    """A day whose start and end, in the site's time zone, can be stored and compared in UTC
    (9999-12-31 cannot: its end of day in Los Angeles is past the last datetime in UTC)."""

    default_error_messages = {"out_of_range": "That date is out of range."}

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value in self.empty_values:
            return
        try:
            _start_of_day(value).astimezone(UTC)
            _end_of_day(value).astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError(self.error_messages["out_of_range"], code="out_of_range")


class UntilField(DayField):
    """The last day of a suspension or a silence: at most UNTIL_MAX_YEARS ahead."""

    default_error_messages = {
        "too_far": f"Choose a date within the next {moderation.UNTIL_MAX_YEARS} years."
    }

    def validate(self, value: Any) -> None:
        if value not in self.empty_values and value > _years_ahead(moderation.UNTIL_MAX_YEARS):
            raise ValidationError(self.error_messages["too_far"], code="too_far")
        super().validate(value)


class SuspendForm(RequiredReasonForm):
    # The member page shows this form next to the silence form: ids of their own.
    AUTO_ID = "suspend-%s"
    # The date first, then the reason: as on the member page, also when shown again.
    field_order = ["until", "indefinitely", "reason"]

    until = UntilField(
        required=False,
        label="Suspended until",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={
            "too_far": f"Choose a date within the next {moderation.UNTIL_MAX_YEARS} years, "
            "or tick “Indefinitely”."
        },
    )
    indefinitely = forms.BooleanField(required=False, label="Indefinitely")

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("indefinitely") and not data.get("until") and not self.errors:
            raise ValidationError("Choose a date, or tick “Indefinitely”.")
        return data


class SilenceForm(RequiredReasonForm):
    AUTO_ID = "silence-%s"
    field_order = ["until", "reason"]

    until = UntilField(
        label="Silenced until",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": "Choose until when."},
    )


class LogFilterForm(forms.Form):
    moderator = forms.CharField(required=False, max_length=150)
    member = forms.CharField(required=False, max_length=150)
    board = forms.ModelChoiceField(
        queryset=Board.objects.none(), required=False, empty_label="Any board"
    )
    action = forms.ChoiceField(required=False)
    date_from = DayField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = DayField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, user: Any, entries: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        boards = Board.objects.order_by("position", "name")
        ids = permissions.moderated_board_ids(user)
        if ids is not None:
            boards = boards.filter(pk__in=ids)
        self.fields["board"].queryset = boards
        # Only actions found in the entries this moderator may read (no hint of other boards').
        actions = sorted(set(entries.order_by().values_list("action", flat=True).distinct()))
        self.fields["action"].choices = [("", "Any action")] + [
            (a, a.replace("_", " ")) for a in actions
        ]


# ---------------------------------------------------------------- helpers


def _start_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _end_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


def _next(request: HttpRequest) -> str:
    """The `next` address the form came with, if it is on this site; else ""."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def _back(request: HttpRequest, default: str) -> HttpResponse:
    return redirect(_next(request) or default)


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _moderator_page(request: HttpRequest) -> None:
    permissions.check_moderator_anywhere(request.user)


def _member(username: str) -> Any:
    member = User.objects.filter(username=username).first()
    if member is None:
        raise Http404("No such member.")
    return member


def _shown(key: str, value: Any, boards: dict[int, str], titles: bool = True) -> Any:
    """A logged value as a moderator reads it (board names, dates, yes/no; titles only when
    `titles`)."""
    if value is None or value == "":
        return None
    if key.endswith("title") and not titles:
        return NOT_SHOWN
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key.endswith("board_id") and isinstance(value, int):
        return boards.get(value, f"board {value}")
    if key.endswith("_until") and isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return value
        if when.year >= 9000:
            return "indefinitely"
        return date_format(timezone.localtime(when), "M j, Y, g:i a")
    return value


def _named_boards(entry: ModerationAction) -> set[int]:
    """Ids of the boards a log entry's before/after values name (a move, a split)."""
    return {
        v
        for d in (entry.before, entry.after)
        for k, v in d.items()
        if k.endswith("board_id") and isinstance(v, int)
    }


UNSEEN_BOARD = "a board you cannot see"
NOT_SHOWN = "(not shown)"


def _describe(entries: Any, viewer: Any) -> None:
    """What a log row shows: a label, the fields that changed, and whether Undo applies.

    An entry is scoped by the board it was logged on, but its thread may have moved since, or
    it may name another board (a move, a split): what lies in a board the viewer may not see
    (its name, the thread's title now or then) is not shown (entry.thread_shown, "(not
    shown)", "a board you cannot see")."""
    entries = list(entries)
    visible = permissions.visible_board_ids(viewer)
    named = {entry.pk: _named_boards(entry) for entry in entries}
    board_ids = set().union(*named.values())
    boards = {
        pk: name if pk in visible else UNSEEN_BOARD
        for pk, name in Board.objects.filter(pk__in=board_ids).values_list("pk", "name")
    }
    for entry in entries:
        entry.action_label = entry.action.replace("_", " ")
        entry.undoable = moderation.can_undo(entry)
        entry.thread_shown = entry.thread_id is None or entry.thread.board_id in visible
        titles_shown = entry.thread_shown and named[entry.pk] <= visible
        keys = [k for k in {**entry.before, **entry.after} if k != "hidden_reason"]
        entry.changes = [
            (
                k.replace("_id", "").replace("_", " "),
                _shown(k, entry.before.get(k), boards, titles_shown),
                _shown(k, entry.after.get(k), boards, titles_shown),
            )
            for k in keys
            if entry.before.get(k) != entry.after.get(k)
        ]


def _action_form_page(
    request: HttpRequest,
    *,
    title: str,
    form: forms.Form,
    target: Any,
    cancel: str,
    button: str,
    status: int = 400,
) -> HttpResponse:
    """A small page showing one moderator form again, filled in, with what went wrong."""
    return render(
        request,
        "moderation/action.html",
        {
            "title": title,
            "form": form,
            "target": target,
            "cancel": cancel,
            "button": button,
            "action_url": request.path,
            # Shown again after an error, the form still goes back where it came from.
            "next": _next(request),
        },
        status=status,
    )


# ---------------------------------------------------------------- thread tools

# name -> (action function, form class, label, success message)
THREAD_ACTIONS: dict[str, tuple[Any, type[forms.Form], str, str]] = {
    "pin": (moderation.pin_thread, ReasonForm, "Pin", "The thread is pinned."),
    "unpin": (moderation.unpin_thread, ReasonForm, "Unpin", "The thread is unpinned."),
    "lock": (moderation.lock_thread, ReasonForm, "Lock", "The thread is locked."),
    "unlock": (moderation.unlock_thread, ReasonForm, "Unlock", "The thread is unlocked."),
    "hide": (moderation.hide_thread, RequiredReasonForm, "Hide", "The thread is hidden."),
    "restore": (moderation.restore_thread, ReasonForm, "Restore", "The thread is visible again."),
    "delete": (moderation.delete_thread, ReasonForm, "Delete", "The thread is deleted."),
    "undelete": (
        moderation.restore_deleted_thread,
        ReasonForm,
        "Restore deleted",
        "The thread is restored.",
    ),
}


def _thread_action_view(name: str):  # noqa: ANN202 (a view function)
    action, form_class, label, done = THREAD_ACTIONS[name]

    @require_POST
    @login_required
    def view(request: HttpRequest, thread_id: int) -> HttpResponse:
        thread = queries.get_thread(request.user, thread_id)
        permissions.check_moderate_thread(request.user, thread)
        form = form_class(request.POST)
        if form.is_valid():
            try:
                action(request.user, thread, reason=form.cleaned_data["reason"])
                messages.success(request, done)
                return _back(request, thread.get_absolute_url())
            except ValidationError as exc:
                form.add_error(None, _errors(exc))
        return _action_form_page(
            request,
            title=f"{label} thread",
            form=form,
            target=thread,
            cancel=thread.get_absolute_url(),
            button=label,
        )

    view.__name__ = f"thread_{name}"
    return view


@require_POST
@login_required
def thread_rename(request: HttpRequest, thread_id: int) -> HttpResponse:
    thread = queries.get_thread(request.user, thread_id)
    permissions.check_moderate_thread(request.user, thread)
    form = RenameForm(request.POST)
    if form.is_valid():
        try:
            thread = moderation.rename_thread(
                request.user,
                thread,
                title=form.cleaned_data["title"],
                reason=form.cleaned_data["reason"],
            )
            messages.success(request, "The thread is renamed.")
            return redirect(thread.get_absolute_url())
        except ValidationError as exc:
            form.add_error("title", _errors(exc))
    return _action_form_page(
        request,
        title="Rename thread",
        form=form,
        target=thread,
        cancel=thread.get_absolute_url(),
        button="Rename",
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def thread_move(request: HttpRequest, thread_id: int) -> HttpResponse:
    thread = queries.get_thread(request.user, thread_id)
    permissions.check_moderate_thread(request.user, thread)
    form = MoveForm(request.POST or None, user=request.user, thread=thread)
    if request.method == "POST" and form.is_valid():
        try:
            moderation.move_thread(
                request.user,
                thread,
                board=form.cleaned_data["board"],
                reason=form.cleaned_data["reason"],
            )
            messages.success(request, f"The thread moved to {form.cleaned_data['board'].name}.")
            return redirect(thread.get_absolute_url())
        except (ValidationError, permissions.Refused) as exc:
            form.add_error("board", getattr(exc, "message", None) or _errors(exc))
    status = 400 if request.method == "POST" else 200
    return _action_form_page(
        request,
        title="Move thread",
        form=form,
        target=thread,
        cancel=thread.get_absolute_url(),
        button="Move",
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def thread_split(request: HttpRequest, thread_id: int) -> HttpResponse:
    thread = queries.get_thread(request.user, thread_id)
    permissions.check_moderate_thread(request.user, thread)
    page = queries.thread_page(request.user, thread, queries.parse_page(request.GET.get("page")))
    choices = [(p.pk, f"#{p.number} {p.author.name}") for p in page.items if p.number > 1]
    if request.method == "POST":
        # Accept any reply of this thread (the form may have come from another page).
        choices = [
            (pk, f"#{n}")
            for pk, n in Post.objects.filter(thread=thread, number__gt=1).values_list(
                "pk", "number"
            )
        ]
    form = SplitForm(request.POST or None, post_choices=choices)
    if request.method == "POST" and form.is_valid():
        try:
            new = moderation.split_thread(
                request.user,
                thread,
                post_ids=form.cleaned_data["posts"],
                title=form.cleaned_data["title"],
                reason=form.cleaned_data["reason"],
            )
            messages.success(request, f"{len(form.cleaned_data['posts'])} posts moved here.")
            return redirect(new.get_absolute_url())
        except ValidationError as exc:
            form.add_error(None, _errors(exc))
    posts = {p.pk: p for p in page.items}
    return render(
        request,
        "moderation/split.html",
        {
            "thread": thread,
            "form": form,
            "page": page,
            "posts": posts,
            "selected": {str(v) for v in request.POST.getlist("posts")},
        },
        status=400 if request.method == "POST" else 200,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def thread_merge(request: HttpRequest, thread_id: int) -> HttpResponse:
    thread = queries.get_thread(request.user, thread_id)
    permissions.check_moderate_thread(request.user, thread)
    form = MergeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            target = queries.get_thread(request.user, form.cleaned_data["target"])
            target = moderation.merge_threads(
                request.user, thread, target, reason=form.cleaned_data["reason"]
            )
            messages.success(request, f"The thread was merged into “{target.title}”.")
            return redirect(target.get_absolute_url())
        except Http404:
            form.add_error("target", "There is no such thread.")
        except (ValidationError, permissions.Refused) as exc:
            form.add_error("target", getattr(exc, "message", None) or _errors(exc))
    status = 400 if request.method == "POST" else 200
    return _action_form_page(
        request,
        title="Merge thread",
        form=form,
        target=thread,
        cancel=thread.get_absolute_url(),
        button="Merge",
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def thread_purge(request: HttpRequest, thread_id: int) -> HttpResponse:
    thread = queries.get_thread(request.user, thread_id)
    permissions.check_purge_thread(request.user, thread)
    form = PurgeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            board = thread.board
            moderation.purge_thread(
                request.user,
                thread,
                confirm_title=form.cleaned_data["confirm_title"],
                reason=form.cleaned_data["reason"],
            )
            messages.success(request, "The thread was deleted permanently.")
            return redirect(board.get_absolute_url())
        except ValidationError as exc:
            form.add_error("confirm_title", _errors(exc))
    status = 400 if request.method == "POST" else 200
    return _action_form_page(
        request,
        title="Delete thread permanently",
        form=form,
        target=thread,
        cancel=thread.get_absolute_url(),
        button="Delete permanently",
        status=status,
    )


# ---------------------------------------------------------------- post tools

POST_ACTIONS: dict[str, tuple[Any, type[forms.Form], str, str]] = {
    "hide": (moderation.hide_post, RequiredReasonForm, "Hide", "The post is hidden."),
    "restore": (moderation.restore_post, ReasonForm, "Restore", "The post is visible again."),
    "delete": (moderation.delete_post, ReasonForm, "Delete", "The post is deleted."),
    "undelete": (
        moderation.restore_deleted_post,
        ReasonForm,
        "Restore deleted",
        "The post is restored.",
    ),
}


def _post_action_view(name: str):  # noqa: ANN202 (a view function)
    action, form_class, label, done = POST_ACTIONS[name]

    @require_POST
    @login_required
    def view(request: HttpRequest, post_id: int) -> HttpResponse:
        post = queries.get_post(request.user, post_id)
        permissions.check_moderate_post(request.user, post)
        form = form_class(request.POST)
        if form.is_valid():
            try:
                action(request.user, post, reason=form.cleaned_data["reason"])
                messages.success(request, done)
                return _back(request, post.get_absolute_url())
            except ValidationError as exc:
                form.add_error(None, _errors(exc))
        return _action_form_page(
            request,
            title=f"{label} post #{post.number}",
            form=form,
            target=post.thread,
            cancel=post.get_absolute_url(),
            button=label,
        )

    view.__name__ = f"post_{name}"
    return view


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def post_edit(request: HttpRequest, post_id: int) -> HttpResponse:
    post = queries.get_post(request.user, post_id)
    permissions.check_moderate_post(request.user, post)
    is_first = post.number == 1
    initial = {"body": post.body, "title": post.thread.title}
    form = ModeratorEditForm(request.POST or None, initial=initial)
    # Reached from the report queue ("Edit"): saving also closes the post's open reports.
    resolving = (
        bool(request.GET.get("resolve"))
        and Report.objects.filter(post=post, resolved_at__isnull=True).exists()
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        title = (data["title"] or None) if is_first else None
        try:
            if resolving:
                moderation.resolve_report(
                    request.user,
                    post,
                    resolution="edit",
                    body=data["body"],
                    title=title,
                    reason=data["reason"],
                )
            else:
                moderation.moderator_edit_post(
                    request.user, post, body=data["body"], title=title, reason=data["reason"]
                )
            messages.success(request, "The post was edited; the reason is in its history.")
            return drafts.mark_sent(request, redirect(post.get_absolute_url()))
        except ValidationError as exc:
            form.add_error("title" if exc.code == "title" else "body", _errors(exc))
    return render(
        request,
        "moderation/edit_post.html",
        {"post": post, "form": form, "is_first": is_first, "resolving": resolving},
        status=400 if request.method == "POST" else 200,
    )


# ---------------------------------------------------------------- reports


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def report(request: HttpRequest, post_id: int) -> HttpResponse:
    post = queries.get_post(request.user, post_id)
    permissions.check_report(request.user, post)
    already = Report.objects.filter(post=post, reporter=request.user).exists()
    form = ReportForm(request.POST or None)
    status = 400 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        try:
            moderation.report_post(
                request.user,
                post,
                reason=form.cleaned_data["reason"],
                text=form.cleaned_data["text"],
            )
            messages.success(request, "Thank you: the moderators will look at this post.")
            return redirect(post.get_absolute_url())
        except ValidationError as exc:
            form.add_error("text" if exc.code == "text" else None, _errors(exc))
        except limits.RateLimited as limited:
            form.add_error(None, limited.message)
            status = 429
    return render(
        request,
        "moderation/report.html",
        {
            "post": post,
            "form": form,
            "already": already,
            "body_visible": permissions.can_see_post_body(request.user, post),
        },
        status=status,
    )


@require_safe
@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """Open reports, one item per post, oldest first, with counts, reasons and the post."""
    _moderator_page(request)
    items_qs = (
        moderation.open_reports(request.user)
        .values("post_id")
        .annotate(count=Count("id"), first=Min("created_at"))
        .order_by("first", "post_id")
    )
    page = Paginator(items_qs, PER_PAGE).get_page(request.GET.get("page"))
    post_ids = [row["post_id"] for row in page.object_list]
    posts = Post.objects.select_related("author", "thread__board").in_bulk(post_ids)
    reports: dict[int, list[Report]] = defaultdict(list)
    for r in (
        Report.objects.filter(post_id__in=post_ids, resolved_at__isnull=True)
        .select_related("reporter")
        .order_by("created_at")
    ):
        reports[r.post_id].append(r)
    items = []
    for row in page.object_list:
        post = posts[row["post_id"]]
        reasons: dict[str, int] = defaultdict(int)
        for r in reports[post.pk]:
            reasons[r.get_reason_display()] += 1
        items.append(
            {
                "post": post,
                "count": row["count"],
                "first": row["first"],
                "reasons": dict(reasons),
                "reports": reports[post.pk],
            }
        )
    return render(
        request,
        "moderation/queue.html",
        {
            "items": items,
            "page": page,
            "can_approve": permissions.can_approve_members(request.user),
        },
    )


@require_POST
@login_required
def resolve(request: HttpRequest, post_id: int) -> HttpResponse:
    post = queries.get_post(request.user, post_id)
    permissions.check_moderate_post(request.user, post)
    form = ResolveForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        if data["resolution"] == "edit" and not data["body"]:
            # Editing needs the editor: send the moderator there; the reports close on save.
            return redirect(reverse("moderation:post_edit", args=[post.pk]) + "?resolve=1")
        try:
            n = moderation.resolve_report(
                request.user,
                post,
                resolution=data["resolution"],
                reason=data["reason"],
                body=data["body"] or None,
            )
            messages.success(request, f"{n} report{'s' if n != 1 else ''} resolved.")
            return _back(request, reverse("moderation:queue"))
        except ValidationError as exc:
            form.add_error(None, _errors(exc))
    return _action_form_page(
        request,
        title=f"Resolve reports on post #{post.number}",
        form=form,
        target=post.thread,
        cancel=reverse("moderation:queue"),
        button="Resolve",
    )


# ---------------------------------------------------------------- members


@require_safe
@login_required
def member(request: HttpRequest, username: str) -> HttpResponse:
    _moderator_page(request)
    member = _member(username)
    board_ids = permissions.visible_board_ids(request.user)
    moderated = permissions.moderated_board_ids(request.user)
    posts = Post.objects.filter(author=member, thread__board_id__in=board_ids)
    if moderated is not None:
        # Hidden and removed posts only where this moderator moderates.
        posts = posts.filter(
            Q(thread__board_id__in=moderated)
            | Q(
                is_hidden=False, is_deleted=False, thread__is_hidden=False, thread__is_deleted=False
            )
        )
    recent = list(posts.select_related("thread__board").order_by("-created_at")[:20])
    # Reports and history follow the same rule as the posts and the log: nothing from a board
    # this moderator may not see, nor from hidden threads of boards they do not moderate.
    reports = Report.objects.filter(post__thread__board_id__in=board_ids)
    history = ModerationAction.objects.filter(target_user=member)
    if moderated is not None:
        reports = reports.filter(
            Q(post__thread__board_id__in=moderated)
            | Q(post__thread__is_hidden=False, post__thread__is_deleted=False)
        )
        history = history.filter(Q(board_id__in=moderated) | Q(board__isnull=True))
    reports_made = list(
        reports.filter(reporter=member).select_related("post__thread").order_by("-created_at")[:20]
    )
    reports_received = list(
        reports.filter(post__author=member)
        .select_related("post__thread", "reporter")
        .order_by("-created_at")[:20]
    )
    history = list(history.select_related("actor", "thread", "undone_by")[:30])
    _describe(history, request.user)
    today = timezone.localdate()
    return render(
        request,
        "moderation/member.html",
        {
            "member": member,
            "recent": recent,
            "reports_made": reports_made,
            "reports_received": reports_received,
            "history": history,
            "can_moderate_member": permissions.can_moderate_member(request.user, member),
            "can_approve": permissions.can_approve_members(request.user),
            "suspend_form": SuspendForm(auto_id=SuspendForm.AUTO_ID),
            "silence_form": SilenceForm(auto_id=SilenceForm.AUTO_ID),
            "today": today,
        },
    )


def _member_action(
    request: HttpRequest, username: str, form: forms.Form | None, run: Any, done: str, title: str
) -> HttpResponse:
    _moderator_page(request)  # before the lookup: a non-moderator learns nothing about who exists
    member = _member(username)
    permissions.check_moderate_member(request.user, member)
    url = reverse("moderation:member", args=[member.username])
    form = form if form is not None else ReasonForm(request.POST)
    if form.is_valid():
        try:
            run(member, form.cleaned_data)
            messages.success(request, done.format(name=member.name))
            return _back(request, url)
        except ValidationError as exc:
            form.add_error(None, _errors(exc))
    return _action_form_page(
        request, title=title, form=form, target=member, cancel=url, button=title
    )


@require_POST
@login_required
def member_suspend(request: HttpRequest, username: str) -> HttpResponse:
    def run(member: Any, data: dict) -> None:
        until = None if data["indefinitely"] else _end_of_day(data["until"])
        moderation.suspend_member(request.user, member, until=until, reason=data["reason"])

    return _member_action(
        request,
        username,
        SuspendForm(request.POST, auto_id=SuspendForm.AUTO_ID),
        run,
        "{name} is suspended.",
        "Suspend",
    )


@require_POST
@login_required
def member_silence(request: HttpRequest, username: str) -> HttpResponse:
    def run(member: Any, data: dict) -> None:
        moderation.silence_member(
            request.user, member, until=_end_of_day(data["until"]), reason=data["reason"]
        )

    return _member_action(
        request,
        username,
        SilenceForm(request.POST, auto_id=SilenceForm.AUTO_ID),
        run,
        "{name} is silenced.",
        "Silence",
    )


@require_POST
@login_required
def member_lift_suspension(request: HttpRequest, username: str) -> HttpResponse:
    def run(member: Any, data: dict) -> None:
        moderation.lift_suspension(request.user, member, reason=data["reason"])

    return _member_action(
        request, username, None, run, "{name}'s suspension is lifted.", "Lift suspension"
    )


@require_POST
@login_required
def member_lift_silence(request: HttpRequest, username: str) -> HttpResponse:
    def run(member: Any, data: dict) -> None:
        moderation.lift_silence(request.user, member, reason=data["reason"])

    return _member_action(
        request, username, None, run, "{name}'s silence is lifted.", "Lift silence"
    )


# ---------------------------------------------------------------- the log


@require_safe
@login_required
def log(request: HttpRequest) -> HttpResponse:
    _moderator_page(request)
    user = request.user
    entries = ModerationAction.objects.select_related(
        "actor", "target_user", "thread", "post", "board", "undone_by"
    )
    moderated = permissions.moderated_board_ids(user)
    if moderated is not None:
        # Board moderators see their boards' entries and member-wide ones (no board).
        entries = entries.filter(Q(board_id__in=moderated) | Q(board__isnull=True))
    form = LogFilterForm(request.GET or None, user=user, entries=entries)
    status = 200
    if form.is_bound and not form.is_valid():
        # Showing everything would look like the filters applied: show the errors, no entries.
        entries = entries.none()
        status = 400
    elif form.is_valid():
        data = form.cleaned_data
        if data["moderator"]:
            entries = entries.filter(actor__username__iexact=data["moderator"].strip())
        if data["member"]:
            entries = entries.filter(target_user__username__iexact=data["member"].strip())
        if data["board"]:
            entries = entries.filter(board=data["board"])
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["date_from"]:
            entries = entries.filter(created_at__gte=_start_of_day(data["date_from"]))
        if data["date_to"]:
            entries = entries.filter(created_at__lte=_end_of_day(data["date_to"]))
    page = Paginator(entries.order_by("-created_at", "-id"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    page.object_list = list(page.object_list)
    _describe(page.object_list, request.user)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "moderation/log.html",
        {"page": page, "form": form, "query": query.urlencode()},
        status=status,
    )


@require_POST
@login_required
def undo(request: HttpRequest, action_id: int) -> HttpResponse:
    _moderator_page(request)
    entry = ModerationAction.objects.filter(pk=action_id).first()
    if entry is None:
        raise Http404("No such log entry.")
    moderated = permissions.moderated_board_ids(request.user)
    if moderated is not None and entry.board_id is not None and entry.board_id not in moderated:
        raise Http404("No such log entry.")  # as for a missing id: no oracle of other boards
    try:
        moderation.undo_action(request.user, entry)
        messages.success(request, f"Undone: {entry.action.replace('_', ' ')}.")
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return _back(request, reverse("moderation:log"))


app_name = "moderation"
urlpatterns = [
    path("mod/", queue, name="queue"),
    path("mod/log/", log, name="log"),
    path("mod/log/<int:action_id>/undo/", undo, name="undo"),
    path("mod/reports/<int:post_id>/resolve/", resolve, name="resolve"),
    path("mod/u/<str:username>/", member, name="member"),
    path("mod/u/<str:username>/suspend/", member_suspend, name="member_suspend"),
    path("mod/u/<str:username>/silence/", member_silence, name="member_silence"),
    path(
        "mod/u/<str:username>/lift-suspension/",
        member_lift_suspension,
        name="member_lift_suspension",
    ),
    path("mod/u/<str:username>/lift-silence/", member_lift_silence, name="member_lift_silence"),
    path("p/<int:post_id>/report/", report, name="report"),
    path("p/<int:post_id>/mod/edit/", post_edit, name="post_edit"),
    *[
        path(f"p/<int:post_id>/mod/{name}/", _post_action_view(name), name=f"post_{name}")
        for name in POST_ACTIONS
    ],
    *[
        path(f"t/<int:thread_id>/mod/{name}/", _thread_action_view(name), name=f"thread_{name}")
        for name in THREAD_ACTIONS
    ],
    path("t/<int:thread_id>/mod/rename/", thread_rename, name="thread_rename"),
    path("t/<int:thread_id>/mod/move/", thread_move, name="thread_move"),
    path("t/<int:thread_id>/mod/split/", thread_split, name="thread_split"),
    path("t/<int:thread_id>/mod/merge/", thread_merge, name="thread_merge"),
    path("t/<int:thread_id>/mod/purge/", thread_purge, name="thread_purge"),
]

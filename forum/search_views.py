"""The search page: /search/?q=...&board=...&author=...&date_from=...&date_to=...&page=N.

Thin: the form parses and validates input, forum/search.py does the searching. The board filter
offers only boards the searcher may see; a board slug that is unknown or not visible answers
exactly like a search with no results, so the page never reveals that a private board exists.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_safe

from . import search as search_index
from .queries import parse_page


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search posts and titles",
        required=False,
        strip=True,
        max_length=search_index.QUERY_MAX,
        widget=forms.TextInput(attrs={"type": "search"}),
        help_text='Words, "exact phrases", word OR word to match either, -word to exclude.',
        error_messages={
            "max_length": "Search text can be at most %(limit_value)d characters "
            "(it has %(show_value)d)."
        },
    )
    board = forms.CharField(label="Board", required=False, max_length=80)
    author = forms.CharField(label="Author (username)", required=False, max_length=150)
    date_from = forms.DateField(
        label="From",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the start date as YYYY-MM-DD."},
    )
    date_to = forms.DateField(
        label="To",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the end date as YYYY-MM-DD."},
    )

    def clean_q(self) -> str:
        q = self.cleaned_data["q"]
        if not q:
            return q
        parsed = search_index.parse_query(q)
        if parsed.is_empty:
            raise forms.ValidationError(
                "Search for at least one word (letters or numbers); words starting with "
                "“-” only exclude."
            )
        terms = sum(len(group) for group in parsed.groups) + len(parsed.excluded)
        if terms > search_index.QUERY_MAX_TERMS:
            raise forms.ValidationError(
                f"Use at most {search_index.QUERY_MAX_TERMS} words or phrases (it has {terms})."
            )
        return q

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("The start date is after the end date.")
        return data


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET if request.GET else None)
    boards = search_index.board_choices(request.user)
    results = None
    if form.is_bound and form.is_valid() and form.cleaned_data["q"]:
        data = form.cleaned_data
        board_ids = {board.id for board in boards}
        if data["board"]:
            board_ids = {board.id for board in boards if board.slug == data["board"]}
        results = search_index.search_posts(
            request.user,
            data["q"],
            board_ids=board_ids,
            author=data["author"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            page=parse_page(request.GET.get("page")),
        )
    return render(
        request,
        "forum/search.html",
        {
            "form": form,
            "boards": boards,
            "selected_board": form.data.get("board", "") if form.is_bound else "",
            "results": results,
        },
    )


app_name = "search"
urlpatterns = [path("search/", search, name="search")]

"""`{% url %}` for every template, through forum.urlcache.fast_reverse.

Django's tag calls reverse() each time (~20-30 us); a member's page header alone prints ~14
URLs. This library is listed in settings.TEMPLATES["OPTIONS"]["builtins"], after Django's own,
so its `url` replaces the built-in one everywhere with the same syntax and output: it parses
with Django's parser and takes the fast path only for positional arguments (keyword arguments
go to Django's node unchanged); fast_reverse itself leaves to reverse() any argument it could
not fill in exactly.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template import defaulttags
from django.urls import NoReverseMatch
from django.utils.html import conditional_escape

from ..urlcache import fast_reverse

register = template.Library()


class FastURLNode(defaulttags.URLNode):
    def render(self, context: Any) -> str:
        if self.kwargs:
            return super().render(context)
        args = [arg.resolve(context) for arg in self.args]
        view_name = self.view_name.resolve(context)
        try:
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        url = ""
        try:
            url = fast_reverse(view_name, *args, current_app=current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser: Any, token: Any) -> FastURLNode:
    node = defaulttags.url(parser, token)
    return FastURLNode(node.view_name, node.args, node.kwargs, node.asvar)

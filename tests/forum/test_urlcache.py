"""forum.urlcache.fast_reverse gives what reverse() gives, for every URL the models and the
post fragments print, under a script prefix too, and leaves to reverse() what it cannot fill."""

from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, clear_script_prefix, reverse, set_script_prefix

from forum.urlcache import fast_reverse

CASES = [
    ("forum:thread", (5, "timeline-for-the-conference")),
    ("forum:thread", (123456789, "thread")),
    ("forum:thread", (7, "A_Mixed-Case_slug-2")),
    ("forum:board", ("work-based-learning",)),
    ("forum:post", (42,)),
    ("forum:edit_post", (42,)),
    ("forum:react", (1,)),
    ("forum:index", ()),
]


@pytest.mark.parametrize(("name", "args"), CASES)
def test_fast_reverse_is_reverse(name, args):
    assert fast_reverse(name, *args) == reverse(name, args=args)
    assert fast_reverse(name, *args) == reverse(name, args=args)  # from the cached pattern


def test_fast_reverse_follows_the_script_prefix():
    try:
        for prefix in ("/forum/", "/other/"):
            set_script_prefix(prefix)
            for name, args in CASES:
                url = fast_reverse(name, *args)
                assert url == reverse(name, args=args) and url.startswith(prefix)
    finally:
        clear_script_prefix()


def test_arguments_reverse_would_quote_or_refuse_go_through_reverse():
    odd = "caf\u00e9 & co"
    with pytest.raises(NoReverseMatch):
        reverse("forum:board", args=[odd])  # the board pattern takes slugs only
    with pytest.raises(NoReverseMatch):
        fast_reverse("forum:board", odd)
    with pytest.raises(NoReverseMatch):
        fast_reverse("forum:post", -3)
    with pytest.raises(NoReverseMatch):
        fast_reverse("forum:post", 1, 2)
    assert fast_reverse("forum:thread", 9, "x") == reverse("forum:thread", args=[9, "x"])


@pytest.mark.django_db
def test_model_urls_are_reverse(thread):
    assert thread.get_absolute_url() == reverse("forum:thread", args=[thread.pk, thread.slug])
    assert thread.board.get_absolute_url() == reverse("forum:board", args=[thread.board.slug])
    post = thread.posts.first()
    assert post.get_absolute_url() == reverse("forum:post", args=[post.pk])


# ---------------------------------------------------------------- the {% url %} tag


def _render(source: str, **context) -> str:
    from django.template import Context, Template

    return Template(source).render(Context(context))


def test_every_template_url_tag_is_the_fast_one():
    from django.template import Template

    from forum.templatetags.fast_url import FastURLNode

    assert isinstance(Template("{% url 'forum:index' %}").nodelist[0], FastURLNode)


@pytest.mark.parametrize(
    ("source", "context", "expect"),
    [
        ("{% url 'forum:index' %}", {}, reverse("forum:index")),
        ("{% url 'forum:post' pk %}", {"pk": 42}, reverse("forum:post", args=[42])),
        (
            "{% url 'forum:thread' pk slug %}",
            {"pk": 5, "slug": "a-slug"},
            reverse("forum:thread", args=[5, "a-slug"]),
        ),
        ("{% url 'forum:board' slug %}", {"slug": "jobs"}, reverse("forum:board", args=["jobs"])),
        # keyword arguments: Django's own node
        (
            "{% url 'forum:thread' thread_id=5 slug='s' %}",
            {},
            reverse("forum:thread", kwargs={"thread_id": 5, "slug": "s"}),
        ),
        # a username reverse() must quote: reverse() itself, escaped for HTML
        (
            "{% url 'members:profile' name %}",
            {"name": "o'neil+cte@x.org"},
            reverse("members:profile", args=["o'neil+cte@x.org"]).replace("'", "&#x27;"),
        ),
        (
            "{% url 'forum:post' pk as link %}[{{ link }}]",
            {"pk": 7},
            f"[{reverse('forum:post', args=[7])}]",
        ),
        ("{% url 'forum:board' bad as link %}[{{ link }}]", {"bad": "é é"}, "[]"),
    ],
)
def test_url_tag_renders_what_djangos_renders(source, context, expect):
    assert _render(source, **context) == expect
    assert _render(source, **context) == expect  # again, from the cached pattern


def test_url_tag_still_refuses_what_cannot_be_reversed():
    with pytest.raises(NoReverseMatch):
        _render("{% url 'forum:board' bad %}", bad="é é")
    with pytest.raises(NoReverseMatch):
        _render("{% url 'forum:no_such_page' %}")

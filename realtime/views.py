"""The one page the live layer serves: a post as *this* viewer sees it.

Where viewers see a change differently (a post hidden for members, shown marked to moderators
and its author) the event says only "post N changed"; each client fetches its own view here.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from forum import permissions, queries
from forum.models import REACTION_EMOJI, ReactionKind


@require_safe
@never_cache
def post_fragment(request: HttpRequest, post_id: int) -> HttpResponse:
    """The post partial for this viewer; 404 exactly as for a post that does not exist."""
    user = request.user
    post = queries.get_post(user, post_id)
    thread = post.thread
    can_moderate = permissions.can_moderate_thread(user, thread)
    post.body_visible = can_moderate or permissions.can_see_post_body(user, post)
    queries.attach_reactions(user, [post])
    context = {
        "post": post,
        "thread": thread,
        "board": thread.board,
        "can_reply": permissions.can_reply(user, thread),
        "can_moderate": can_moderate,
        "reaction_kinds": [(k, label, REACTION_EMOJI[k]) for k, label in ReactionKind.choices],
    }
    return render(request, "forum/_post.html", context)

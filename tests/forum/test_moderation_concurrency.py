"""Moderation under concurrent writers: counters stay exact and nothing deadlocks while members
reply and moderators hide, restore and move at the same moment (real threads, own connections).
Runs on SQLite (IMMEDIATE transactions) and on PostgreSQL (row locks)."""

from __future__ import annotations

import traceback

import pytest

from forum import actions, moderation
from forum.models import Thread
from tests.conftest import make_board, make_member, make_reply, make_thread
from tests.forum.test_concurrency import _run_together
from tests.forum.test_moderation_actions import assert_counts_exact

REPLIES_EACH = 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_moderation_during_replies_keeps_counters_exact():
    moderator = make_member("concmod")
    starter = make_member("concstarter")
    writers = [make_member(f"concwriter{i}") for i in range(3)]
    board_a = make_board("Busy A", moderators=[moderator])
    board_c = make_board("Busy C", moderators=[moderator])
    busy = make_thread(board_a, starter, title="Replies and moderation at once")
    wanderer = make_thread(board_a, starter, title="A thread that moves around")
    targets = [make_reply(busy, starter, f"Early reply {i}") for i in range(4)]

    def reply_many(member, thread_id):
        for i in range(REPLIES_EACH):
            actions.reply_to_thread(member, Thread(pk=thread_id), body=f"Reply {i} by {member}")

    def moderate():
        for round_ in range(3):
            for post in targets:
                moderation.hide_post(moderator, post.pk, reason=f"Round {round_}")
            moderation.pin_thread(moderator, busy.pk)
            moderation.move_thread(moderator, wanderer.pk, board=board_c)
            for post in targets:
                moderation.restore_post(moderator, post.pk)
            moderation.unpin_thread(moderator, busy.pk)
            moderation.move_thread(moderator, wanderer.pk, board=board_a)

    jobs = [(lambda w=w: reply_many(w, busy.pk)) for w in writers[:2]]
    jobs.append(lambda: reply_many(writers[2], wanderer.pk))
    jobs.append(moderate)
    errors = _run_together(lambda job: job(), [(job,) for job in jobs])
    assert not errors, "".join(traceback.format_exception(errors[0])) if errors else ""

    assert_counts_exact(board_a, board_c)
    busy.refresh_from_db()
    assert busy.post_count == 1 + len(targets) + 2 * REPLIES_EACH
    assert busy.reply_count == len(targets) + 2 * REPLIES_EACH
    wanderer.refresh_from_db()
    assert wanderer.board_id == board_a.pk and wanderer.post_count == 1 + REPLIES_EACH
    board_a.refresh_from_db()
    assert board_a.post_count == busy.post_count + wanderer.post_count
    assert board_c.thread_count == 0 and board_c.post_count == 0

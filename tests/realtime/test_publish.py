"""Events are recorded with the change and rung only after commit; a rollback rings nothing
and leaves no event (one test per forum action that publishes)."""

from __future__ import annotations

import pytest
from django.db import transaction

from forum import actions
from realtime import publish
from realtime.models import StreamEvent
from tests.conftest import make_board, make_member, make_reply, make_thread

pytestmark = pytest.mark.django_db(transaction=True)


class Rollback(Exception):
    pass


@pytest.fixture
def rung(monkeypatch):
    sent: list[dict] = []
    monkeypatch.setattr(publish, "send_now", lambda message: sent.append(message) or True)
    return sent


@pytest.fixture
def world():
    board = make_board()
    author, other = make_member(), make_member()
    thread = make_thread(board, author)
    post = make_reply(thread, author, "A reply to react to")
    return {"board": board, "author": author, "other": other, "thread": thread, "post": post}


ACTIONS = {
    "create_thread": (
        lambda w: actions.create_thread(
            w["author"], w["board"], title="Dual enrollment", body="Who runs it?"
        ),
        {"thread.created"},
    ),
    "reply_to_thread": (
        lambda w: actions.reply_to_thread(w["other"], w["thread"], body="Me too"),
        {"post.created", "thread.updated"},
    ),
    "edit_post": (
        lambda w: actions.edit_post(w["author"], w["post"], body="Edited text"),
        {"post.changed"},
    ),
    "delete_own_post": (
        lambda w: actions.delete_own_post(w["author"], w["post"]),
        {"post.changed"},
    ),
    "react": (
        lambda w: actions.react(w["other"], w["post"], "like"),
        {"post.reactions"},
    ),
}


@pytest.mark.parametrize("name", list(ACTIONS))
def test_action_publishes_after_commit(name, world, rung):
    run_action, types = ACTIONS[name]
    before = StreamEvent.objects.count()
    with transaction.atomic():
        run_action(world)
        assert rung == []  # nothing rung inside the transaction
        assert StreamEvent.objects.count() > before  # but already recorded with the change
    assert types <= {m["type"] for m in rung}  # (plus any notification of the recipients)
    for message in rung:
        event = StreamEvent.objects.get(stream=message["stream"], seq=message["id"])
        assert event.payload == message["data"]


@pytest.mark.parametrize("name", list(ACTIONS))
def test_action_publishes_nothing_on_rollback(name, world, rung):
    run_action, _ = ACTIONS[name]
    before = StreamEvent.objects.count()
    with pytest.raises(Rollback), transaction.atomic():
        run_action(world)
        raise Rollback
    assert rung == []
    assert StreamEvent.objects.count() == before


def test_send_now_failure_is_logged_not_raised(monkeypatch, caplog):
    class DownLayer:
        async def group_send(self, group, message):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(publish, "get_channel_layer", lambda: DownLayer())
    monkeypatch.setattr(publish, "_paused_until", 0.0)
    assert publish.send_now({"stream": "thread:1", "id": 1, "type": "x", "data": {}}) is False
    assert "live publish failed" in caplog.text
    # The publisher pauses: the next ring does not wait for Redis again.
    assert publish.send_now({"stream": "thread:1", "id": 2, "type": "x", "data": {}}) is False
    assert caplog.text.count("live publish failed") == 1


def test_event_ids_increase_per_stream(world):
    thread = world["thread"]
    for n in range(3):
        make_reply(thread, world["other"], f"reply {n}")
    seqs = list(
        StreamEvent.objects.filter(stream=f"thread:{thread.pk}").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, len(seqs) + 1))

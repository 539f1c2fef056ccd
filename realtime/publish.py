"""The only code that touches the channel layer for sending. It imports nothing from forum/.

Actions call `publish_on_commit(stream, type, data)` inside their transaction: the event is
written to the event log at once (so it commits or rolls back with the change) and the doorbell
rings only after commit. A failed ring is logged, never raised: the database has the record and
clients catch up from it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import F

from .models import StreamEvent, StreamSequence
from .streams import group_name

log = logging.getLogger(__name__)


def next_seq(stream: str) -> int:
    """Allocate the next event number of a stream; the row stays locked until commit."""
    updated = StreamSequence.objects.filter(stream=stream).update(last_seq=F("last_seq") + 1)
    if not updated:
        StreamSequence.objects.get_or_create(stream=stream)
        StreamSequence.objects.filter(stream=stream).update(last_seq=F("last_seq") + 1)
    return StreamSequence.objects.values_list("last_seq", flat=True).get(stream=stream)


def record_event(stream: str, type: str, data: dict[str, Any]) -> StreamEvent:
    return StreamEvent.objects.create(stream=stream, seq=next_seq(stream), type=type, payload=data)


def publish_on_commit(stream: str, type: str, data: dict[str, Any]) -> StreamEvent:
    """Record an event in the current transaction and ring the doorbell once it commits."""
    event = record_event(stream, type, data)
    message = event.as_message()
    transaction.on_commit(lambda: send_now(message))
    return event


# After a failed ring, skip ringing for a few seconds: with Redis down every publish would
# otherwise wait for a connect timeout inside the member's request. The events are recorded;
# the hubs' sweep and the clients' resume deliver them once Redis is back.
PAUSE_AFTER_FAILURE = 3.0
_paused_until = 0.0


def send_now(message: dict[str, Any]) -> bool:
    """Ring the doorbell for one recorded event. Never raises."""
    global _paused_until
    if time.monotonic() < _paused_until:
        log.info(
            "live publish skipped for %s #%s (layer down)", message.get("stream"), message.get("id")
        )
        return False
    try:
        layer = get_channel_layer()
        if layer is None:
            return False
        async_to_sync(layer.group_send)(
            group_name(message["stream"]), {"type": "stream.event", "message": message}
        )
        return True
    except Exception:  # Redis down, layer full...: clients will catch up from the database.
        _paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
        log.warning(
            "live publish failed for %s #%s",
            message.get("stream"),
            message.get("id"),
            exc_info=True,
        )
        return False


def disconnect_member(user_id: int, *, reason: str, keep_session: str | None = None) -> None:
    """Tell every socket of this member to re-check who it is (and close if signed out)."""
    from .streams import member_control_group

    message = {
        "type": "member.revoke",
        "user_id": user_id,
        "reason": reason,
        "keep_session": keep_session,
    }
    try:
        async_to_sync(get_channel_layer().group_send)(member_control_group(user_id), message)
    except Exception:
        log.warning("could not notify sockets of member %s", user_id, exc_info=True)

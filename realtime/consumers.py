"""One socket per tab. The protocol is documented in docs/PROTOCOL.md.

The consumer is thin: it parses a frame, rate-limits it, and hands it to one short handler per
message type. Who may follow a stream is answered by realtime.access (forum.permissions);
delivery comes from the per-process hub (realtime.hub), never from a channel-layer channel of
its own: that is why `channel_layer_alias` names no layer.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Awaitable
from functools import lru_cache
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from . import access
from .hub import MAX_CATCH_UP, dumps, get_hub
from .streams import group_name, member_control_group

log = logging.getLogger(__name__)

MAX_FRAME = 16 * 1024  # bytes of one client frame
MAX_SUBSCRIPTIONS = 20
RATE_PER_SECOND = 20.0
RATE_BURST = 40.0
MAX_STRIKES = 20  # refused frames (rate limit, bad input) before the socket is closed
TYPING_INTERVAL = 2.0  # seconds between two typing broadcasts of one member in one thread
MAX_SINCE_MS = 60_000

# Close codes (docs/PROTOCOL.md).
CLOSE_TOO_BIG = 1009
CLOSE_SESSION_ENDED = 4001
CLOSE_ABUSE = 4008


# A board-stream event about a thread only the board's moderators may see (hidden or deleted)
# carries, under this key, what every other subscriber gets instead: {"event": ..., "data": ...}
# (the removal of its row when it has just been hidden), or null (nothing at all). forum/live.py
# sets it; the consumer strips it. See docs/PROTOCOL.md, "What each subscriber is sent".
OTHERS_KEY = "_others"


class Subscription:
    __slots__ = (
        "boards",
        "buffer",
        "last_counts",
        "may_type",
        "moderates",
        "sent",
        "typed_at",
        "view",
    )

    def __init__(self) -> None:
        self.sent = 0
        self.buffer: list[tuple[int, str]] | None = []  # events held while replaying
        self.may_type = False
        self.typed_at = 0.0
        # board:<id>: may this member moderate the board (see its hidden and deleted threads)?
        self.moderates = False
        # mod:all: the boards whose report counts this member is sent (None: all, staff).
        self.boards: frozenset[int] | None = frozenset()
        # mod:all: the counts last sent, so that a change elsewhere sends nothing at all.
        self.last_counts: str | None = None
        # "board" or "mod": events are cut to what this member may see (see _viewed).
        self.view = ""


def view_rights(user: Any, stream: str) -> tuple[bool, frozenset[int] | None]:
    """What this member sees of a stream's events beyond subscribing: (moderates the board of a
    board stream, boards whose report counts a moderators' stream shows; None = all)."""
    from forum import permissions

    kind, _, ident = stream.partition(":")
    if kind == "board":
        return permissions.can_moderate_board(user, int(ident)), frozenset()
    if kind == "mod":
        boards = permissions.moderated_board_ids(user)
        return False, None if boards is None else frozenset(boards)
    return False, frozenset()


@lru_cache(maxsize=256)
def _board_views(text: str) -> tuple[str, str | None] | None:
    """For a board-stream event frame restricted to moderators: (the moderators' frame, the
    others' frame or None for nothing). None when every subscriber gets the frame as it is.
    Cached by text: the hub hands every socket the same string, so this runs once per event."""
    frame = json.loads(text)
    data = frame.get("data")
    if not isinstance(data, dict) or OTHERS_KEY not in data:
        return None
    others = data[OTHERS_KEY]
    full = dumps({**frame, "data": {k: v for k, v in data.items() if k != OTHERS_KEY}})
    if not others:
        return full, None
    return full, dumps({**frame, "event": others["event"], "data": others.get("data", {})})


def replay_view(user: Any, stream: str, events: list[dict]) -> list[dict]:
    """forum.live.replay_view (imported here, at call time: forum.live imports this module)."""
    from forum.live import replay_view as view

    return view(user, stream, events)


@lru_cache(maxsize=64)
def _parsed(text: str) -> dict[str, Any]:
    return json.loads(text)


def report_counts_text(
    text: str, boards: frozenset[int], last: str | None
) -> tuple[str | None, str | None]:
    """A `reports.count` frame cut down to the boards one moderator moderates: (frame to send or
    None when their counts did not change, their counts)."""
    frame = _parsed(text)
    if frame.get("event") != "reports.count":
        return text, last
    by_board = {
        key: n
        for key, n in (frame.get("data", {}).get("by_board") or {}).items()
        if key.isdigit() and int(key) in boards
    }
    data = {"open": sum(by_board.values()), "by_board": by_board}
    counts = dumps(data)
    if counts == last:
        return None, last
    return dumps({**frame, "data": data}), counts


class LiveConsumer(AsyncWebsocketConsumer):
    # Deliveries come from the hub; a per-socket layer channel would cost a layer message per
    # socket per event (and memory per idle socket). get_channel_layer(alias) -> None here.
    channel_layer_alias = "__hub_only__"

    # ------------------------------------------------------------------ lifecycle

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # disconnect() does not run when the task ends otherwise: daphne cancels an
            # application still busy 10 s after its connection closed (a handler waiting on a
            # slow database), and connect() may raise. The hub would keep such a socket, and
            # everything it holds, in its tables for the life of the process.
            self._forget_hub()

    def _forget_hub(self) -> None:
        """Out of every hub group now, without awaiting (this may run while being cancelled;
        after a normal disconnect there is nothing left to do)."""
        self.closed = True
        hub = getattr(self, "hub", None)
        if hub is None:
            return
        for stream in list(self.subs):
            del self.subs[stream]
            hub.forget(group_name(stream), self)
            if stream.startswith("thread:"):
                hub.presence_changed(stream)
        if self.user_id:
            hub.forget(member_control_group(self.user_id), self)

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        signed_in = bool(self.user and self.user.is_authenticated)
        self.user_id: int | None = self.user.pk if signed_in else None
        self.display_name = (self.user.name if self.user_id else "") or ""
        session = self.scope.get("session")
        self.session_key = session.session_key if session is not None else None
        self.subs: dict[str, Subscription] = {}
        self.tokens = RATE_BURST
        self.refilled = time.monotonic()
        self.strikes = 0
        self.closed = False
        # Deliveries held while the member's rights are re-checked (see member_revoked).
        self.holds = 0
        self.held: list[tuple[str | None, int | None, str]] = []
        self.hub = get_hub()
        await self.accept()
        if self.user_id:
            await self.hub.join(member_control_group(self.user_id), self)
        await self.send_frame(
            {
                "type": "hello",
                "user_id": self.user_id,
                "live": self.hub.live,
                "max_subscriptions": MAX_SUBSCRIPTIONS,
                "member": access.member_state(self.user) if self.user_id else None,
            }
        )

    async def disconnect(self, code: int) -> None:
        self.closed = True
        for stream in list(getattr(self, "subs", {})):
            await self._leave(stream)
        if getattr(self, "user_id", None):
            await self.hub.leave(member_control_group(self.user_id), self)

    async def close_with(self, code: int, reason: str, **extra: Any) -> None:
        if self.closed:
            return
        await self.send_frame({"type": "closing", "code": code, "reason": reason, **extra})
        self.closed = True
        await self.close(code=code)

    # ------------------------------------------------------------------ input

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closed:
            return
        try:
            if not self._take_token():
                wait = max(1, math.ceil((1 - self.tokens) / RATE_PER_SECOND))
                await self.refuse(
                    "rate_limited",
                    f"Too many messages. You can send again in {wait} "
                    f"second{'s' if wait != 1 else ''}.",
                )
                return
            if bytes_data is not None:
                if len(bytes_data) > MAX_FRAME:
                    await self.close_with(CLOSE_TOO_BIG, "frame_too_large")
                    return
                await self.refuse("bad_frame", "Binary frames are not supported.")
                return
            if len((text_data or "").encode()) > MAX_FRAME:
                await self.close_with(CLOSE_TOO_BIG, "frame_too_large")
                return
            try:
                message = json.loads(text_data or "")
            except ValueError:
                await self.refuse("bad_json", "The message is not valid JSON.")
                return
            if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                await self.refuse("bad_message", 'A message is an object with a "type".')
                return
            handler = self.handlers.get(message["type"])
            if handler is None:
                await self.refuse("unknown_type", "Unknown message type.")
                return
            await handler(self, message)
        except Exception:
            log.exception("live socket: could not handle a message")
            await self.send_frame(
                {
                    "type": "error",
                    "code": "server_error",
                    "message": "Something went wrong on our side.",
                }
            )

    def _take_token(self) -> bool:
        now = time.monotonic()
        self.tokens = min(RATE_BURST, self.tokens + (now - self.refilled) * RATE_PER_SECOND)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    async def refuse(self, code: str, message: str, stream: str | None = None) -> None:
        """An error frame for a client mistake; too many of them close the socket."""
        self.strikes += 1
        if self.strikes > MAX_STRIKES:
            await self.close_with(CLOSE_ABUSE, "too_many_bad_messages")
            return
        frame = {"type": "error", "code": code, "message": message}
        if stream is not None:
            frame["stream"] = stream
        await self.send_frame(frame)

    # ------------------------------------------------------------------ handlers

    async def on_ping(self, message: dict[str, Any]) -> None:
        await self.send_frame({"type": "pong", "live": self.hub.live})

    async def on_subscribe(self, message: dict[str, Any]) -> None:
        raw = message.get("stream")
        echo = raw[:64] if isinstance(raw, str) else None
        stream = access.canonical_stream(raw)
        last_id = message.get("last_id")
        since_ms = message.get("since_ms", 0)
        if last_id is not None and (
            not isinstance(last_id, int) or isinstance(last_id, bool) or last_id < 0
        ):
            await self.refuse("bad_message", "last_id must be a whole number.", echo)
            return
        if not isinstance(since_ms, int) or isinstance(since_ms, bool) or since_ms < 0:
            await self.refuse("bad_message", "since_ms must be a whole number.", echo)
            return
        if stream is None:
            await self.refuse("not_found", "No such stream.", echo)
            return
        if stream not in self.subs and len(self.subs) >= MAX_SUBSCRIPTIONS:
            await self.refuse(
                "too_many_subscriptions", f"At most {MAX_SUBSCRIPTIONS} streams per socket.", echo
            )
            return
        try:
            allowed = await database_sync_to_async(access.may_subscribe)(self.user, stream)
        except Exception:
            await self._leave(stream)  # a subscribe restarts the stream: it ends either way
            await self._subscribe_failed(stream)
            return
        if not allowed:
            # Exactly the answer for a stream that does not exist: no existence oracle.
            await self.refuse("not_found", "No such stream.", echo)
            return
        sub = Subscription()
        try:
            if stream in self.subs:
                await self._leave(stream)
            self.subs[stream] = sub
            await self._start(stream, sub, last_id, since_ms)
        except Exception:
            # Half made (the database or the layer failed after the permission check): undo
            # it, or its events would be held back for a `subscribed` that never comes.
            if self.subs.get(stream) is sub:
                await self._leave(stream)
            await self._subscribe_failed(stream)

    async def _subscribe_failed(self, stream: str) -> None:
        """Our failure, not the client's (no strike): the stream is named so that the client
        can try that subscription again later, resuming from its last id."""
        log.exception("live socket: could not subscribe to %s", stream)
        await self.send_frame(
            {
                "type": "error",
                "code": "server_error",
                "stream": stream,
                "message": "Could not follow this right now; try again.",
            }
        )

    async def _start(
        self, stream: str, sub: Subscription, last_id: int | None, since_ms: int
    ) -> None:
        """Join, replay what the client missed, answer `subscribed`, then go live."""
        sub.may_type = await database_sync_to_async(access.may_type)(self.user, stream)
        if stream.startswith(("board:", "mod:")):
            sub.view = stream.partition(":")[0]
            sub.moderates, sub.boards = await database_sync_to_async(view_rights)(self.user, stream)
        await self.hub.join(group_name(stream), self)
        if last_id is not None:
            # The client has everything up to last_id. This process's hub may still be behind
            # the one that served the previous socket (another daphne process): its late
            # delivery of an event at or below last_id would be a duplicate.
            sub.sent = last_id
            top = await database_sync_to_async(access.last_seq)(stream)
            events = await database_sync_to_async(access.events_after)(
                stream, last_id, MAX_CATCH_UP + 1
            )
            if last_id > top or len(events) > MAX_CATCH_UP:
                await self.send_frame({"type": "reset", "stream": stream})
                sub.sent = top
                events = []
        else:
            events, top = await database_sync_to_async(access.events_since)(
                stream, min(since_ms, MAX_SINCE_MS) / 1000, MAX_CATCH_UP
            )
            sub.sent = top
            if events:
                sub.sent = events[0]["id"] - 1
        if events:
            # Each thing as it is now, not its past states (forum.live.replay_view).
            events = await database_sync_to_async(replay_view)(self.user, stream, events)
        if sub.view == "mod" and sub.boards is not None:
            await self._seed_counts(stream, sub)
        for event in events:
            await self._send_event(sub, event["id"], self._event_text(event))
        sub.sent = max(sub.sent, top if last_id is None else sub.sent)
        await self.send_frame(
            {"type": "subscribed", "stream": stream, "last_id": sub.sent, "typing": sub.may_type}
        )
        while sub.buffer:
            held, sub.buffer = sub.buffer, []
            for seq, text in held:
                await self._send_event(sub, seq, text)
        sub.buffer = None
        if stream.startswith("thread:"):
            self.hub.presence_changed(stream)
            await self.hub.send_presence_to(stream, self)

    async def _seed_counts(self, stream: str, sub: Subscription) -> None:
        """A board moderator's client shows the counts of the event it has (sub.sent): later
        events that change only other boards' counts must not reach it at all. Before the
        stream's first event no report was open anywhere (every change of a report publishes)."""
        if sub.boards is None:
            return
        if sub.sent <= 0:
            sub.last_counts = dumps({"open": 0, "by_board": {}})
            return
        rows = await database_sync_to_async(access.events_after)(stream, sub.sent - 1, 1)
        if rows and rows[0]["id"] == sub.sent:
            _, sub.last_counts = report_counts_text(self._event_text(rows[0]), sub.boards, None)

    async def on_unsubscribe(self, message: dict[str, Any]) -> None:
        stream = access.canonical_stream(message.get("stream"))
        if stream is None or stream not in self.subs:
            raw = message.get("stream")
            await self.refuse(
                "not_subscribed",
                "You are not subscribed to that stream.",
                raw[:64] if isinstance(raw, str) else None,
            )
            return
        await self._leave(stream)
        await self.send_frame({"type": "unsubscribed", "stream": stream})

    async def on_typing(self, message: dict[str, Any]) -> None:
        stream = access.canonical_stream(message.get("stream"))
        sub = self.subs.get(stream) if stream else None
        if sub is None or not sub.may_type or not self.user_id:
            await self.refuse("not_allowed", "You cannot reply here.", stream or None)
            return
        now = time.monotonic()
        if now - sub.typed_at < TYPING_INTERVAL:
            return  # throttled: the indicator is already showing for others
        sub.typed_at = now
        await self.hub.group_send(
            group_name(stream),
            {
                "type": "stream.typing",
                "stream": stream,
                "user_id": self.user_id,
                "name": self.display_name,
            },
        )

    handlers = {
        "ping": on_ping,
        "subscribe": on_subscribe,
        "unsubscribe": on_unsubscribe,
        "typing": on_typing,
    }

    # ------------------------------------------------------------------ output (from the hub)

    def socket_user(self) -> Any:
        return self.user

    @staticmethod
    def _event_text(event: dict[str, Any]) -> str:
        return dumps(
            {
                "type": "event",
                "stream": event["stream"],
                "id": event["id"],
                "event": event["type"],
                "data": event.get("data", {}),
            }
        )

    async def _send_event(self, sub: Subscription, seq: int, text: str) -> None:
        if seq <= sub.sent:
            return
        sub.sent = seq
        if sub.view:
            viewed = self._viewed(sub, text)
            if viewed is None:
                return  # nothing of this event is for this member (its id is skipped)
            text = viewed
        await self.send(text_data=text)

    @staticmethod
    def _viewed(sub: Subscription, text: str) -> str | None:
        """The event as this member may see it (docs/PROTOCOL.md, "What each subscriber is
        sent"): on a board stream, hidden and deleted threads only for its moderators; on the
        moderators' stream, only the report counts of the boards they moderate."""
        if sub.view == "board":
            views = _board_views(text)
            if views is None:
                return text
            return views[0] if sub.moderates else views[1]
        if sub.boards is None:
            return text  # staff: every board
        viewed, sub.last_counts = report_counts_text(text, sub.boards, sub.last_counts)
        return viewed

    async def deliver_event(self, stream: str, seq: int, text: str) -> None:
        sub = self.subs.get(stream)
        if sub is None or self.closed:
            return
        if self.holds:
            self.held.append((stream, seq, text))
            return
        if sub.buffer is not None:
            sub.buffer.append((seq, text))
            return
        await self._send_event(sub, seq, text)

    async def deliver_frame(self, stream: str | None, text: str) -> None:
        if self.closed or (stream is not None and stream not in self.subs):
            return
        if self.holds:
            self.held.append((stream, None, text))
            return
        await self.send(text_data=text)

    async def stream_revoked(self, stream: str) -> None:
        """The member may no longer see what this stream shows (moved, hidden, signed out)."""
        if stream not in self.subs:
            return
        await self._leave(stream)
        await self.send_frame(
            {
                "type": "error",
                "code": "stream_closed",
                "stream": stream,
                "message": "You can no longer follow this.",
            }
        )

    def member_revoked(self, message: dict[str, Any]) -> Awaitable[None]:
        """Sign-out, password change, suspension, group change: who is this socket now?

        Deliberately not `async def`: the hub calls this while dispatching the revoke and runs
        the returned re-check as a task, so without holding here an event the hub dispatches
        next (a notification posted right after the sign-out) would reach the socket before
        the re-check had run. Deliveries wait until it is done; they are dropped if the socket
        closes and sent, for the streams still allowed, if it stays open."""
        self.holds += 1
        return self._recheck_member(message)

    async def _recheck_member(self, message: dict[str, Any]) -> None:
        try:
            if self.closed:
                return
            user = await database_sync_to_async(access.current_user)(self.session_key)
            reason = str(message.get("reason") or "revoked")
            if access.member_is_cut_off(user) or user.pk != self.user_id:
                self.held = []
                if user.is_authenticated and user.pk == self.user_id:
                    # Suspended, still signed in: the client reconnects as a reader (public
                    # streams only), whichever action made this re-check.
                    await self.close_with(
                        CLOSE_SESSION_ENDED, "suspended", member=access.member_state(user)
                    )
                else:
                    await self.close_with(CLOSE_SESSION_ENDED, reason)
                return
            self.user = user
            for stream, sub in list(self.subs.items()):
                if not await database_sync_to_async(access.may_subscribe)(user, stream):
                    await self.stream_revoked(stream)
                else:
                    sub.may_type = await database_sync_to_async(access.may_type)(user, stream)
                    if sub.view:
                        sub.moderates, sub.boards = await database_sync_to_async(view_rights)(
                            user, stream
                        )
            # The member's own client: silenced, suspension lifted... (docs/PROTOCOL.md).
            await self.send_frame(
                {"type": "member", "reason": reason, "member": access.member_state(user)}
            )
        except Exception:
            # Rights unknown (database unreachable): fail closed. The client reconnects with
            # backoff and resumes from the event log, so nothing is lost.
            log.exception("live socket: could not re-check member %s", self.user_id)
            self.held = []
            await self.close_with(CLOSE_SESSION_ENDED, "recheck_failed")
        finally:
            self.holds -= 1
            if not self.holds:
                await self._release_held()

    async def _release_held(self) -> None:
        held, self.held = self.held, []
        for stream, seq, text in held:
            if seq is None:
                await self.deliver_frame(stream, text)
            else:
                await self.deliver_event(stream, seq, text)

    async def send_frame(self, frame: dict[str, Any]) -> None:
        if self.closed:
            return
        await self.send(text_data=dumps(frame))

    async def _leave(self, stream: str) -> None:
        if self.subs.pop(stream, None) is None:
            return
        await self.hub.leave(group_name(stream), self)
        if stream.startswith("thread:"):
            self.hub.presence_changed(stream)

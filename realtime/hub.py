"""The per-process hub: one channel-layer membership per stream per process, local fan-out.

Channels' stock pattern (every socket joins the group) costs one layer message per socket per
event: ~0.3-0.5 ms each, so a reply to a thread with 1,000 readers takes ~500 ms to reach the
last one. Here each process keeps a registry `group -> local consumers`, joins each group once
with a single hub channel (`layer.new_channel()`), and one receive loop fans every event out
locally with JSON serialized once per event per process.

The hub also keeps the stream's order: events reach it in seq order or a gap is filled from the
database (one query per process, not per socket), and a periodic sweep re-joins groups (a Redis
restart forgets them) and catches up from the database, so a lost doorbell costs seconds, not
data. While the layer is unreachable every local socket is told live updates are paused.

Presence and typing are not recorded: they travel through the same groups as small
"stream.presence" / "stream.typing" messages between hubs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
import weakref
from collections.abc import Iterable
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from . import access
from .streams import group_name, member_control_group

MEMBER_CONTROL_PREFIX = member_control_group(0)[:-1]

log = logging.getLogger(__name__)

# How many missed events a gap fill or resume fetches before telling clients to reload.
MAX_CATCH_UP = 200
# LIVE_SWEEP_SECONDS exists for tests: a long sweep proves that the doorbell (or the hub's own
# recovery) delivered an event, not the database catch-up that would hide its failure.
SWEEP_SECONDS = float(os.environ.get("LIVE_SWEEP_SECONDS") or 5.0)
PRESENCE_REFRESH_SECONDS = 20.0
PRESENCE_EXPIRES_SECONDS = 60.0
PRESENCE_THROTTLE_SECONDS = 1.0
PRESENCE_NAMES = 20


def dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


class LocalSocket(Protocol):
    """What the hub needs from a consumer."""

    user_id: int | None
    display_name: str

    async def deliver_event(self, stream: str, seq: int, text: str) -> None: ...
    async def deliver_frame(self, stream: str | None, text: str) -> None: ...
    async def stream_revoked(self, stream: str) -> None: ...
    async def member_revoked(self, message: dict[str, Any]) -> None: ...
    def socket_user(self) -> Any: ...


class Hub:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.hub_id = uuid.uuid4().hex[:12]
        self.channel: str | None = None
        self.groups: dict[str, set[LocalSocket]] = {}
        self.joining: dict[str, asyncio.Future] = {}
        self.stream_last: dict[str, int] = {}
        # One fan-out at a time per stream (the receive loop and the sweep's catch-up both fan
        # out, and a fan-out can wait on the database): a socket never gets N+1 before N.
        self.stream_locks: dict[str, asyncio.Lock] = {}
        self.live = self.layer is not None
        self.task: asyncio.Task | None = None
        self.sweeper: asyncio.Task | None = None
        self.recovery: asyncio.Task | None = None
        self.background: set[asyncio.Task] = set()
        # presence[stream][hub_id] = (members {user_id: name}, anonymous count, expires at)
        self.presence: dict[str, dict[str, tuple[dict[str, str], int, float]]] = {}
        self.presence_frame: dict[str, str] = {}
        self.presence_due: set[str] = set()
        self.presence_timer: asyncio.TimerHandle | None = None
        self.last_presence_refresh = time.monotonic()
        self.stats = {"events": 0, "deliveries": 0, "gap_fills": 0, "layer_errors": 0}

    # ------------------------------------------------------------------ membership

    async def join(self, group: str, socket: LocalSocket) -> None:
        """Register a local socket; the first one for a group joins it on the layer."""
        members = self.groups.setdefault(group, set())
        members.add(socket)
        pending = self.joining.get(group)
        if pending is not None:
            await asyncio.shield(pending)
            return
        if len(members) > 1:
            return
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.joining[group] = future
        try:
            await self._ensure_running()
            await self._layer_join(group)
            if group.startswith("s."):
                stream = stream_of_group(group)
                top = await database_sync_to_async(access.last_seq)(stream)
                self.stream_last[stream] = max(self.stream_last.get(stream, 0), top)
        finally:
            self.joining.pop(group, None)
            future.set_result(None)

    async def leave(self, group: str, socket: LocalSocket) -> None:
        if self._unregister(group, socket):
            await self._layer_discard(group)

    def forget(self, group: str, socket: LocalSocket) -> None:
        """leave() without awaiting, for a socket whose task is being cancelled: the local
        tables are cleaned at once, the layer membership of a group left empty in the
        background."""
        if self._unregister(group, socket):
            self._spawn(self._layer_discard(group))

    def _unregister(self, group: str, socket: LocalSocket) -> bool:
        """Drop a local socket; True when it was the group's last one (the group is gone)."""
        members = self.groups.get(group)
        if not members or socket not in members:
            return False
        members.discard(socket)
        if members:
            return False
        del self.groups[group]
        if group.startswith("s."):
            self.stream_last.pop(stream_of_group(group), None)
            self.stream_locks.pop(stream_of_group(group), None)
        return True

    async def _layer_discard(self, group: str) -> None:
        if self.layer is not None and self.channel is not None:
            try:
                await self.layer.group_discard(group, self.channel)
            except Exception:  # the layer forgets stale members itself (group expiry)
                self._layer_failed("group_discard")

    def local(self, group: str) -> Iterable[LocalSocket]:
        return tuple(self.groups.get(group, ()))

    async def _layer_join(self, group: str) -> None:
        if self.layer is None or self.channel is None:
            return
        try:
            await self.layer.group_add(group, self.channel)
        except Exception:
            self._layer_failed("group_add")

    async def _ensure_running(self) -> None:
        if self.layer is None:
            return
        if self.channel is None:
            # The default prefix, like every process-local channel of this process (healthz):
            # channels-redis reads all of them from one Redis list per prefix under one receive
            # lock, so a channel with another prefix would never be read while the hub receives.
            self.channel = await self.layer.new_channel()
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._receive_loop())
        if self.sweeper is None or self.sweeper.done():
            self.sweeper = asyncio.get_running_loop().create_task(self._sweep_loop())

    # ------------------------------------------------------------------ layer state

    def _layer_failed(self, what: str) -> None:
        self.stats["layer_errors"] += 1
        if self.live:
            log.warning("channel layer unreachable (%s): live updates paused", what)
            self.live = False
            self._spawn(self._broadcast_status())
        if self.layer is not None and (self.recovery is None or self.recovery.done()):
            # Whatever failed (a receive, a join, a send), retry until the layer works again.
            # A receive that simply works again would neither re-join the groups a restarted
            # Redis forgot nor deliver what was missed, nor tell the sockets.
            self.recovery = asyncio.get_running_loop().create_task(self._recover())

    async def _recover(self) -> None:
        backoff = 0.5
        while not self.live:
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
            with contextlib.suppress(Exception):
                await self._layer_recovered()

    async def _layer_recovered(self) -> None:
        """Re-join every group (a restarted Redis forgot them) and catch up from the database."""
        for group in list(self.groups):
            await self.layer.group_add(group, self.channel)
        self.live = True
        log.warning("channel layer reachable again: live updates resumed")
        # A sign-out, suspension or group change published while the layer was down never
        # reached this process: re-check every member before the catch-up delivers anything.
        self.recheck_members("layer_recovered")
        await self.catch_up_all()
        await self._broadcast_status()

    def recheck_members(self, reason: str) -> int:
        """Make every signed-in socket of this process re-check who it is (as a revoke does):
        deliveries to each wait until its own re-check is done. Returns how many."""
        sockets = {
            socket
            for group, members in self.groups.items()
            if group.startswith(MEMBER_CONTROL_PREFIX)
            for socket in members
        }
        for socket in sockets:
            self._spawn(socket.member_revoked({"type": "member.revoke", "reason": reason}))
        return len(sockets)

    async def _broadcast_status(self) -> None:
        text = dumps({"type": "status", "live": self.live})
        sockets = {s for members in self.groups.values() for s in members}
        for socket in sockets:
            await socket.deliver_frame(None, text)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _receive_loop(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                self._layer_failed("receive")
                if self.recovery is not None:
                    await asyncio.shield(self.recovery)  # receive again once the layer works
                continue
            try:
                await self.dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live hub could not dispatch %s", message.get("type"))

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live hub sweep failed")

    async def sweep(self) -> None:
        """Re-join groups, catch up from the database, refresh presence."""
        if self.layer is not None and self.channel is not None:
            try:
                for group in list(self.groups):
                    await self.layer.group_add(group, self.channel)
                if not self.live:
                    self.live = True
                    await self._broadcast_status()
            except Exception:
                self._layer_failed("sweep")
        if not self.live and self.layer is not None:
            # Revocations travel over the layer, which is down, while this catch-up still
            # delivers from the database: re-check the members first (issue 7 point 3: a signed
            # out or suspended member's socket gets nothing more and closes within a sweep).
            self.recheck_members("layer_down")
        await self.catch_up_all()
        if time.monotonic() - self.last_presence_refresh > PRESENCE_REFRESH_SECONDS:
            self.last_presence_refresh = time.monotonic()
            for group in list(self.groups):
                if group.startswith("s.thread."):
                    self.presence_due.add(stream_of_group(group))
            await self._flush_presence()

    async def catch_up_all(self) -> None:
        streams = [s for s in self.stream_last if group_name(s) in self.groups]
        if not streams:
            return
        tops = await database_sync_to_async(access.last_seqs)(streams)
        for stream in streams:
            if tops.get(stream, 0) > self.stream_last.get(stream, 0):
                async with self._stream_lock(stream):
                    if tops[stream] > self.stream_last.get(stream, 0):
                        await self._fill_gap(stream, tops[stream] + 1)

    # ------------------------------------------------------------------ dispatch

    async def dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "stream.event":
            await self.on_event(message["message"])
        elif kind == "member.revoke":
            group = member_control_group(int(message.get("user_id") or 0))
            for socket in self.local(group):
                self._spawn(socket.member_revoked(message))
        elif kind == "stream.presence":
            self.on_presence(message)
        elif kind == "stream.typing":
            await self.on_typing(message)

    async def on_event(self, event: dict[str, Any]) -> None:
        stream, seq = event["stream"], int(event["id"])
        if group_name(stream) not in self.groups:
            return
        async with self._stream_lock(stream):
            last = self.stream_last.get(stream)
            if last is not None and seq <= last:
                return  # already delivered (gap fill or duplicate doorbell)
            if last is not None and seq > last + 1:
                await self._fill_gap(stream, seq)
            await self._fan_out(event)

    def _stream_lock(self, stream: str) -> asyncio.Lock:
        lock = self.stream_locks.get(stream)
        if lock is None:
            lock = self.stream_locks[stream] = asyncio.Lock()
        return lock

    async def _fill_gap(self, stream: str, upto: int) -> None:
        """Deliver events after stream_last[stream] and before `upto` from the database."""
        self.stats["gap_fills"] += 1
        last = self.stream_last.get(stream, 0)
        wanted = upto - last - 1
        events = await database_sync_to_async(access.events_after)(
            stream, last, min(wanted, MAX_CATCH_UP + 1)
        )
        if wanted > MAX_CATCH_UP:
            text = dumps({"type": "reset", "stream": stream})
            for socket in self.local(group_name(stream)):
                await socket.deliver_frame(stream, text)
            self.stream_last[stream] = upto - 1
            return
        for event in events:
            if event["id"] < upto:
                await self._fan_out(event)

    async def _fan_out(self, event: dict[str, Any]) -> None:
        stream, seq = event["stream"], int(event["id"])
        previous = self.stream_last.get(stream, 0)
        if seq <= previous and previous:
            return
        self.stream_last[stream] = seq
        sockets = self.local(group_name(stream))
        if event["type"] in ("thread.changed",) and stream.startswith("thread:"):
            sockets = await self._still_allowed(stream, event, sockets)
        text = dumps(
            {
                "type": "event",
                "stream": stream,
                "id": seq,
                "event": event["type"],
                "data": event.get("data", {}),
            }
        )
        self.stats["events"] += 1
        self.stats["deliveries"] += len(sockets)
        for socket in sockets:
            await socket.deliver_event(stream, seq, text)

    async def _still_allowed(
        self, stream: str, event: dict[str, Any], sockets: Iterable[LocalSocket]
    ) -> list[LocalSocket]:
        """A thread was hidden, deleted or moved: re-check each viewer before relaying."""
        sockets = list(sockets)
        data = event.get("data") or {}
        if not sockets:
            return sockets
        users = [s.socket_user() for s in sockets]
        allowed = await database_sync_to_async(access.recheck_thread_viewers)(
            int(data.get("thread_id") or stream.split(":")[1]), users
        )
        keep = []
        for socket, ok in zip(sockets, allowed, strict=True):
            if ok:
                keep.append(socket)
            else:
                await socket.stream_revoked(stream)
        return keep

    # ------------------------------------------------------------------ sending between hubs

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Send a non-recorded message (presence, typing) to every hub; locally if the layer
        is down, so a single process keeps working."""
        if self.layer is not None and self.live:
            try:
                await self.layer.group_send(group, message)
                return
            except Exception:
                self._layer_failed("group_send")
        await self.dispatch(message)

    # ------------------------------------------------------------------ typing

    async def on_typing(self, message: dict[str, Any]) -> None:
        stream = message.get("stream", "")
        text = dumps(
            {
                "type": "typing",
                "stream": stream,
                "user_id": message.get("user_id"),
                "name": message.get("name", ""),
            }
        )
        for socket in self.local(group_name(stream)):
            if socket.user_id != message.get("user_id"):
                await socket.deliver_frame(stream, text)

    # ------------------------------------------------------------------ presence

    def presence_changed(self, stream: str) -> None:
        """A local socket joined or left a thread: tell the other hubs (throttled)."""
        self.presence_due.add(stream)
        if self.presence_timer is None:
            loop = asyncio.get_running_loop()
            self.presence_timer = loop.call_later(
                PRESENCE_THROTTLE_SECONDS, lambda: self._spawn(self._flush_presence())
            )

    def _local_presence(self, stream: str) -> tuple[dict[str, str], int]:
        members: dict[str, str] = {}
        anonymous = 0
        for socket in self.local(group_name(stream)):
            if socket.user_id:
                members[str(socket.user_id)] = socket.display_name
            else:
                anonymous += 1
        return members, anonymous

    async def _flush_presence(self) -> None:
        self.presence_timer = None
        due, self.presence_due = self.presence_due, set()
        for stream in due:
            members, anonymous = self._local_presence(stream)
            await self.group_send(
                group_name(stream),
                {
                    "type": "stream.presence",
                    "stream": stream,
                    "hub": self.hub_id,
                    "members": members,
                    "anonymous": anonymous,
                },
            )
            if not members and not anonymous:
                self.presence.pop(stream, None)
                self.presence_frame.pop(stream, None)

    def on_presence(self, message: dict[str, Any]) -> None:
        stream = message.get("stream", "")
        table = self.presence.setdefault(stream, {})
        now = time.monotonic()
        known = message["hub"] in table
        table[message["hub"]] = (
            dict(message.get("members") or {}),
            int(message.get("anonymous") or 0),
            now + PRESENCE_EXPIRES_SECONDS,
        )
        if not known and message["hub"] != self.hub_id and group_name(stream) in self.groups:
            self.presence_due.add(stream)  # a new hub: let it learn about our readers
            self.presence_changed(stream)
        self._spawn(self._send_presence(stream))

    def presence_snapshot(self, stream: str) -> dict[str, Any]:
        now = time.monotonic()
        table = self.presence.get(stream, {})
        for hub in [h for h, (_, _, exp) in table.items() if exp < now]:
            del table[hub]
        # This process's own readers are always current, whatever the layer did.
        local_members, local_anonymous = self._local_presence(stream)
        table[self.hub_id] = (local_members, local_anonymous, now + PRESENCE_EXPIRES_SECONDS)
        members: dict[str, str] = {}
        anonymous = 0
        for hub_members, hub_anonymous, _ in table.values():
            members.update(hub_members)
            anonymous += hub_anonymous
        names = sorted(members.values(), key=str.casefold)[:PRESENCE_NAMES]
        return {
            "type": "presence",
            "stream": stream,
            "count": len(members),
            "anonymous": anonymous,
            "names": names,
            "user_ids": sorted(int(uid) for uid in members)[:PRESENCE_NAMES],
        }

    async def _send_presence(self, stream: str) -> None:
        text = dumps(self.presence_snapshot(stream))
        if self.presence_frame.get(stream) == text:
            return
        self.presence_frame[stream] = text
        for socket in self.local(group_name(stream)):
            await socket.deliver_frame(stream, text)

    async def send_presence_to(self, stream: str, socket: LocalSocket) -> None:
        await socket.deliver_frame(stream, dumps(self.presence_snapshot(stream)))


def stream_of_group(group: str) -> str:
    """'s.thread.12' -> 'thread:12' (the inverse of streams.group_name)."""
    kind, _, ident = group[2:].partition(".")
    return f"{kind}:{ident}"


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """The hub of the running event loop (one per daphne process; one per test loop)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub

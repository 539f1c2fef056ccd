"""Stream names: built on the server from ids, never taken from a client as a group name."""

from __future__ import annotations

import re

STREAM_RE = re.compile(r"^(thread|board|inbox|mod):(\d+|all)$")


def thread_stream(thread_id: int) -> str:
    return f"thread:{thread_id}"


def board_stream(board_id: int) -> str:
    return f"board:{board_id}"


def inbox_stream(user_id: int) -> str:
    return f"inbox:{user_id}"


def moderators_stream() -> str:
    return "mod:all"


def parse_stream(name: str) -> tuple[str, str] | None:
    """('thread', '12') for 'thread:12'; None for anything we do not serve."""
    match = STREAM_RE.match(name or "")
    return (match.group(1), match.group(2)) if match else None


def group_name(stream: str) -> str:
    """Channel-layer group for a stream (group names allow only [a-zA-Z0-9_.-])."""
    return "s." + stream.replace(":", ".")


def member_control_group(user_id: int) -> str:
    """Control messages for every socket of one member (sign-out, suspension): not a stream."""
    return f"member.{user_id}"

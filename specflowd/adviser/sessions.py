"""Helper sessions: the message history of earlier calls, so a later call can continue it.

Stored as ``{project_root}/.specflow/helper/{session_id}.json`` (atomic replace). ``continue_messages`` is
pure: it makes an old history valid to extend (every tool_use answered, user/assistant alternating).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specflowd.files.atomic import atomic_write_json, read_json

__all__ = ["SessionNotFound", "continue_messages", "load_session", "new_session_id", "save_session", "session_path"]

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

Message = dict[str, Any]


class SessionNotFound(Exception):
    """No stored session has that id (or the id is not a session id at all)."""


def new_session_id() -> str:
    return uuid.uuid4().hex


def session_path(project_root: Path, session_id: str) -> Path:
    # The id names a file: anything but a plain token would let a caller address other paths.
    if not _SESSION_ID.match(session_id):
        raise SessionNotFound(f"not a helper session id: {session_id!r}")
    return project_root / ".specflow" / "helper" / f"{session_id}.json"


def load_session(project_root: Path, session_id: str) -> list[Message]:
    path = session_path(project_root, session_id)
    try:
        document = read_json(path)
    except FileNotFoundError:
        raise SessionNotFound(f"no helper session {session_id!r}") from None
    except ValueError as exc:
        raise SessionNotFound(f"helper session {session_id!r} is unreadable: {exc}") from None
    messages = document.get("messages") if isinstance(document, dict) else None
    if not isinstance(messages, list):
        raise SessionNotFound(f"helper session {session_id!r} has no messages")
    return messages


def save_session(
    project_root: Path, session_id: str, messages: list[Message], *, model: str | None, cost_usd: float
) -> None:
    path = session_path(project_root, session_id)
    created = datetime.now(UTC).isoformat()
    try:
        previous = read_json(path)
        if isinstance(previous, dict):
            created = str(previous.get("created_at", created))
            cost_usd += float(previous.get("cost_usd", 0.0))
    except (FileNotFoundError, ValueError):
        pass
    atomic_write_json(
        path,
        {
            "session_id": session_id,
            "created_at": created,
            "updated_at": datetime.now(UTC).isoformat(),
            "model": model,
            "cost_usd": cost_usd,
            "messages": messages,
        },
    )


def _unanswered_tool_uses(message: Message) -> list[str]:
    content = message.get("content")
    if message.get("role") != "assistant" or not isinstance(content, list):
        return []
    return [block["id"] for block in content if isinstance(block, dict) and block.get("type") == "tool_use"]


def continue_messages(history: list[Message], prompt: str) -> list[Message]:
    """``history`` plus the new user prompt, answering any tool_use the history left open."""
    messages = [dict(m) for m in history]
    text_block = {"type": "text", "text": prompt}
    pending = _unanswered_tool_uses(messages[-1]) if messages else []
    if pending:
        closing = [
            {"type": "tool_result", "tool_use_id": tid, "content": "(earlier call ended)", "is_error": True}
            for tid in pending
        ]
        messages.append({"role": "user", "content": [*closing, text_block]})
    elif messages and messages[-1].get("role") == "user":
        content = messages[-1].get("content")
        blocks = list(content) if isinstance(content, list) else [{"type": "text", "text": str(content)}]
        messages[-1] = {"role": "user", "content": [*blocks, text_block]}
    else:
        messages.append({"role": "user", "content": [text_block]})
    return messages

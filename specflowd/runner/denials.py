"""What the sandbox refused during a run, read from its stream (pure): named in the run's outcome and in the
heal prompt, so that a heal does not try the same thing again (docs/sandbox.md#denials).

The CLI 2.1.197 says it this way (measured, tests/e2e/test_real_cli_sandbox.py): a Bash write outside the
allowed paths fails with the OS's "Read-only file system" (or "Operation not permitted"); the Write/Edit
tools outside the project answer "Claude requested permissions to write to X, but you haven't granted it
yet" and the result lists them in ``permission_denials``; a host outside the allow-list gets a 403 from the
sandbox's proxy ("CONNECT tunnel failed, response 403", "Tunnel connection failed: 403 …").
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["SandboxDenials"]

_MAX = 10  # denials kept per invocation: enough to name the pattern, bounded for a run that insists
_FS = re.compile(r"'?(?P<path>[^\s'`\"]+)'?: (?:Read-only file system|Operation not permitted)")
_FS_ANY = re.compile(r"Read-only file system|Operation not permitted")
_WRITE = re.compile(r"requested permissions to (?:write to|edit) (?P<path>\S+?),? but you haven't granted it")
_NET = re.compile(r"(?:CONNECT tunnel failed, response|Tunnel connection failed:) 403")


def _clip(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


class SandboxDenials:
    """Fed every stream event in order; ``items`` are sentences such as ``writing /home/u/.bashrc was refused
    by the sandbox (Bash: echo x >> ~/.bashrc)``, without repeats."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._calls: dict[str, tuple[str, dict[str, Any]]] = {}

    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        message = event.get("message")
        if kind == "assistant" and isinstance(message, dict):
            for block in message.get("content") or []:
                if isinstance(block, dict) and block.get("type") == "tool_use" and isinstance(block.get("id"), str):
                    tool_input = block.get("input")
                    call = (str(block.get("name")), tool_input if isinstance(tool_input, dict) else {})
                    self._calls[block["id"]] = call
        elif kind == "user" and isinstance(message, dict):
            for block in message.get("content") or []:
                if isinstance(block, dict) and block.get("type") == "tool_result" and block.get("is_error"):
                    self._result(str(block.get("tool_use_id")), _text(block.get("content")))
        elif kind == "result":
            for denial in event.get("permission_denials") or []:
                if isinstance(denial, dict) and isinstance(denial.get("tool_input"), dict):
                    path = denial["tool_input"].get("file_path")
                    if isinstance(path, str):
                        self._add(f"writing {path} was refused: outside the project ({denial.get('tool_name')} tool)")

    def _result(self, tool_use_id: str, text: str) -> None:
        name, tool_input = self._calls.get(tool_use_id, ("?", {}))
        what = f"{name}: {_clip(str(tool_input.get('command')))}" if "command" in tool_input else name
        if match := _WRITE.search(text):
            self._add(f"writing {match['path']} was refused: outside the project ({name} tool)")
        elif match := _FS.search(text):
            self._add(f"writing {match['path']} was refused by the sandbox ({what})")
        elif _FS_ANY.search(text):
            self._add(f"a write was refused by the sandbox ({what})")
        elif _NET.search(text):
            self._add(f"a network connection was refused by the sandbox: its host is not allowed ({what})")

    def _add(self, sentence: str) -> None:
        if sentence not in self.items and len(self.items) < _MAX:
            self.items.append(sentence)

    def describe(self) -> str | None:
        """One clause for an outcome or a prompt, or None when nothing was refused."""
        if not self.items:
            return None
        rule = "do not retry these: the sandbox allows writes only in the project and $TMPDIR"
        return f"{'; '.join(self.items)} ({rule})"

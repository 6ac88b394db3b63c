"""Reading one answer at the terminal: a number picks an option, text is taken only where the question
allows it (no options, or the "Other" choice: ``allowOther``). Pure; the daemon applies the same rule."""

from __future__ import annotations

from typing import Any

__all__ = ["accepts_free_text", "option_lines", "prompt_text", "read_reply"]


def accepts_free_text(question: dict[str, Any]) -> bool:
    return not question.get("options") or bool(question.get("allowOther"))


def option_lines(question: dict[str, Any]) -> list[str]:
    lines = []
    for number, option in enumerate(question.get("options") or [], 1):
        description = f" - {option['description']}" if option.get("description") else ""
        lines.append(f"  {number}. {option['label']}{description}")
    if question.get("options") and accepts_free_text(question):
        lines.append("  or type your own answer")
    return lines


def prompt_text(question: dict[str, Any]) -> str:
    count = len(question.get("options") or [])
    if not count:
        return "answer"
    picks = f"1-{count}" if count > 1 else "1"
    several = ", several comma-separated" if question.get("multiSelect") else ""
    return f"answer ({picks}{several}{' or text' if accepts_free_text(question) else ''})"


def read_reply(question: dict[str, Any], reply: str) -> tuple[str | None, str]:
    """(the answer to send, what to tell the user): the answer is None when the reply must be asked again."""
    options = question.get("options") or []
    labels = [str(option["label"]) for option in options]
    reply = reply.strip()
    if not reply:
        return None, "an empty answer is not sent: type one"
    parts = [part.strip() for part in reply.split(",")] if question.get("multiSelect") else [reply]
    chosen: list[str] = []
    own: list[str] = []
    for part in parts:
        if part.isdigit() and options:
            if not 1 <= int(part) <= len(options):
                return None, f"{part} is not an option: pick 1-{len(options)}"
            chosen.append(labels[int(part) - 1])
        elif any(part.casefold() == label.casefold() for label in labels):
            chosen.append(next(label for label in labels if part.casefold() == label.casefold()))
        elif accepts_free_text(question):
            chosen.append(part)
            own.append(part)
        else:
            return None, f"{part!r} is not an option: pick 1-{len(options)} (this question takes only its options)"
    value = ", ".join(chosen)
    key = question.get("header") or question["question"]
    said = f"{key}: {value}" + ("  (your own words)" if own and options else "")
    return value, said

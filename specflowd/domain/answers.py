"""Is an answer one the question accepts? Pure: the daemon refuses what this finds wrong (questions.answer),
so an answer a client did not check (a typo, `storage=postgres` for json|sqlite) never reaches the agent."""

from __future__ import annotations

from specflowd.vocabulary import Question

__all__ = ["accepts_free_text", "answer_problem"]


def accepts_free_text(question: Question) -> bool:
    """A question with options takes only them, unless it offers the "Other" choice (``allowOther``)."""
    return not question.options or question.allowOther


def answer_problem(question: Question, value: str) -> str | None:
    """Why ``value`` is not an answer ``question`` takes (None: it is). A multi-select answer is its
    options comma-separated; options match whatever their case."""
    if not value.strip():
        return "the answer is empty"
    if accepts_free_text(question):
        return None
    labels = {option.label.casefold() for option in question.options}
    picked = [part.strip() for part in value.split(",")] if question.multiSelect else [value.strip()]
    unknown = [part for part in picked if part.casefold() not in labels]
    if not unknown:
        return None
    choices = ", ".join(repr(option.label) for option in question.options)
    several = "one or more of" if question.multiSelect else "one of"
    return f"{', '.join(repr(u) for u in unknown)} is not an option: answer {several} {choices}"

"""Prompts of agent runs (pure). Each invokes an unchanged skill by its slash command, then our constraints.

The CLI expands ``/flow.*`` from ``~/.claude/commands/`` itself; we only add what scopes the run (a batch's
section and ids, a heal's failure context) and the user's ``additional_context``, which reaches every step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from specflowd.domain.actions import Heal, HealContext, SpawnBatch, SpawnStep
from specflowd.domain.config import Step
from specflowd.domain.models import OrchestrationRecord
from specflowd.vocabulary import ResultStatus

__all__ = [
    "SKILL_COMMANDS",
    "STDERR_TAIL_LIMIT",
    "answers_prompt",
    "batch_prompt",
    "continue_prompt",
    "heal_prompt",
    "prompt_for",
    "step_prompt",
]

SKILL_COMMANDS: Mapping[Step, str] = {
    Step.DESIGN: "/flow.design",
    Step.ANALYZE: "/flow.analyze",
    Step.IMPLEMENT: "/flow.implement",
    Step.VERIFY: "/flow.verify",
    Step.MERGE: "/flow.merge",
}

STDERR_TAIL_LIMIT = 2000
_LAST_MESSAGES = 5
_MESSAGE_LIMIT = 1500

# The structured result every run answers with is the agent protocol's (specflowd.vocabulary.RESULT_SCHEMA).
_HEADLESS = (
    "You run headless: nobody watches this session. If you cannot continue without a decision from the user, "
    f'end with status "{ResultStatus.NEEDS_INPUT}" and put your questions in the structured result instead of asking.'
)

_STEP_CONSTRAINTS: Mapping[Step, str] = {
    Step.DESIGN: "Produce spec.md, plan.md and tasks.md for the current phase.",
    Step.ANALYZE: "Analyze the current phase's artifacts for consistency and fix what the analysis finds.",
    Step.IMPLEMENT: "Check each task's box in tasks.md as soon as it is done.",
    Step.VERIFY: "Verify the current phase; do not merge it.",
    Step.MERGE: "Merge and close the current phase.",
}


def _with_context(body: str, additional_context: str) -> str:
    extra = additional_context.strip()
    return f"{body}\n\nAdditional context from the user:\n{extra}" if extra else body


def _ids(ids: Sequence[str]) -> str:
    return ", ".join(ids)


def step_prompt(step: Step, additional_context: str = "") -> str:
    body = f"{SKILL_COMMANDS[step]} {_STEP_CONSTRAINTS[step]}\n\n{_HEADLESS}"
    return _with_context(body, additional_context)


def batch_prompt(heading: str, task_ids: Sequence[str], additional_context: str = "") -> str:
    body = (
        f'{SKILL_COMMANDS[Step.IMPLEMENT]} Execute only the "{heading}" section ({_ids(task_ids)}). '
        "Do not work on tasks of other sections.\n\n"
        "When a task is done, change its checkbox in tasks.md from `[ ]` to `[x]` on that task's own line "
        "(never on lines that merely mention its id). Leave a task you could not finish unchecked and say why in "
        "your result message. Your work is confirmed from tasks.md: a task whose box is not checked counts as "
        f"not done.\n\n{_HEADLESS}"
    )
    return _with_context(body, additional_context)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def heal_prompt(
    heading: str,
    remaining_ids: Sequence[str],
    done_ids: Sequence[str],
    context: HealContext,
    additional_context: str = "",
) -> str:
    parts = [
        f'{SKILL_COMMANDS[Step.IMPLEMENT]} Finish the "{heading}" section: tasks {_ids(remaining_ids)} are '
        "still open. Do not work on tasks of other sections.",
        "A previous session on this section stopped before finishing it.",
        f"Already done (do not redo, keep their boxes checked): {_ids(done_ids) if done_ids else 'none'}.",
        f"Still open: {_ids(remaining_ids)}.",
    ]
    if context.error:
        parts.append(f"The error:\n{context.error.strip()}")
    if context.stderr_tail.strip():
        parts.append(f"The end of its stderr:\n```\n{_clip(context.stderr_tail.strip(), STDERR_TAIL_LIMIT)}\n```")
    if context.last_messages:
        shown = [_clip(m.strip(), _MESSAGE_LIMIT) for m in context.last_messages[-_LAST_MESSAGES:] if m.strip()]
        if shown:
            parts.append("Its last messages:\n" + "\n---\n".join(shown))
    if context.diagnosis and context.diagnosis.strip():
        parts.append(f"Diagnosis:\n{context.diagnosis.strip()}")
    parts.append(
        "Find the cause first, fix it, then complete the open tasks and check each one's box in tasks.md on its "
        "own line. A task whose box is not checked counts as not done."
    )
    parts.append(_HEADLESS)
    return _with_context("\n\n".join(parts), additional_context)


def answers_prompt(answers: Mapping[str, str | Sequence[str]]) -> str:
    """The message that continues a session (``--resume``) after the user answered its questions."""
    lines = ["The user answered your questions:"]
    for question, answer in answers.items():
        text = answer if isinstance(answer, str) else ", ".join(answer)
        lines.append(f"- {question}\n  Answer: {text}")
    lines.append("Continue the task with these answers. " + _HEADLESS)
    return "\n".join(lines)


def continue_prompt(cause: str = "rate_limit", additional_context: str = "") -> str:
    """The message that continues a session (``--resume``) that was stopped from outside its work."""
    why = (
        "Your session was stopped after a long time without output."
        if cause == "stale"
        else "Your previous turn was interrupted by an API rate limit, which has now reset."
    )
    body = (
        f"{why} Continue the task exactly where you left off; do not redo work that is already done.\n\n"
        f"{_HEADLESS}"
    )
    return _with_context(body, additional_context)


def prompt_for(record: OrchestrationRecord, action: SpawnStep | SpawnBatch | Heal) -> str:
    """The prompt.txt of a spawn action, with the record's additional_context."""
    extra = record.config.additional_context
    if isinstance(action, SpawnStep):
        return step_prompt(action.step, extra)
    if isinstance(action, SpawnBatch):
        return batch_prompt(action.name, action.task_ids, extra)
    return heal_prompt(action.name, action.remaining_ids, action.done_ids, action.context, extra)

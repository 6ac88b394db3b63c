"""Prompts of agent runs (pure). Each invokes an unchanged skill by its slash command, then our constraints.

The CLI expands ``/flow.*`` from ``~/.claude/commands/`` itself and substitutes the rest of the prompt for
the skill's ``$ARGUMENTS``. /flow.merge pastes ``$ARGUMENTS`` into three places, one of them a shell test
(``[[ "$ARGUMENTS" == *"--pr-only"* ]]``), so a step prompt is one short sentence without quotes, backticks,
``$`` or backslashes. What every run needs besides its scope — the headless rule and the user's
``additional_context`` — goes into ``system_prompt`` (``--append-system-prompt``), never into the arguments.

Batch and heal prompts follow /flow.implement: tasks are marked with ``specflow mark`` (the skill forbids
editing checkboxes by hand), only ids the CLI reads as tasks are named (one unknown id makes ``mark`` write
nothing), and since the skill loops on ``specflow next`` — which offers the first open task in file order,
whatever the batch — the run stops as soon as ``next`` offers an id outside its list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from specflowd.domain.actions import Heal, HealContext, SpawnBatch, SpawnStep
from specflowd.domain.config import Step
from specflowd.domain.observe import unasked_ticks
from specflowd.domain.record import OrchestrationRecord
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
    "system_prompt",
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

# one sentence each, shell-safe (no quotes, backticks, $ or backslashes): see the module docstring
_STEP_CONSTRAINTS: Mapping[Step, str] = {
    Step.DESIGN: "Produce spec.md, plan.md and tasks.md for the current phase.",
    Step.ANALYZE: "Analyze the artifacts of the current phase for consistency and fix what the analysis finds.",
    Step.IMPLEMENT: "Implement the open tasks of the current phase.",
    Step.VERIFY: "Verify the current phase, do not merge it.",
    Step.MERGE: "Merge and close the current phase.",
}

_MARKING = (
    "Mark each task as soon as it is done with `specflow mark <id>`, as the skill does; never edit a checkbox in "
    "tasks.md by hand. Leave a task you could not finish unmarked and say why in your result message: your work "
    "is confirmed from tasks.md."
)


def _ids(ids: Sequence[str]) -> str:
    return ", ".join(ids)


def system_prompt(additional_context: str = "") -> str:
    """Appended to the system prompt of every run (``--append-system-prompt``): the headless rule and the
    user's additional context."""
    extra = additional_context.strip()
    return f"{_HEADLESS}\n\nAdditional context from the user:\n{extra}" if extra else _HEADLESS


def step_prompt(step: Step, unasked_ids: Sequence[str] = ()) -> str:
    """``/flow.<step>`` and one shell-safe sentence. Verify also names the ids a run ticked without being
    asked for them (``specflow mark`` ticks every line that mentions an id) so it checks them."""
    text = f"{SKILL_COMMANDS[step]} {_STEP_CONSTRAINTS[step]}"
    if step == Step.VERIFY and unasked_ids:
        text += " These tasks were ticked by a run not asked for them, check that each is really done: "
        text += f"{_ids(unasked_ids)}."
    return text


def _next_rule(in_section: bool) -> str:
    if in_section:
        return (
            "Work through `specflow next` as the skill does, but only on the tasks listed here: as soon as "
            "`specflow next` offers a task that is not in this list (or offers none), stop and end with the "
            "structured result."
        )
    return (
        "These tasks stand outside every ## section, so `specflow next` never offers them: work on them in this "
        "order, do not work on any other task, then end with the structured result."
    )


def batch_prompt(heading: str, task_ids: Sequence[str], in_section: bool = True) -> str:
    scope = f'the "{heading}" section' if in_section else f'"{heading}"'
    return (
        f"{SKILL_COMMANDS[Step.IMPLEMENT]} Execute only {scope}: {_ids(task_ids)}.\n\n"
        f"{_next_rule(in_section)}\n\n{_MARKING}"
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def heal_prompt(
    heading: str,
    remaining_ids: Sequence[str],
    done_ids: Sequence[str],
    context: HealContext,
    in_section: bool = True,
) -> str:
    scope = f'the "{heading}" section' if in_section else f'"{heading}"'
    parts = [
        f"{SKILL_COMMANDS[Step.IMPLEMENT]} Finish {scope}: tasks {_ids(remaining_ids)} are still open.",
        "A previous session on these tasks stopped before finishing them.",
        f"Already done (do not redo, do not unmark): {_ids(done_ids) if done_ids else 'none'}.",
        f"Still open: {_ids(remaining_ids)}.",
    ]
    if context.loop is not None:
        parts.append(
            f"The previous session {context.loop.describe()}, so specflowd stopped it; do not repeat it: "
            "the repetition got the work no further. Find out why that call does not help (read its output, "
            "check your assumptions) and take a different approach."
        )
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
    parts.append("Find the cause first and fix it, then complete the open tasks.")
    parts.append(_next_rule(in_section))
    parts.append(_MARKING)
    return "\n\n".join(parts)


def answers_prompt(answers: Mapping[str, str | Sequence[str]]) -> str:
    """The message that continues a session (``--resume``) after the user answered its questions."""
    lines = ["The user answered your questions:"]
    for question, answer in answers.items():
        text = answer if isinstance(answer, str) else ", ".join(answer)
        lines.append(f"- {question}\n  Answer: {text}")
    lines.append("Continue the task with these answers. " + _HEADLESS)
    return "\n".join(lines)


def continue_prompt(cause: str = "rate_limit") -> str:
    """The message that continues a session (``--resume``) that was stopped from outside its work (the
    continued invocation keeps the run's system prompt, additional context included)."""
    why = (
        "Your session was stopped after a long time without output."
        if cause == "stale"
        else "Your previous turn was interrupted by an API rate limit, which has now reset."
    )
    return f"{why} Continue the task exactly where you left off; do not redo work that is already done.\n\n{_HEADLESS}"


def prompt_for(record: OrchestrationRecord, action: SpawnStep | SpawnBatch | Heal) -> str:
    """The prompt.txt of a spawn action (its system prompt is ``system_prompt(record.config.additional_context)``)."""
    if isinstance(action, SpawnStep):
        return step_prompt(action.step, [task_id for task_id, _ in unasked_ticks(record)])
    if isinstance(action, SpawnBatch):
        return batch_prompt(action.name, action.task_ids, action.in_section)
    return heal_prompt(action.name, action.remaining_ids, action.done_ids, action.context, action.in_section)

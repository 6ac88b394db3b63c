"""questions.* : the questions agents wait on, and answering them (the same session resumes)."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from specflowd.domain.answers import answer_problem
from specflowd.errors import InvalidParams
from specflowd.handlers.projects import ProjectFilter, project_root_or_none
from specflowd.protocol.params import Identifier, Text, given
from specflowd.protocol.rpc import Message, Router
from specflowd.runner.records import PendingQuestion, RunRecord
from specflowd.services.context import Call

router: Router[Call] = Router()


class AnswerParams(Message):
    """``{run | orchestration, answers}``: answering an orchestration answers its waiting run and lets the
    engine follow the resumed session."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [given("run"), given("orchestration")]},  # the rule _one_target enforces
    )
    run: Identifier | None = None
    orchestration: Identifier | None = None
    answers: dict[Text, Text] = Field(min_length=1, description="question header (or text) -> answer")

    @model_validator(mode="after")
    def _one_target(self) -> AnswerParams:
        if (self.run is None) == (self.orchestration is None):
            raise ValueError("give exactly one of run or orchestration")
        return self


class QuestionList(Message):
    questions: list[PendingQuestion]


@router.method("questions.list", params=ProjectFilter, result=QuestionList, summary="Questions waiting for answers")
async def questions(call: Call, params: ProjectFilter) -> QuestionList:
    return QuestionList(questions=call.services.runs.pending_questions(project_root_or_none(call, params.project)))


def _check_answer_keys(run: RunRecord, answers: dict[str, str]) -> None:
    """Every answer must name one of the run's questions (by header or text); a typo would otherwise
    reach the agent as an answer to nothing while the real question stays unanswered."""
    valid = [key for q in run.questions for key in (q.header, q.question) if key]
    unknown = [key for key in answers if key not in valid]
    if unknown and run.questions:
        keys = ", ".join(repr(q.header or q.question) for q in run.questions)
        raise InvalidParams(
            f"no question matches {', '.join(repr(k) for k in unknown)}; valid keys: {keys}",
            errors=[{"loc": f"answers.{k}", "msg": "no question has this header or text"} for k in unknown],
            valid_keys=[q.header or q.question for q in run.questions],
        )
    _check_answer_values(run, answers)


def _check_answer_values(run: RunRecord, answers: dict[str, str]) -> None:
    """An answer must be one of its question's options unless the question takes the user's own words."""
    problems = []
    for key, value in answers.items():
        question = next((q for q in run.questions if key in (q.header, q.question)), None)
        problem = answer_problem(question, value) if question is not None else None
        if problem is not None:
            problems.append((key, problem, [option.label for option in question.options] if question else []))
    if problems:
        raise InvalidParams(
            "; ".join(f"{key}: {problem}" for key, problem, _ in problems),
            errors=[{"loc": f"answers.{key}", "msg": problem} for key, problem, _ in problems],
            valid_values={key: labels for key, _, labels in problems},
        )


@router.method("questions.answer", params=AnswerParams, result=RunRecord, summary="Answer and resume the same session")
async def answer(call: Call, params: AnswerParams) -> RunRecord:
    manager = call.services.runs
    if params.orchestration is not None:
        engine = call.services.orchestrations
        record = engine.get(engine.resolve(params.orchestration))
        run_id = record.questions_run_id or record.current_run_id
        if run_id:
            _check_answer_keys(manager.get(run_id), params.answers)
        await engine.answer(record.id, params.answers)
        return manager.get(run_id) if run_id else manager.list()[-1]
    assert params.run is not None
    run = manager.get(manager.resolve(params.run))
    _check_answer_keys(run, params.answers)
    if run.orchestration_id is not None:  # keep the orchestration's record in step with its run
        await call.services.orchestrations.answer(run.orchestration_id, params.answers)
        return manager.get(run.run_id)
    return await manager.answer(run.run_id, params.answers)

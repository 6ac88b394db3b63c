"""runs.* and questions.*: standalone skill runs and the questions agents ask."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from specflowd.errors import InvalidParams, InvalidState
from specflowd.paths import user_config_path
from specflowd.protocol.params import Identifier, PathRef, Text, given
from specflowd.protocol.rpc import Router
from specflowd.runner.manager import RunManager
from specflowd.runner.models import LogChunk, PendingQuestion, RunRecord, RunSpec
from specflowd.services.context import Call
from specflowd.settings import load_settings, merge_config
from specflowd.vocabulary import RESULT_SCHEMA

router: Router[Call] = Router()

MAX_OFFSET = 2**53 - 1  # the largest integer every JSON client (JavaScript's doubles included) holds exactly

_SKILL = re.compile(r"^/?(?:flow\.)?(?P<name>[a-z][a-z0-9_-]*)$")


def runs_of(call: Call) -> RunManager:
    return call.services.extension("runs", RunManager, "agent runs are not available in this daemon")


class StartRunParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project: PathRef = Field(description="Registry id or absolute path")
    skill: Text = Field(min_length=1, max_length=200, description="verify, flow.verify or /flow.verify")
    context: Text | None = Field(None, max_length=20_000, description="appended to the prompt")
    budget_usd: float | None = Field(None, gt=0, le=10_000)


class ProjectFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project: PathRef | None = None


class RunRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run: Identifier


class LogParams(RunRef):
    since: int = Field(0, ge=0, le=MAX_OFFSET, description="byte offset from a previous call's `next_offset`")


class AnswerParams(BaseModel):
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


class RunList(BaseModel):
    runs: list[RunRecord]


class QuestionList(BaseModel):
    questions: list[PendingQuestion]


def _project_path(call: Call, ref: str | None) -> Path | None:
    return Path(call.services.registry.resolve(ref).path) if ref else None


@router.method("runs.start", params=StartRunParams, result=RunRecord, summary="Run one skill, supervised")
async def start(call: Call, params: StartRunParams) -> RunRecord:
    root = Path(call.services.registry.resolve(params.project).path)
    match = _SKILL.match(params.skill.strip())
    if match is None:
        raise InvalidState(f"not a skill name: {params.skill!r}")
    skill = match["name"]
    settings = load_settings(user_config_path())
    config = merge_config(settings.orchestrate, {})
    spec = RunSpec(
        project_root=root,
        prompt=f"/flow.{skill}" + (f"\n\n{params.context}" if params.context else ""),
        step=skill,
        budget_usd=params.budget_usd or config.budget.per_batch,
        permission_mode=config.permission_mode,
        stale_after_s=config.stale_after_s,
        model=next((m for step, m in config.models.items() if step.value == skill), None),
        fallback_model=config.fallback_model,
        json_schema=RESULT_SCHEMA,
        binary=settings.agent.claude,  # as configured now (the daemon's startup value may be stale)
    )
    return await runs_of(call).start(spec)


@router.method("runs.list", params=ProjectFilter, result=RunList, summary="Known runs, oldest first")
async def list_runs(call: Call, params: ProjectFilter) -> RunList:
    return RunList(runs=runs_of(call).list(_project_path(call, params.project)))


@router.method("runs.get", params=RunRef, result=RunRecord, summary="One run's record")
async def get(call: Call, params: RunRef) -> RunRecord:
    manager = runs_of(call)
    return manager.get(manager.resolve(params.run))


@router.method("runs.log", params=LogParams, result=LogChunk, summary="Readable transcript from a byte offset")
async def log(call: Call, params: LogParams) -> LogChunk:
    manager = runs_of(call)
    return manager.log(manager.resolve(params.run), params.since)


@router.method("runs.cancel", params=RunRef, result=RunRecord, summary="Stop a run (its process group)")
async def cancel(call: Call, params: RunRef) -> RunRecord:
    manager = runs_of(call)
    return await manager.cancel(manager.resolve(params.run))


@router.method("questions.list", params=ProjectFilter, result=QuestionList, summary="Questions waiting for answers")
async def questions(call: Call, params: ProjectFilter) -> QuestionList:
    return QuestionList(questions=runs_of(call).pending_questions(_project_path(call, params.project)))


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


@router.method("questions.answer", params=AnswerParams, result=RunRecord, summary="Answer and resume the same session")
async def answer(call: Call, params: AnswerParams) -> RunRecord:
    from specflowd.handlers.orchestrate import engine_of

    manager = runs_of(call)
    if params.orchestration is not None:
        engine = engine_of(call)
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
        await engine_of(call).answer(run.orchestration_id, params.answers)
        return manager.get(run.run_id)
    return await manager.answer(run.run_id, params.answers)

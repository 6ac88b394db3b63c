"""Record serialization (schema_version) and the prompts of each kind of run."""

from __future__ import annotations

import json
import re

import pytest

from specflowd.domain import actions
from specflowd.domain.actions import ACTION_ADAPTER, Heal, HealContext, SpawnBatch, SpawnStep
from specflowd.domain.config import Step
from specflowd.domain.prompts import (
    answers_prompt,
    batch_prompt,
    heal_prompt,
    prompt_for,
    step_prompt,
    system_prompt,
)
from specflowd.domain.record import (
    SCHEMA_VERSION,
    OrchestrationRecord,
    SchemaVersionError,
    Tick,
    dump_record,
    load_record,
)
from specflowd.domain.transitions import apply
from specflowd.vocabulary import RESULT_SCHEMA, LoopCall, Question, QuestionOption, RunStatus, ToolLoop
from tests.domain.builders import NOW, D, O, drive, ended, project, record

SECTIONS = [("Phase 1: Setup", ["T001", "T002"]), ("Phase 2: Core", ["T003"])]


def _busy_record() -> OrchestrationRecord:
    """A record with batches, a heal, costs, questions and an attention: every field kind populated."""
    r, _ = drive(record(Step.IMPLEMENT, additional_context="use uv"), project({"T001": O, "T002": O, "T003": O}, SECTIONS), None)
    r, _ = drive(r, project({"T001": D, "T002": O, "T003": O}, SECTIONS), ended(r, cost_usd=1.25))
    r, _ = drive(r, project({"T001": D, "T002": O, "T003": O}, SECTIONS), ended(r, RunStatus.FAILED, cost_usd=0.5))
    r.pending_questions = [Question(question="Which?", options=[QuestionOption(label="A")])]
    return r


def test_record_round_trips_through_json() -> None:
    r = _busy_record()
    assert r.attention is not None and r.batches and r.totals.per_batch
    data = json.loads(json.dumps(dump_record(r)))
    back = load_record(data)
    assert back == r
    assert OrchestrationRecord.model_validate(r.model_dump(mode="json")) == r
    assert data["schema_version"] == SCHEMA_VERSION == 1


def test_load_rejects_a_future_schema_version_clearly() -> None:
    data = dump_record(record())
    data["schema_version"] = 2
    with pytest.raises(SchemaVersionError, match="newer than this daemon supports"):
        load_record(data)
    data["schema_version"] = "1"
    with pytest.raises(SchemaVersionError, match="not an integer"):
        load_record(data)


def test_load_reads_a_record_without_version_as_version_one() -> None:
    data = dump_record(record())
    del data["schema_version"]
    assert load_record(data).schema_version == 1


def test_actions_round_trip_through_the_discriminated_union() -> None:
    _, action = drive(record(), project(artifacts=False), None)
    assert ACTION_ADAPTER.validate_python(action.model_dump(mode="json")) == action


def test_the_action_union_is_the_one_declaration_of_the_action_set() -> None:
    """Every action class of the module is in the union (so apply's exhaustive match sees it) exactly once."""
    base = actions._Action
    declared = [obj for obj in vars(actions).values() if isinstance(obj, type) and issubclass(obj, base) and obj is not base]
    assert sorted(t.__name__ for t in actions.ACTION_TYPES) == sorted(t.__name__ for t in declared)
    kinds = [t.model_fields["kind"].default for t in actions.ACTION_TYPES]
    assert len(set(kinds)) == len(kinds) == 16
    # Only these three make the engine decide again at once; everything else sleeps until an event.
    assert {k for t, k in zip(actions.ACTION_TYPES, kinds, strict=True) if not t.waits} == {
        "finish_batch",
        "advance",
        "replan",
    }


@pytest.mark.parametrize(
    ("step", "command"),
    [(Step.DESIGN, "/flow.design"), (Step.ANALYZE, "/flow.analyze"), (Step.IMPLEMENT, "/flow.implement"),
     (Step.VERIFY, "/flow.verify"), (Step.MERGE, "/flow.merge")],
    ids=lambda v: str(v),
)
def test_step_prompts_are_one_shell_safe_sentence(step: Step, command: str) -> None:
    """/flow.merge pastes $ARGUMENTS into a shell test ([[ "$ARGUMENTS" == *"--pr-only"* ]]) and two more places."""
    text = step_prompt(step, ["T010", "T007a"])
    assert text.startswith(command + " ")
    assert "\n" not in text and len(text) < 200 and not set(text) & set("\"'`$\\") and "--" not in text
    assert ("T010, T007a" in text) == (step == Step.VERIFY)  # verify checks what runs ticked unasked


def test_system_prompt_carries_the_headless_rule_and_the_users_context() -> None:
    text = system_prompt("Use Python 3.11")
    assert "needs_input" in text and text.endswith("Additional context from the user:\nUse Python 3.11")
    assert "Additional context" not in system_prompt("  ")


def test_batch_prompt_names_its_section_and_ids_and_follows_the_skill() -> None:
    text = batch_prompt("Phase 2: Core", ["T004", "T005", "T006"])
    assert text.startswith('/flow.implement Execute only the "Phase 2: Core" section: T004, T005, T006.')
    assert "`specflow mark <id>`" in text and "never edit a checkbox in tasks.md by hand" in text
    assert "as soon as `specflow next` offers a task that is not in this list (or offers none), stop" in text
    assert "structured result" in text and "[x]" not in text
    outside = batch_prompt("Unsectioned tasks 1", ["T001"], in_section=False)
    assert outside.startswith('/flow.implement Execute only "Unsectioned tasks 1": T001.')
    assert "`specflow next` never offers them" in outside


def test_heal_prompt_carries_the_failure_context() -> None:
    ctx = HealContext(error="pytest failed", stderr_tail="E" * 5000 + "TAIL", last_messages=["m1", "m2"], diagnosis="missing import")
    text = heal_prompt("Phase 1: Setup", ["T002"], ["T001"], ctx)
    assert text.startswith('/flow.implement Finish the "Phase 1: Setup" section: tasks T002 are still open.')
    assert "Still open: T002." in text and "T001" in text
    assert "pytest failed" in text and "missing import" in text and "m1" in text and "m2" in text
    match = re.search(r"```\n(.*?)\n```", text, re.S)
    assert match is not None
    stderr_block = match.group(1)
    assert len(stderr_block) <= 2000 and stderr_block.endswith("TAIL")
    assert text.endswith("your work is confirmed from tasks.md.") and "`specflow mark <id>`" in text
    bare = heal_prompt("S", ["T009"], [], HealContext())
    assert "Already done (do not redo, do not unmark): none." in bare and "Diagnosis" not in bare


def test_heal_prompt_says_what_the_looping_session_repeated() -> None:
    loop = ToolLoop(cycle=[LoopCall(tool="Bash", input='{"command":"npm test"}')], repeats=8, calls=8)
    text = heal_prompt("Phase 1: Setup", ["T002"], ["T001"], HealContext(error="stopped", loop=loop))
    assert (
        'The previous session called Bash {"command":"npm test"} 8 times in a row, so specflowd stopped it; '
        "do not repeat it:" in text
    )
    assert "repeated" not in heal_prompt("S", ["T009"], [], HealContext(error="boom"))


def test_prompt_for_dispatches_on_the_action_and_verify_names_unasked_ticks() -> None:
    r = record(additional_context="ALWAYS")
    step = SpawnStep(run_id="r", step=Step.VERIFY, attempt=1, budget_usd=1)
    batch = SpawnBatch(run_id="r", batch_index=0, name="S", task_ids=["T001"], attempt=1, budget_usd=1)
    heal = Heal(run_id="r", batch_index=0, name="S", remaining_ids=["T001"], done_ids=[], attempt=1, budget_usd=1)
    cases: list[tuple[SpawnStep | SpawnBatch | Heal, str]] = [
        (step, "/flow.verify"), (batch, '/flow.implement Execute only the "S"'), (heal, "/flow.implement Finish")
    ]
    for action, start in cases:
        text = prompt_for(r, action)
        assert text.startswith(start) and "ALWAYS" not in text  # the context goes to the system prompt
    assert r.observed is not None
    r.observed.ticks["T007a"] = Tick(run_id="x", asked=False, by="batch", at=NOW)
    r.observed.ticks["T001"] = Tick(run_id="x", asked=True, by="batch", at=NOW)
    assert prompt_for(r, step).endswith("check that each is really done: T007a.")


def test_answers_prompt_lists_each_answer() -> None:
    text = answers_prompt({"Which DB?": "Postgres", "Which features?": ["a", "b"]})
    assert "Which DB?" in text and "Answer: Postgres" in text and "Answer: a, b" in text


def test_result_schema_shape() -> None:
    props = RESULT_SCHEMA["properties"]
    assert props["status"]["enum"] == ["completed", "needs_input", "error"]
    item = props["questions"]["items"]["properties"]
    assert set(item) == {"question", "header", "options", "multiSelect", "allowOther"}
    assert item["options"]["items"]["required"] == ["label"]
    assert RESULT_SCHEMA["required"] == ["status", "message"]
    assert json.loads(json.dumps(RESULT_SCHEMA)) == RESULT_SCHEMA


def test_spawn_apply_records_the_run_before_exec() -> None:
    r = record()
    _, action = drive(r, project(artifacts=False), None)
    after = apply(r, action, NOW)
    assert isinstance(action, SpawnStep)
    assert after.runs[action.run_id].attempt == 1 and after.current_run_id == action.run_id

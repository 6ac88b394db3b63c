"""The event catalogue (specflowd/event_catalogue.py): what rpc.discover publishes of it, that every event emitted
in a whole phase validates against its published schema, that its words are the domain's, and that events are
emitted typed (one function, the payload gives the type)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest

from specflowctl.demo import create_demo_project
from specflowd import event_catalogue as catalogue
from specflowd.admission.units import WaitReason
from specflowd.daemon import build_router
from specflowd.domain.actions import ACTION_TYPES, FinishBatch, Heal, NeedsAttention, SpawnBatch
from specflowd.domain.config import Step
from specflowd.domain.record import OrchestrationStatus
from specflowd.event_catalogue import CATALOGUE, Decision, EventPayload, RunStarted
from specflowd.handlers.rpc import OpenRpcDocument, discover_document
from specflowd.services.events import Event, EventBus
from specflowd.vocabulary import Question, RunStatus
from tests.event_schemas import check_event

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The document rpc.discover serves, as a client receives it."""
    built = OpenRpcDocument.model_validate(discover_document(build_router().specs))
    return built.model_dump(mode="json")


def test_every_type_is_published_with_its_payload_schema(document: dict[str, Any]) -> None:
    events = document["x-events"]
    assert events["method"] == "event"
    names = [t["name"] for t in events["types"]]
    assert names == sorted(CATALOGUE) and len(names) == len(set(names))
    for entry in events["types"]:
        model = CATALOGUE[entry["name"]]
        assert entry["data"] == {"$ref": f"#/components/schemas/{model.__name__}"}
        assert entry["summary"] and "``" not in entry["summary"]
        schema = document["components"]["schemas"][model.__name__]
        assert schema["additionalProperties"] is False  # a misspelt key is invalid, not ignored
    # the types README and the clients rely on
    for name in ("daemon.started", "daemon.stopping", "registry.changed", "registry.problem", "orchestration.started",
                 "orchestration.status", "orchestration.spawn_batch", "orchestration.needs_attention",
                 "orchestration.paused", "orchestration.warning", "orchestration.unasked_ticks", "orchestration.problem",
                 "batch.spawn_batch", "batch.finish_batch", "run.started", "run.progress", "run.finished",
                 "run.warning", "question.asked"):  # fmt: skip
        assert name in names, name


def test_one_key_names_the_orchestration(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for model in set(CATALOGUE.values()):
        properties = schemas[model.__name__]["properties"]
        assert "orchestration_id" not in properties, model.__name__
    for model in (catalogue.RunStarted, catalogue.RunProgress, catalogue.RunFinished, catalogue.RunWarning,
                  catalogue.QuestionAsked, catalogue.Decision, catalogue.StatusChanged):  # fmt: skip
        assert "orchestration" in schemas[model.__name__]["properties"], model.__name__
    started = {"run_id": "r", "orchestration_id": "o", "step": "implement", "batch": "0", "attempt": 1,
               "continuation": 0, "pid": 1, "started_at": None, "budget_usd": 5.0}  # fmt: skip
    with pytest.raises(jsonschema.ValidationError):  # the old runner key is refused
        check_event(document, {"type": "run.started", "project": "/p", "data": started, "time": "t"})


def test_the_catalogue_speaks_the_domains_words() -> None:
    assert set(catalogue.ORCHESTRATION_STATUSES) == {s.value for s in OrchestrationStatus}
    assert set(catalogue.STEPS) == {s.value for s in Step}
    reason = catalogue.SchedulerQueued.model_json_schema()["properties"]["reason"]
    assert reason["enum"] == [r.value for r in WaitReason]  # the published enum is the queue's own words
    kinds = {get_args(t.model_fields["kind"].annotation)[0] for t in ACTION_TYPES}
    assert set(catalogue.ACTION_KINDS) == kinds  # every action decide() can return has its event type
    with_batch = {get_args(t.model_fields["kind"].annotation)[0] for t in ACTION_TYPES if "batch_index" in t.model_fields}
    assert set(catalogue.BATCH_ACTION_KINDS) == with_batch == {
        k.model_fields["kind"].default for k in (SpawnBatch, Heal, FinishBatch, NeedsAttention)
    }
    assert not set(catalogue.CONTROL_LABELS) & set(catalogue.ACTION_KINDS)


def test_a_payload_gives_its_type_and_the_bus_emits_it_typed() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.listeners.append(seen.append)
    decision = Decision(orchestration="o1", action="spawn_batch", reason="r", status="running", step="implement",
                        batch_index=1, run_id="run-1")  # fmt: skip
    event = bus.emit("/p", decision)
    assert seen == [event] and event.type == "orchestration.spawn_batch" and event.payload is decision
    assert event.to_params()["data"] == {"orchestration": "o1", "action": "spawn_batch", "reason": "r",
                                         "status": "running", "step": "implement", "batch_index": 1,
                                         "run_id": "run-1"}  # fmt: skip
    question = catalogue.QuestionAsked(run_id="r", orchestration=None, step="verify", message=None,
                                       questions=[Question(question="Ship it?", header="ship")])  # fmt: skip
    assert bus.emit("/p", question).data["questions"][0]["question"] == "Ship it?"


def test_events_are_emitted_only_through_the_typed_function() -> None:
    """No module publishes an event as (type, data dict) any more: every emit takes a catalogue payload."""
    offenders = []
    for path in (REPO / "specflowd").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "publish":
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []
    assert all(issubclass(m, EventPayload) for m in CATALOGUE.values())


@pytest.mark.anyio
async def test_every_event_of_a_whole_phase_validates_against_its_published_schema(
    tmp_path: Path, document: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from tests.engine.fakes import FakeRuns, Script, ask, complete, ends, engine

    monkeypatch.setattr(os, "fsync", lambda fd: None)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    root = create_demo_project(tmp_path / "demo")
    question = Question(question="Which storage?", header="storage")
    # batch 1 asks, then ticks half of its ids (a heal finishes them), batch 2 hits a rate limit
    runs = FakeRuns(Script(ask(question), complete(["T001", "T002"]), complete(), ends(RunStatus.RATE_LIMITED)))
    async with engine(root, runs=runs) as h:
        await h.start(auto_merge=True, skip_analyze=True)
        await h.status("waiting_input")
        await h.orch.answer(h.orch_id, {"storage": "json"})
        await h.status("waiting_rate_limit")
        await h.orch.pause(h.orch_id)
        await h.orch.resume(h.orch_id)
        assert (await h.status()).status.value == "completed"
    types = {e.type for e in h.events}
    assert {"orchestration.started", "orchestration.heal", "batch.heal", "question.asked", "orchestration.answered",
            "orchestration.wait_rate_limit", "orchestration.resume_run", "orchestration.status", "run.finished",
            "orchestration.complete"} <= types, types  # fmt: skip
    for event in h.events:
        check_event(document, event.to_params())


def test_a_run_event_built_by_the_runner_validates(document: dict[str, Any]) -> None:
    payload = RunStarted(run_id="r", orchestration=None, step="verify", batch=None, attempt=1, continuation=0, pid=1,
                         started_at="2026-01-01T00:00:00+00:00", budget_usd=5.0)  # fmt: skip
    check_event(document, Event("run.started", "/p", payload, "2026-01-01T00:00:00.000+00:00").to_params())

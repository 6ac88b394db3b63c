"""The ``EventSink`` contract (engine/ports.py) on ``EventBus`` (services/events.py), the sink the daemon and the
in-process engine tests (tests/engine/fakes.py) both give the orchestrator: there is no fake of it, so these
hold what the engine and its listeners rely on, and a fake sink joins the ``sink`` fixture's params the day
there is one.

``emit(project, payload)`` reaches every listener at once, in order, as an event of the payload's type about
that project; a listener that fails neither reaches the emitter nor keeps the event from the others (the
orchestrator's own ``notice`` is one of them).
"""

from __future__ import annotations

import pytest

from specflowd.event_catalogue import OrchestrationProblem, QuestionAsked
from specflowd.services.events import Event, EventBus

PROJECT = "/work/project"


@pytest.fixture(params=["real"])
def sink(request: pytest.FixtureRequest) -> EventBus:
    return EventBus()


def test_an_emitted_payload_reaches_every_listener_in_order_about_its_project(sink: EventBus) -> None:
    first: list[Event] = []
    second: list[Event] = []
    sink.listeners += [first.append, second.append]
    asked = QuestionAsked(run_id="r", orchestration="o", step="verify", message="?", questions=[])
    problem = OrchestrationProblem(orchestration="o", problem="cannot load it")
    sink.emit(PROJECT, asked)
    sink.emit(None, problem)
    assert [(e.type, e.project, e.payload) for e in first] == [
        ("question.asked", PROJECT, asked),
        (problem.event_type(), None, problem),
    ]
    assert second == first


def test_a_failing_listener_keeps_the_event_from_no_one(sink: EventBus) -> None:
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("a listener's bug")

    sink.listeners += [broken, lambda event: seen.append(event.type)]
    sink.emit(PROJECT, OrchestrationProblem(orchestration="o", problem="x"))  # does not raise
    assert seen == [OrchestrationProblem(orchestration="o", problem="x").event_type()]

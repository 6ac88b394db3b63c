"""Schema 2 of the orchestration record: the state carries its own data, schema-1 records migrate on load
(tests/fixtures/records-v1: real records the schema-1 daemon wrote), and clients still read the flat fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from specflowd.domain.config import OrchestrationConfig
from specflowd.domain.record import (
    SCHEMA_VERSION,
    AttentionKind,
    AttentionNeeded,
    OrchestrationStatus,
    Paused,
    Running,
    WaitingInput,
    WaitingRateLimit,
    dump_record,
    load_record,
    record_view,
)
from specflowd.domain.transitions import _recovery_of
from specflowd.files.workflows import LOG_KEY
from specflowd.vocabulary import Question

V1 = Path(__file__).parent.parent / "fixtures" / "records-v1"
FIXTURES = sorted(V1.glob("*.json"))
STATE_FIELDS = ("status", "attention", "pending_questions", "questions_run_id", "rate_limit_until")
# What a state does not use was never read in schema 1; the one fixture that held some (a pause during a
# rate-limit wait kept the reset) shows it is dropped.
DROPPED = {"paused-after-rate-limit": {"rate_limit_until": None}}


def v1(name: str, path: Path | None = None) -> dict[str, Any]:
    """The document as the store hands it to load_record (the journal's bookkeeping key taken off)."""
    data: dict[str, Any] = json.loads((path or V1 / f"{name}.json").read_text())
    del data[LOG_KEY]
    return data


def test_there_is_a_v1_record_of_every_state_the_engine_stops_or_waits_in() -> None:
    statuses = {json.loads(p.read_text())["status"] for p in FIXTURES}
    assert statuses >= {"running", "paused", "waiting_input", "waiting_merge", "waiting_rate_limit",
                        "needs_attention", "completed", "failed", "cancelled"}  # fmt: skip


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_every_v1_record_migrates_round_trips_and_reads_the_same_to_clients(path: Path) -> None:
    old = v1(path.stem)
    assert old["schema_version"] == 1
    record = load_record(old)
    assert record.schema_version == SCHEMA_VERSION and record.status.value == old["status"]
    saved = dump_record(record)
    assert saved["schema_version"] == SCHEMA_VERSION and saved["state"]["kind"] == old["status"]
    assert not set(STATE_FIELDS) & set(saved)  # written back as schema 2 at the next save
    assert load_record(json.loads(json.dumps(saved))) == record
    view = record_view(record).model_dump(mode="json")
    added = {k: v for k, v in view["config"].items() if k not in old["config"]}  # settings newer than the file
    assert added == {k: v for k, v in OrchestrationConfig().model_dump(mode="json").items() if k in added}
    expected = {**old, "config": {**old["config"], **added}}
    assert view == {**expected, "schema_version": SCHEMA_VERSION, **DROPPED.get(path.stem, {})}


def test_the_states_carry_their_data() -> None:
    assert isinstance(load_record(v1("waiting_input")).state, WaitingInput)
    asking = load_record(v1("waiting_input")).state
    assert isinstance(asking, WaitingInput) and asking.questions[0].header == "storage"
    assert asking.run_id == v1("waiting_input")["questions_run_id"]
    waiting = load_record(v1("waiting_rate_limit"))
    assert isinstance(waiting.state, WaitingRateLimit) and waiting.state.until == datetime(2026, 1, 1, 17, tzinfo=UTC)
    assert waiting.resumable_run_id is not None  # outlives the wait: a pause keeps it for the ResumeRun
    paused = load_record(v1("paused-after-rate-limit"))
    assert isinstance(paused.state, Paused) and paused.resumable_run_id == waiting.resumable_run_id
    stopped = load_record(v1("needs_attention-budget")).state
    assert isinstance(stopped, AttentionNeeded) and stopped.attention.kind == AttentionKind.BUDGET


def test_a_state_without_its_data_cannot_be_built() -> None:
    with pytest.raises(ValidationError):
        WaitingInput(run_id="r", questions=[])
    with pytest.raises(ValidationError):
        WaitingRateLimit.model_validate({})
    with pytest.raises(ValidationError):
        AttentionNeeded.model_validate({})
    data = dump_record(load_record(v1("running")))
    data["state"] = {"kind": "waiting_input", "run_id": "r", "questions": []}
    with pytest.raises(ValidationError):
        load_record(data)


def test_a_contradictory_v1_record_becomes_what_the_v1_engine_decided_of_it() -> None:
    base = v1("running")
    no_run = {**base, "status": "waiting_input", "current_run_id": None}
    stuck = load_record(no_run).state
    assert isinstance(stuck, AttentionNeeded) and stuck.attention.kind == AttentionKind.UNKNOWN_STATE
    assert stuck.attention.reason == "waiting_input without pending questions or a run"
    assert isinstance(load_record({**base, "status": "waiting_input"}).state, Running)  # its run is judged again
    assert isinstance(load_record({**base, "status": "waiting_rate_limit"}).state, Running)  # no reset: goes on
    reasonless = load_record({**base, "status": "needs_attention", "current_run_id": None}).state
    assert isinstance(reasonless, AttentionNeeded) and reasonless.attention.reason == "needs_attention without a recorded reason"


def test_a_record_is_either_shape_never_both() -> None:
    data = dump_record(load_record(v1("running")))
    with pytest.raises(ValidationError, match="schema 1 fields"):
        load_record({**data, "status": "running"})
    record = load_record(data)
    with pytest.raises(TypeError, match="update state= instead"):
        record.model_copy(update={"status": OrchestrationStatus.PAUSED})
    with pytest.raises(AttributeError):
        record.status = OrchestrationStatus.PAUSED  # type: ignore[misc]


def test_a_record_built_with_the_flat_fields_is_migrated() -> None:
    q = Question(question="Which?")
    record = load_record(v1("running")).model_validate(
        {**v1("running"), "status": "waiting_input", "pending_questions": [q], "questions_run_id": "r"}
    )
    assert record.state == WaitingInput(run_id="r", questions=[q]) and record.pending_questions == [q]


@pytest.mark.parametrize("kind", list(AttentionKind))
def test_recover_places_every_attention_kind(kind: AttentionKind) -> None:
    retry_step, skip_passes = _recovery_of(kind)
    assert retry_step in (True, False) and skip_passes in ("step", "phase", "unparsed_lines")

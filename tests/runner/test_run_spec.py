"""One run description from request to record (specflowd/run_spec.py): the engine's RunRequest is a RunSpec
stored as it is, and metadata.json written before the spec carried its admission (group, priority, kind)
still loads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from specflowd.engine.ports import RunRequest
from specflowd.run_spec import RunSpec
from specflowd.runner.records import RunRecord
from specflowd.vocabulary import RESULT_SCHEMA, PermissionMode, RunStatus

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "run-records" / "metadata-v1.json"


def request(**overrides: object) -> RunRequest:
    values: dict[str, object] = {
        "orchestration_id": "o-1", "project_root": Path("/p"), "run_id": "r-1", "step": "heal", "batch": "2",
        "attempt": 2, "prompt": "/flow.implement", "append_system_prompt": "be brief", "json_schema": RESULT_SCHEMA,
        "budget_usd": 1.5, "model": "opus", "fallback_model": "sonnet", "permission_mode": PermissionMode.ACCEPT_EDITS,
        "stale_after_s": 90.0, "binary": "/opt/claude", "sandbox": False,
    }  # fmt: skip
    values.update(overrides)
    return RunRequest.model_validate(values)


def test_old_metadata_loads_with_the_admission_fields_defaulted() -> None:
    document = json.loads(FIXTURE.read_text())
    assert not {"group", "priority", "kind"} & document["spec"].keys()  # the shape before they joined
    record = RunRecord.model_validate_json(FIXTURE.read_text())
    spec = record.spec
    assert record.status == RunStatus.COMPLETED and spec is not None
    assert (spec.run_id, spec.orchestration_id, spec.batch) == (record.run_id, record.orchestration_id, "0")
    assert (spec.group, spec.priority, spec.kind) == (None, 0, "run")
    assert spec.json_schema == RESULT_SCHEMA and spec.extra_env == document["spec"]["extra_env"]
    again = RunRecord.model_validate_json(record.model_dump_json())
    assert again == record


def test_the_engines_request_is_the_run_spec_the_record_keeps() -> None:
    asked = request()
    assert isinstance(asked, RunSpec)
    assert (asked.orchestration_id, asked.batch, asked.append_system_prompt, asked.binary) == ("o-1", "2", "be brief",
                                                                                              "/opt/claude")  # fmt: skip
    assert asked.batch_index == 2  # the batch as the engine counts it
    assert asked.json_schema == RESULT_SCHEMA and not asked.sandbox
    assert request(batch=None).batch is None and request(batch=None).batch_index is None
    record = RunRecord(run_id="r-1", project_root=Path("/p"), step="heal", created_at=datetime(2026, 12, 6, tzinfo=UTC), spec=asked)
    stored = RunRecord.model_validate_json(record.model_dump_json()).spec
    assert stored is not None and stored.model_dump() == asked.model_dump()

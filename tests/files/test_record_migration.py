"""A schema-1 record on disk is read through the journal, migrated, and written back as schema 2 at the next
save, its decision-log bookkeeping intact (tests/fixtures/records-v1: records the schema-1 daemon wrote)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from specflowd.domain.record import SCHEMA_VERSION, WaitingInput
from specflowd.engine.adapters import ProjectJournals
from specflowd.files.workflows import LOG_KEY, WorkflowDir

pytestmark = pytest.mark.anyio
V1 = Path(__file__).parent.parent / "fixtures" / "records-v1"


async def test_a_v1_record_on_disk_loads_and_is_saved_back_as_schema_2(tmp_path: Path) -> None:
    old = json.loads((V1 / "waiting_input.json").read_text())
    store = WorkflowDir(tmp_path)
    path = store.record_path(old["id"])
    path.parent.mkdir(parents=True)
    shutil.copy(V1 / "waiting_input.json", path)
    journal = ProjectJournals()
    record = journal.load(tmp_path, old["id"])
    assert isinstance(record.state, WaitingInput) and record.pending_questions[0].header == "storage"
    assert json.loads(path.read_text())["schema_version"] == 1  # reading alone writes nothing
    await journal.save(record)
    saved = json.loads(path.read_text())
    assert saved["schema_version"] == SCHEMA_VERSION and saved["state"]["kind"] == "waiting_input"
    assert "status" not in saved and "pending_questions" not in saved
    assert saved[LOG_KEY]["seq"] == old[LOG_KEY]["seq"]
    assert ProjectJournals().load(tmp_path, old["id"]) == record

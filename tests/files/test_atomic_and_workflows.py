from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from specflowd.errors import StorageError
from specflowd.files.atomic import append_jsonl, atomic_write_json
from specflowd.files.workflows import WorkflowDir


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2, "ü": "x"})
    assert json.loads(target.read_text()) == {"a": 2, "ü": "x"}
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]


def test_failed_write_keeps_old_document(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    atomic_write_json(target, {"keep": True})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"keep": True}
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]


def test_workflow_dir_round_trip_and_decision_log(tmp_path: Path) -> None:
    wf = WorkflowDir(tmp_path)
    assert wf.ids() == []
    wf.save("abc", {"id": "abc", "status": "running"})
    wf.save("def", {"id": "def"})
    (wf.root / "orchestration-x.json.tmp").write_text("junk")  # not a record
    assert wf.ids() == ["abc", "def"]
    assert wf.load("abc")["status"] == "running"
    wf.append_event("abc", {"action": "start"})
    wf.append_event("abc", {"action": "spawn"})
    with wf.events_path("abc").open("a") as handle:
        handle.write('{"action": "torn')  # a crash mid-line
    assert [e["action"] for e in wf.read_events("abc")] == ["start", "spawn"]
    assert [e["action"] for e in wf.read_events("abc", limit=1)] == ["spawn"]


def test_corrupt_record_raises_value_error(tmp_path: Path) -> None:
    wf = WorkflowDir(tmp_path)
    wf.root.mkdir(parents=True)
    wf.record_path("bad").write_text("[1, 2")
    with pytest.raises(ValueError):
        wf.load("bad")


@pytest.mark.skipif(os.getuid() == 0, reason="root ignores directory permissions")
def test_unwritable_dir_is_a_storage_error(tmp_path: Path) -> None:
    wf = WorkflowDir(tmp_path)
    wf.root.mkdir(parents=True)
    wf.root.chmod(0o500)
    try:
        with pytest.raises(StorageError):
            wf.save("abc", {})
    finally:
        wf.root.chmod(0o700)


def test_full_disk_is_a_storage_error_and_keeps_old(tmp_path: Path) -> None:
    """/dev/full answers every write with ENOSPC: the failing write must not clobber the record."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    wf = WorkflowDir(tmp_path)
    wf.save("abc", {"v": 1})
    log = wf.events_path("abc")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.symlink_to("/dev/full")
    with pytest.raises(StorageError, match="decision log"):
        wf.append_event("abc", {"action": "x"})
    assert wf.load("abc") == {"v": 1}
    append_jsonl(tmp_path / "plain.jsonl", {"ok": 1})
    assert json.loads((tmp_path / "plain.jsonl").read_text()) == {"ok": 1}


def test_decision_log_pages_from_byte_offsets(tmp_path: Path) -> None:
    store = WorkflowDir(tmp_path)
    for n in range(5):
        store.append_event("o1", {"n": n})
    path = store.events_path("o1")
    with path.open("a") as handle:
        handle.write('{"torn": ')  # a line being written (or torn by a crash): never returned half
    first, offset, more = store.read_events_from("o1", 0, 2)
    assert [e["n"] for e in first] == [0, 1] and more
    rest, end, more = store.read_events_from("o1", offset, 10)
    assert [e["n"] for e in rest] == [2, 3, 4] and not more and end == path.stat().st_size - len('{"torn": ')
    with path.open("a") as handle:
        handle.write('"x"}\n')
    assert store.read_events_from("o1", end, 10)[0] == [{"torn": "x"}]
    assert store.read_events_from("missing", 0, 10) == ([], 0, False)

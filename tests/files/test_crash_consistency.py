"""The store's answers to a crash mid-write: the journal's decision-log repair, the leftovers sweep, and
directories that appear whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from specflowd.errors import StorageError
from specflowd.files.atomic import atomic_create_dir, atomic_write_json
from specflowd.files.leftovers import is_temp_name, sweep_temp
from specflowd.files.workflows import LOG_KEY, Journal, WorkflowDir


def seqs(wf: WorkflowDir) -> list[Any]:
    return [e.get("seq") for e in wf.read_events("o1")]


def test_commit_saves_the_record_then_appends_a_numbered_entry(tmp_path: Path) -> None:
    wf = WorkflowDir(tmp_path)
    journal = Journal(wf, "o1")
    journal.commit({"id": "o1", "n": 1}, {"action": "start"})
    journal.commit({"id": "o1", "n": 2}, {"action": "advance"})
    assert wf.read_events("o1") == [{"seq": 1, "action": "start"}, {"seq": 2, "action": "advance"}]
    stored = wf.load("o1")
    assert stored[LOG_KEY]["seq"] == 2 and stored["n"] == 2

    document, reopened = Journal.open(wf, "o1")
    assert LOG_KEY not in document and document == {"id": "o1", "n": 2}
    assert reopened.seq == 2 and reopened.pending == []
    assert seqs(wf) == [1, 2]  # nothing appended twice


def test_an_entry_lost_between_record_and_log_is_appended_at_open(tmp_path: Path) -> None:
    """What a SIGKILL between the two writes leaves: the record carries entry 3, the log ends at 2."""
    wf = WorkflowDir(tmp_path)
    journal = Journal(wf, "o1")
    journal.commit({"id": "o1"}, {"action": "start"})
    journal.commit({"id": "o1"}, {"action": "replan"})
    journal.seq += 1
    journal.pending.append({"seq": 3, "action": "spawn_batch", "run_id": "r1"})
    journal.save({"id": "o1", "runs": ["r1"]})  # the record is written, the append never happens

    document, reopened = Journal.open(wf, "o1")
    assert document["runs"] == ["r1"]
    assert wf.read_events("o1")[-1] == {"seq": 3, "action": "spawn_batch", "run_id": "r1"}
    reopened.commit({"id": "o1"}, {"action": "finish_batch"})
    assert seqs(wf) == [1, 2, 3, 4]


def test_an_entry_appended_after_a_torn_line_stays_readable(tmp_path: Path) -> None:
    wf = WorkflowDir(tmp_path)
    journal = Journal(wf, "o1")
    journal.commit({"id": "o1"}, {"action": "start"})
    with wf.events_path("o1").open("a") as handle:
        handle.write('{"seq": 2, "act')  # a write cut short (power loss)
    journal.seq += 1
    journal.pending.append({"seq": 2, "action": "advance"})
    journal.save({"id": "o1"})
    Journal.open(wf, "o1")
    assert wf.read_events("o1") == [{"seq": 1, "action": "start"}, {"seq": 2, "action": "advance"}]


def started_journal(tmp_path: Path) -> tuple[WorkflowDir, Journal]:
    wf = WorkflowDir(tmp_path)
    journal = Journal(wf, "o1")
    journal.commit({"id": "o1"}, {"action": "start"})
    return wf, journal


def disk_full(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """``WorkflowDir.<method>`` fails like a full disk until ``monkeypatch.undo()``."""

    def full(*_: Any) -> None:
        raise StorageError("no space left")

    monkeypatch.setattr(WorkflowDir, method, full)


def test_a_failed_append_stays_pending_until_one_succeeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wf, journal = started_journal(tmp_path)
    disk_full(monkeypatch, "append_event")
    with pytest.raises(StorageError):
        journal.commit({"id": "o1"}, {"action": "advance"})
    with pytest.raises(StorageError):
        journal.commit({"id": "o1"}, {"action": "needs_attention"})
    assert [e["seq"] for e in wf.load("o1")[LOG_KEY]["pending"]] == [2, 3]  # both ride with the record
    monkeypatch.undo()
    journal.commit({"id": "o1"}, {"action": "recovered"})
    assert seqs(wf) == [1, 2, 3, 4]


def test_a_change_whose_record_cannot_be_saved_is_logged_only_if_it_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wf, journal = started_journal(tmp_path)
    disk_full(monkeypatch, "save")
    with pytest.raises(StorageError):
        journal.commit({"id": "o1"}, {"action": "paused"})  # a user verb: refused, nothing changed
    assert journal.seq == 1 and journal.pending == []
    with pytest.raises(StorageError):
        journal.commit({"id": "o1"}, {"action": "needs_attention"}, held=True)  # the engine keeps it in memory
    monkeypatch.undo()
    journal.commit({"id": "o1"}, {"action": "recovered"})
    assert [(e["seq"], e["action"]) for e in wf.read_events("o1")] == [
        (1, "start"),
        (2, "needs_attention"),
        (3, "recovered"),
    ]


def test_records_without_bookkeeping_load_and_bad_bookkeeping_is_refused(tmp_path: Path) -> None:
    wf = WorkflowDir(tmp_path)
    wf.save("o1", {"id": "o1"})  # written before sequence numbers existed
    wf.append_event("o1", {"action": "start"})
    document, journal = Journal.open(wf, "o1")
    assert document == {"id": "o1"} and journal.seq == 0
    journal.commit(document, {"action": "advance"})
    assert seqs(wf) == [None, 1]
    wf.save("o2", {"id": "o2", LOG_KEY: {"seq": "x", "pending": []}})
    with pytest.raises(ValueError):
        Journal.open(wf, "o2")


def test_the_sweep_removes_only_temporary_names_of_our_writes(tmp_path: Path) -> None:
    keep = ["metadata.json", ".hidden", "x.tmp", ".metadata.json.tmp", ".a.ABCDEFGH.tmp", "notes.txt"]
    for name in keep:
        (tmp_path / name).write_text("keep")
    dead_file = tmp_path / ".metadata.json.k3_z9a0q.tmp"
    dead_file.write_text("{")
    dead_dir = tmp_path / ".1c6f9b7e-0000-4000-8000-000000000000.ab12cd34.tmp"
    dead_dir.mkdir()
    (dead_dir / "prompt.txt").write_text("p")
    swept = sweep_temp(tmp_path)
    assert sorted(swept.removed) == sorted([dead_file, dead_dir]) and swept.problems == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)
    assert sweep_temp(tmp_path / "absent").removed == []


def test_the_sweep_can_be_limited_to_our_own_targets(tmp_path: Path) -> None:
    ours, theirs = tmp_path / ".registry.json.abcdefgh.tmp", tmp_path / ".config.json.abcdefgh.tmp"
    ours.write_text("{")
    theirs.write_text("{")
    assert sweep_temp(tmp_path, targets={"registry.json"}).removed == [ours]
    assert theirs.exists()


def test_temporary_names_are_what_the_atomic_writers_create(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real_replace = __import__("os").replace

    def spy(src: str, dst: Any) -> None:
        seen.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr("specflowd.files.atomic.os.replace", spy)
    atomic_write_json(tmp_path / "metadata.json", {})
    assert len(seen) == 1 and is_temp_name(seen[0]), seen


def test_a_directory_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "wf" / "run-1"

    def fill(staging: Path) -> None:
        assert is_temp_name(staging.name) and not target.exists()
        atomic_write_json(staging / "metadata.json", {"status": "starting"})

    atomic_create_dir(target, fill)
    assert json.loads((target / "metadata.json").read_text()) == {"status": "starting"}
    with pytest.raises(FileExistsError):
        atomic_create_dir(target, fill)

    def broken(staging: Path) -> None:
        (staging / "half").write_text("x")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_create_dir(tmp_path / "wf" / "run-2", broken)
    assert sorted(p.name for p in (tmp_path / "wf").iterdir()) == ["run-1"]

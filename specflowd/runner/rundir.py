"""Files of one run directory, ``{project}/.specflow/workflows/{session_id}/`` (docs/daemon.md#files-on-disk).
I/O only."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from specflowd.faults import fault
from specflowd.files.atomic import (
    atomic_create_dir,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    json_bytes,
    read_json,
)
from specflowd.files.leftovers import Sweep, sweep_temp
from specflowd.files.offload import OrderedFiles
from specflowd.files.workflows import workflows_dir
from specflowd.runner.records import ProcessIdentity, RunRecord

__all__ = ["RunDir", "WorkflowsListing", "list_workflows", "run_dirs", "sweep_run_dirs", "workflows_dir"]

_RUN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")  # session ids are UUIDs


# every RunDir of the daemon (several objects may name one directory): metadata writes stay in call order
_FILES = OrderedFiles()


class RunDir:
    def __init__(self, project_root: Path, run_id: str) -> None:
        self.path = workflows_dir(project_root) / run_id
        self.metadata = self.path / "metadata.json"
        self.prompt = self.path / "prompt.txt"
        self.output = self.path / "output.jsonl"
        self.stderr = self.path / "stderr.log"
        self.pid_file = self.path / "process.pid"

    def continuation_prompt(self, n: int) -> Path:
        return self.path / f"prompt-{n}.txt"

    def lock_path(self, invocation: int) -> Path:
        """Held by the invocation's processes from fork to exit (``process.take_lock``); one per invocation, so
        a descendant of an earlier one that still holds its descriptor says nothing about a later one."""
        return self.path / ("process.lock" if invocation == 0 else f"process-{invocation}.lock")

    def create(self, record: RunRecord, prompt: str) -> None:
        """The directory appears at once with prompt.txt and metadata.json (status starting): a run directory
        is never seen without its metadata. FileExistsError when the run exists."""

        def fill(staging: Path) -> None:
            atomic_write_text(staging / self.prompt.name, prompt)
            atomic_write_json(staging / self.metadata.name, record)
            fault("before_run_dir")

        atomic_create_dir(self.path, fill)

    def save(self, record: RunRecord) -> None:
        """Write metadata.json now, on this thread (for callers that cannot wait: prefer ``save_async``)."""
        data = json_bytes(record)
        _FILES.write_now(self.metadata, lambda: atomic_write_bytes(self.metadata, data))

    async def save_async(self, record: RunRecord) -> None:
        """Write metadata.json as it is now, in a worker thread; returns once it is durable."""
        data = json_bytes(record)
        await _FILES.write(self.metadata, lambda: atomic_write_bytes(self.metadata, data))

    async def create_async(self, record: RunRecord, prompt: str) -> None:
        """``create`` in a worker thread (the record is serialised first: it may change meanwhile)."""
        snapshot = record.model_copy(deep=True)
        await _FILES.write(self.path, lambda: self.create(snapshot, prompt))

    def load(self) -> RunRecord:
        return RunRecord.model_validate(read_json(self.metadata))

    def write_text(self, path: Path, text: str) -> None:
        atomic_write_text(path, text)

    def save_identity(self, identity: ProcessIdentity) -> None:
        atomic_write_json(self.pid_file, identity.model_dump())

    async def save_identity_async(self, identity: ProcessIdentity) -> None:
        await _FILES.write(self.pid_file, lambda: self.save_identity(identity))

    def load_identity(self) -> ProcessIdentity | None:
        try:
            return ProcessIdentity.model_validate(read_json(self.pid_file))
        except (OSError, ValueError, ValidationError):
            return None

    def output_size(self) -> int:
        try:
            return self.output.stat().st_size
        except FileNotFoundError:
            return 0


@dataclass(frozen=True)
class WorkflowsListing:
    """One pass over a project's workflows directory (a restart lists hundreds of them: once each)."""

    directories: list[str]  # not hidden, sorted: the run directories, and whatever else another tool put there
    hidden: list[str]  # among them the temporary names of interrupted writes


def list_workflows(project_root: Path) -> WorkflowsListing:
    """The entries of the project's workflows directory; an empty listing when it cannot be read."""
    directories: list[str] = []
    hidden: list[str] = []
    try:
        with os.scandir(workflows_dir(project_root)) as entries:
            for entry in entries:  # names and types from the directory itself: no stat per entry
                if entry.name.startswith("."):
                    hidden.append(entry.name)
                elif entry.is_dir():
                    directories.append(entry.name)
    except OSError:
        pass
    return WorkflowsListing(sorted(directories), sorted(hidden))


def run_dirs(project_root: Path, names: Iterable[str]) -> Iterator[RunDir]:
    """The run directories among ``names`` (a listing's ``directories``, which leaves out the hidden temporary
    directories of an interrupted ``RunDir.create``): those with a metadata.json."""
    root = workflows_dir(project_root)
    for name in names:
        if (root / name / "metadata.json").is_file():
            yield RunDir(project_root, name)


def sweep_run_dirs(project_root: Path, listing: WorkflowsListing, names: Iterable[str]) -> Sweep:
    """Leftovers of interrupted writes in the workflows directory and in the directories ``names`` of its
    ``listing`` (the caller leaves out finished runs known from the project's index: nothing is written in
    their directories) are removed. A directory named like a run but without metadata.json cannot be an
    interrupted ``create`` (those stay hidden until complete): it is reported and left alone — it may belong
    to another tool."""
    root = workflows_dir(project_root)
    result = sweep_temp(root, names=listing.hidden)
    for name in names:
        child = root / name
        if (child / "metadata.json").is_file():
            result.extend(sweep_temp(child))
        elif _RUN_ID.match(name):
            result.problems.append(
                f"{child}: a run directory without metadata.json (not written by this specflowd); left untouched"
            )
    return result

"""Leftovers of writes a crash interrupted, found at start: removed when provably ours, else reported.

``atomic_write_*`` and ``atomic_create_dir`` write under ``.<target>.<8 random chars>.tmp`` and rename; a
SIGKILL before the rename leaves that hidden name behind. Only the daemon that holds the single-instance
lock writes these names in the directories swept here, and every such write runs start to finish without
yielding to the event loop, so a temporary name seen by the daemon is never a write in progress: it is dead.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from specflowd.files.atomic import TEMP_SUFFIX

__all__ = ["Sweep", "is_temp_name", "sweep_temp"]

# tempfile's names: prefix + 8 of [a-z0-9_] + suffix (see tempfile._RandomNameSequence)
_TEMP = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX) + "$")


def is_temp_name(name: str) -> bool:
    return _TEMP.match(name) is not None


@dataclass
class Sweep:
    removed: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def extend(self, other: Sweep) -> None:
        self.removed.extend(other.removed)
        self.problems.extend(other.problems)


def sweep_temp(directory: Path, targets: Collection[str] | None = None, names: Iterable[str] | None = None) -> Sweep:
    """Remove the temporary files and directories of interrupted atomic writes directly in ``directory``;
    with ``targets``, only those of writes to these names (in a directory other programs write to as well);
    with ``names``, among these entries of a listing the caller already made."""
    result = Sweep()
    if names is None:
        try:
            names = sorted(os.listdir(directory))  # names first: a Path per entry of a big directory costs more
        except (FileNotFoundError, NotADirectoryError):
            return result
        except OSError as exc:
            result.problems.append(f"{directory}: cannot look for leftovers: {exc.strerror}")
            return result
    for name in names:
        match = _TEMP.match(name)
        if match is None or (targets is not None and match["target"] not in targets):
            continue
        child = directory / name
        try:
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            result.problems.append(f"{child}: leftover of an interrupted write, cannot remove it: {exc.strerror}")
            continue
        result.removed.append(child)
    return result

"""The admission queue: which agent run may start now. Pure: no I/O, no clock (``now`` is passed in).

Model: pueue's groups with parallel limits. Every unit (an agent run the engine decided to start) is queued
in a group; ``admit(now)`` hands out the free slots. Within a group the order is

1. priority, higher first;
2. round robin across projects: the projects with waiting units take turns in a service order; a project
   that has just been served goes to the back if it has more waiting, a project that starts waiting joins
   at the back. So a unit waits behind at most one unit of each other project per unit of its own project
   ahead of it;
3. FIFO within one project.

A project whose next unit's account waits for a rate-limit reset (``gate``) is passed over and keeps its
turn until the reset; running units are never touched. Queueing a unit that is already queued or running
changes nothing, so an engine deciding the same spawn again (a restart, a wake-up) keeps its place.

The wiring (a daemon service, not here) calls ``admit`` after every change — enqueue, finish, a limit change,
a gate's reset (``next_wake``) — and starts the runs it returns.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator
from datetime import datetime

from specflowd.admission.units import (
    DEFAULT_GROUP,
    DEFAULT_LIMIT,
    GROUP_NAME,
    MAX_LIMIT,
    GroupView,
    QueuedEntry,
    QueuePosition,
    Snapshot,
    Unit,
    WaitReason,
)
from specflowd.errors import InvalidConfig, InvalidState, NotFound

__all__ = ["AdmissionQueue"]

# One priority level of one group: projects in service order (first = next turn), each with its FIFO.
_Level = OrderedDict[str, deque[QueuedEntry]]


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        raise InvalidConfig(f"a group's limit is a whole number from 0 (paused) to {MAX_LIMIT}", limit=limit)
    return limit


def _check_name(name: str) -> str:
    if not GROUP_NAME.match(name):
        raise InvalidConfig(
            "a group name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", group=name
        )
    return name


def _admission_order(level: _Level) -> Iterator[QueuedEntry]:
    """The order in which ``level`` would be served if nothing else arrived: turn after turn, one unit per
    project with units left, in service order."""
    fifos = [(project, list(fifo)) for project, fifo in level.items()]
    depth = 0
    while fifos:
        for _, fifo in fifos:
            yield fifo[depth]
        depth += 1
        fifos = [(project, fifo) for project, fifo in fifos if len(fifo) > depth]


class AdmissionQueue:
    def __init__(self, default_limit: int = DEFAULT_LIMIT) -> None:
        self._limits: dict[str, int] = {DEFAULT_GROUP: _check_limit(default_limit)}
        self._levels: dict[str, dict[int, _Level]] = {DEFAULT_GROUP: {}}  # group -> priority -> level
        self._where: dict[str, Unit] = {}  # queued unit id -> unit
        self._running: dict[str, Unit] = {}
        self._gates: dict[str, datetime] = {}

    # ------------------------------------------------------------------------------------------ groups
    def add_group(self, name: str, limit: int = DEFAULT_LIMIT) -> GroupView:
        if _check_name(name) in self._limits:
            raise InvalidState(f"group {name!r} already exists", group=name)
        self._limits[name] = _check_limit(limit)
        self._levels[name] = {}
        return self.group(name)

    def set_limit(self, name: str, limit: int) -> GroupView:
        """Applies at once: a higher limit admits at the next ``admit``; a lower one lets running units
        finish and admits nothing until the group is below it; 0 pauses the group."""
        self._known(name)
        self._limits[name] = _check_limit(limit)
        return self.group(name)

    def remove_group(self, name: str) -> list[Unit]:
        """Remove a group: its queued units join ``default`` in their admission order, its running units
        count against ``default`` from now on. Returns the units that moved."""
        self._known(name)
        if name == DEFAULT_GROUP:
            raise InvalidState("the default group cannot be removed", group=name)
        moved = list(self._entries(name))
        del self._limits[name], self._levels[name]
        for entry in moved:
            del self._where[entry.unit.id]
            unit = entry.unit.model_copy(update={"group": DEFAULT_GROUP})
            self._insert(QueuedEntry(unit=unit, enqueued_at=entry.enqueued_at))
        for unit_id, unit in list(self._running.items()):
            if unit.group == name:
                self._running[unit_id] = unit.model_copy(update={"group": DEFAULT_GROUP})
        return [self._where[entry.unit.id] for entry in moved]

    def group(self, name: str) -> GroupView:
        self._known(name)
        queued = sum(len(fifo) for level in self._levels[name].values() for fifo in level.values())
        return GroupView(name=name, limit=self._limits[name], running=self._running_in(name), queued=queued)

    def groups(self) -> list[GroupView]:
        return [self.group(name) for name in sorted(self._limits)]

    def has_group(self, name: str) -> bool:
        return name in self._limits

    # ------------------------------------------------------------------------------------------ units
    def enqueue(self, unit: Unit, now: datetime) -> bool:
        """Queue ``unit``. False (and nothing changes) when a unit with its id is already queued or running."""
        self._known(unit.group)
        if unit.id in self._where or unit.id in self._running:
            return False
        self._insert(QueuedEntry(unit=unit, enqueued_at=now))
        return True

    def cancel(self, unit_id: str) -> Unit | None:
        """Take a queued unit out of the queue (its orchestration paused or was cancelled)."""
        unit = self._where.pop(unit_id, None)
        if unit is None:
            return None
        level = self._levels[unit.group][unit.priority]
        fifo = level[unit.project]
        fifo.remove(next(e for e in fifo if e.unit.id == unit_id))
        self._tidy(unit, level)
        return unit

    def finish(self, unit_id: str) -> Unit | None:
        """A running unit ended (or never started): its slot is free for the next ``admit``."""
        return self._running.pop(unit_id, None)

    def adopt(self, unit: Unit) -> None:
        """A run found alive after a restart counts against its group's limit (even beyond it: it is running
        already), and leaves the queue if the snapshot still had it there."""
        self.cancel(unit.id)
        if unit.group not in self._limits:  # its group was removed meanwhile
            unit = unit.model_copy(update={"group": DEFAULT_GROUP})
        self._running[unit.id] = unit

    def admit(self, now: datetime) -> list[Unit]:
        """Admit what may start now, group by group; the units returned are running."""
        for account in [a for a, until in self._gates.items() if until <= now]:
            del self._gates[account]
        admitted: list[Unit] = []
        for group in sorted(self._limits):
            free = self._limits[group] - self._running_in(group)
            while free > 0 and (unit := self._serve(group)) is not None:
                self._running[unit.id] = unit
                admitted.append(unit)
                free -= 1
        return admitted

    # ------------------------------------------------------------------------------------------ rate limits
    def gate(self, account: str, until: datetime) -> bool:
        """A run of ``account`` reported a rate limit lasting until ``until``: hold that account's admissions
        until then. True when this starts or extends the wait (the moment to tell the user, once)."""
        current = self._gates.get(account)
        if current is not None and current >= until:
            return False
        self._gates[account] = until
        return True

    def clear_gate(self, account: str) -> bool:
        """End a wait early (the user knows better); True when there was one."""
        return self._gates.pop(account, None) is not None

    def gates(self, now: datetime) -> dict[str, datetime]:
        return {account: until for account, until in self._gates.items() if until > now}

    def next_wake(self, now: datetime) -> datetime | None:
        """The earliest reset that would let a queued unit in (when to call ``admit`` again), if any."""
        waiting = {unit.account for unit in self._where.values()}
        resets = [until for account, until in self._gates.items() if account in waiting and until > now]
        return min(resets, default=None)

    # ------------------------------------------------------------------------------------------ views
    def running(self, group: str | None = None) -> list[Unit]:
        return [u for u in self._running.values() if group is None or u.group == group]

    def is_running(self, unit_id: str) -> bool:
        return unit_id in self._running

    def queued(self, group: str | None = None) -> list[Unit]:
        """Queued units in admission order (per group; groups by name)."""
        names = [group] if group is not None else sorted(self._levels)
        return [entry.unit for name in names if name in self._levels for entry in self._entries(name)]

    def position(self, unit_id: str, now: datetime) -> QueuePosition | None:
        """Where a queued unit stands in its group and what it waits for; None when it is not queued."""
        unit = self._where.get(unit_id)
        if unit is None:
            return None
        order = list(self._entries(unit.group))
        index = next(i for i, e in enumerate(order) if e.unit.id == unit_id)
        until = self._gates.get(unit.account)
        if self._limits[unit.group] == 0:
            reason = WaitReason.PAUSED
        elif until is not None and until > now:
            reason = WaitReason.RATE_LIMIT
        else:
            reason = WaitReason.SLOT
        return QueuePosition(
            unit_id=unit_id,
            group=unit.group,
            position=index + 1,
            queued_in_group=len(order),
            reason=reason,
            until=until if reason is WaitReason.RATE_LIMIT else None,
            limit=self._limits[unit.group],
            running=self._running_in(unit.group),
            enqueued_at=order[index].enqueued_at,
        )

    # ------------------------------------------------------------------------------------------ persistence
    def snapshot(self) -> Snapshot:
        return Snapshot(
            groups=dict(self._limits),
            queued=[entry for name in sorted(self._levels) for entry in self._entries(name)],
            gates=dict(self._gates),
        )

    @classmethod
    def restore(cls, snapshot: Snapshot) -> AdmissionQueue:
        """The scheduler a snapshot describes (queued in the same order); ``InvalidConfig`` when it is not
        consistent."""
        if snapshot.version != 1:
            raise InvalidConfig(f"scheduler snapshot version {snapshot.version} is not supported")
        scheduler = cls(snapshot.groups.get(DEFAULT_GROUP, DEFAULT_LIMIT))
        for name, limit in snapshot.groups.items():
            if name != DEFAULT_GROUP:
                scheduler.add_group(name, limit)
        for entry in snapshot.queued:
            if entry.unit.group not in scheduler._limits:
                raise InvalidConfig(f"queued unit {entry.unit.id} names unknown group {entry.unit.group!r}")
            if entry.unit.id in scheduler._where:
                raise InvalidConfig(f"unit {entry.unit.id} is queued twice")
            scheduler._insert(entry)  # in admission order: first appearances rebuild the turns, the rest FIFOs
        scheduler._gates = dict(snapshot.gates)
        return scheduler

    # ------------------------------------------------------------------------------------------ internals
    def _known(self, name: str) -> None:
        if name not in self._limits:
            raise NotFound(f"no group {name!r}", group=name)

    def _running_in(self, group: str) -> int:
        return sum(1 for u in self._running.values() if u.group == group)

    def _entries(self, group: str) -> Iterator[QueuedEntry]:
        levels = self._levels[group]
        for priority in sorted(levels, reverse=True):
            yield from _admission_order(levels[priority])

    def _insert(self, entry: QueuedEntry) -> None:
        unit = entry.unit
        level = self._levels[unit.group].setdefault(unit.priority, OrderedDict())
        level.setdefault(unit.project, deque()).append(entry)  # a project new to the level joins at the back
        self._where[unit.id] = unit

    def _serve(self, group: str) -> Unit | None:
        """Take the next admissible unit of ``group``: the highest priority first, there the first project
        in service order whose next unit is not held by a rate-limit gate."""
        levels = self._levels[group]
        for priority in sorted(levels, reverse=True):
            level = levels[priority]
            for project, fifo in level.items():
                if fifo[0].unit.account in self._gates:
                    continue  # keeps its turn until the reset
                unit = fifo.popleft().unit
                del self._where[unit.id]
                level.move_to_end(project)  # served: to the back of the turns
                self._tidy(unit, level)
                return unit
        return None

    def _tidy(self, unit: Unit, level: _Level) -> None:
        """Drop a project with nothing left waiting from the turns, and a level with no project."""
        if not level[unit.project]:
            del level[unit.project]
        if not level:
            del self._levels[unit.group][unit.priority]

"""Properties of the scheduler's queue over random sequences of operations: never more than a group's limit
admitted, no admission through a rate-limit gate, FIFO within a project, fairness across projects, and a
snapshot (through JSON, then re-adoption of the running units) that continues exactly like the original."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from specflowd.admission.queue import AdmissionQueue
from specflowd.admission.units import Snapshot, Unit

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
PROJECTS = ["p0", "p1", "p2", "p3"]
GROUPS = ["default", "g2"]


def account_of(project: str) -> str:
    """One account per project (as in practice): p0, p1 share the default account, p2, p3 another."""
    return "default" if project in ("p0", "p1") else "other"


def decode(kind: int, n: int) -> tuple[Any, ...]:
    """An operation from two numbers; half of the kinds enqueue, so queues build up (several projects with
    several units each) — that is where order and fairness show."""
    if kind < 8:
        return ("enqueue", PROJECTS[n % 4], GROUPS[(n // 4) % 2], (0, 0, 1)[(n // 8) % 3])
    return [
        ("admit",),
        ("finish", n),
        ("cancel", n),
        ("limit", GROUPS[n % 2], (n // 2) % 4),
        ("gate", ("default", "other")[n % 2], 1 + (n // 2) % 10),
        ("tick", n % 7),
        ("restart",),
        ("admit",),
    ][kind - 8]


operations = st.lists(st.builds(decode, st.integers(0, 15), st.integers(0, 1000)), max_size=120)


def restart(s: AdmissionQueue) -> AdmissionQueue:
    """What a daemon restart does: the snapshot through JSON, then every still-running unit re-adopted."""
    restored = AdmissionQueue.restore(Snapshot.model_validate_json(s.snapshot().model_dump_json()))
    for u in s.running():
        restored.adopt(u)
    return restored


class Harness:
    """Runs operations against a scheduler and checks every admission."""

    def __init__(self) -> None:
        self.s = AdmissionQueue(default_limit=2)
        self.s.add_group("g2", limit=1)
        self.now = NOW
        self.counter = 0
        self.enqueued: dict[tuple[str, str, int], list[str]] = defaultdict(list)  # FIFO key -> ids in order
        self.admitted: list[Unit] = []

    def apply(self, op: tuple[Any, ...]) -> None:
        s, kind = self.s, op[0]
        if kind == "enqueue":
            _, project, group, priority = op
            self.counter += 1
            u = Unit(
                id=f"u{self.counter}", project=project, group=group, priority=priority, account=account_of(project)
            )
            assert s.enqueue(u, self.now)
            self.enqueued[(project, group, priority)].append(u.id)
        elif kind == "admit":
            self.check_admit(s.admit(self.now))
        elif kind == "finish":
            running = s.running()
            if running:
                s.finish(running[op[1] % len(running)].id)
        elif kind == "cancel":
            queued = s.queued()
            if queued:
                gone = queued[op[1] % len(queued)]
                assert s.cancel(gone.id) == gone
                self.enqueued[(gone.project, gone.group, gone.priority)].remove(gone.id)
        elif kind == "limit":
            s.set_limit(op[1], op[2])
        elif kind == "gate":
            s.gate(op[1], self.now + timedelta(minutes=op[2]))
        elif kind == "tick":
            self.now += timedelta(minutes=op[1])
        elif kind == "restart":
            self.s = restart(s)

    def check_admit(self, admitted: list[Unit]) -> None:
        gated = self.s.gates(self.now)
        for u in admitted:
            group = self.s.group(u.group)
            assert group.running <= group.limit, f"{u.group} runs {group.running} > limit {group.limit}"
            assert u.account not in gated, f"{u.id} admitted through the gate of {u.account}"
            order = self.enqueued[(u.project, u.group, u.priority)]
            assert order[0] == u.id, f"{u.id} admitted before {order[0]} of the same project"
            order.pop(0)
        self.admitted += admitted


@settings(max_examples=150, deadline=None)
@given(operations)
def test_limits_gates_and_fifo_hold_under_any_sequence(ops: list[tuple[Any, ...]]) -> None:
    h = Harness()
    for op in ops:
        h.apply(op)
    h.s.set_limit("default", 64)
    h.s.set_limit("g2", 64)
    h.now += timedelta(days=1)
    h.check_admit(h.s.admit(h.now))  # every queued unit gets in at last, still in FIFO order
    assert h.s.queued() == []


def drain(s: AdmissionQueue, now: datetime) -> list[str]:
    order: list[str] = []
    for group in s.groups():
        s.set_limit(group.name, 1)
    for u in s.running():
        s.finish(u.id)
    while admitted := s.admit(now):
        for u in admitted:
            order.append(u.id)
            s.finish(u.id)
    return order


@settings(max_examples=150, deadline=None)
@given(operations, st.lists(st.tuples(st.sampled_from(PROJECTS), st.sampled_from(GROUPS)), max_size=6))
def test_a_restored_snapshot_continues_exactly_like_the_original(
    ops: list[tuple[Any, ...]], later: list[tuple[str, str]]
) -> None:
    h = Harness()
    for op in ops:
        h.apply(op)
    twin = restart(h.s)
    assert twin.snapshot() == h.s.snapshot()
    for index, (project, group) in enumerate(later):  # new work after the restart lands in the same places
        for s in (h.s, twin):
            s.enqueue(Unit(id=f"late{index}", project=project, group=group, account=account_of(project)), h.now)
    end = h.now + timedelta(days=1)
    assert drain(twin, end) == drain(h.s, end)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PROJECTS), st.just("step")), max_size=60))
def test_no_project_waits_behind_more_than_one_unit_of_each_other_project(ops: list[str]) -> None:
    """One group, equal priority, one slot: between a unit's arrival and its admission, every other project
    gets at most one admission per unit of its own project that was ahead of it, plus one."""
    s = AdmissionQueue(default_limit=1)
    ahead_at_arrival: dict[str, int] = {}
    admitted_since: dict[str, dict[str, int]] = {}  # queued unit -> other project -> admissions meanwhile
    project_of: dict[str, str] = {}
    counter = 0

    def step() -> None:
        for u in s.admit(NOW):
            s.finish(u.id)
            waited = admitted_since.pop(u.id)
            for project, count in waited.items():
                assert count <= ahead_at_arrival[u.id] + 1, (
                    f"{u.id} of {u.project} waited behind {count} units of {project} "
                    f"with {ahead_at_arrival[u.id]} of its own ahead"
                )
            for other in admitted_since:
                if project_of[other] != u.project:
                    admitted_since[other][u.project] = admitted_since[other].get(u.project, 0) + 1

    for op in ops:
        if op == "step":
            step()
            continue
        counter += 1
        uid = f"u{counter}"
        ahead_at_arrival[uid] = sum(1 for q in s.queued() if q.project == op)
        s.enqueue(Unit(id=uid, project=op), NOW)
        project_of[uid] = op
        admitted_since[uid] = {}
    while s.queued():
        step()


@settings(max_examples=150, deadline=None)
@given(operations)
def test_reported_positions_are_the_admission_order(ops: list[tuple[Any, ...]]) -> None:
    h = Harness()
    for op in ops:
        h.apply(op)
    s, later = h.s, h.now + timedelta(days=1)
    expected = {g.name: [u.id for u in s.queued(g.name)] for g in s.groups()}
    for group, order in expected.items():
        positions = [s.position(uid, h.now) for uid in order]
        assert [p.position if p else None for p in positions] == list(range(1, len(order) + 1))
        assert all(p is not None and p.group == group and p.queued_in_group == len(order) for p in positions)
    admitted: dict[str, list[str]] = {g: [] for g in expected}
    for g in expected:
        s.set_limit(g, 1)
    for u in s.running():
        s.finish(u.id)
    while batch := s.admit(later):
        for u in batch:
            admitted[u.group].append(u.id)
            s.finish(u.id)
    assert admitted == expected

"""The scheduler's queue, unit by unit: limits, pausing, fairness, priority, rate-limit gates, positions,
groups, re-adoption and snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from specflowd.admission.queue import AdmissionQueue
from specflowd.admission.units import Snapshot, Unit, WaitReason
from specflowd.errors import InvalidConfig, InvalidState, NotFound

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def unit(uid: str, project: str | None = None, **kw: object) -> Unit:
    return Unit(id=uid, project=project or uid[0], **kw)


def ids(units: list[Unit]) -> list[str]:
    return [u.id for u in units]


def drain_one_by_one(s: AdmissionQueue, now: datetime = NOW) -> list[str]:
    """Admit and finish one unit at a time (a limit of 1 in effect): the admission order."""
    order: list[str] = []
    while admitted := s.admit(now):
        for u in admitted:
            order.append(u.id)
            s.finish(u.id)
    return order


def test_default_group_admits_two_and_a_finish_frees_a_slot() -> None:
    s = AdmissionQueue()
    for uid in ("a1", "b1", "c1"):
        assert s.enqueue(unit(uid), NOW)
    assert ids(s.admit(NOW)) == ["a1", "b1"]
    assert s.admit(NOW) == []
    assert s.group("default").model_dump() == {"name": "default", "limit": 2, "running": 2, "queued": 1}
    assert s.finish("a1") is not None
    assert ids(s.admit(NOW)) == ["c1"]
    assert s.finish("a1") is None  # finishing twice changes nothing


def test_round_robin_across_projects_fifo_within_one() -> None:
    s = AdmissionQueue(default_limit=1)
    for uid in ("a1", "a2", "a3", "a4"):
        s.enqueue(unit(uid), NOW)
    for uid in ("b1", "b2"):
        s.enqueue(unit(uid), NOW)
    s.enqueue(unit("c1"), NOW)
    assert ids(s.queued()) == ["a1", "b1", "c1", "a2", "b2", "a3", "a4"]
    assert drain_one_by_one(s) == ["a1", "b1", "c1", "a2", "b2", "a3", "a4"]


def test_a_late_project_waits_behind_one_unit_of_each_other_project() -> None:
    s = AdmissionQueue(default_limit=1)
    for uid in ("a1", "a2", "a3", "b1", "b2", "b3"):
        s.enqueue(unit(uid), NOW)
    first = s.admit(NOW)
    assert ids(first) == ["a1"]
    s.finish("a1")
    s.enqueue(unit("c1"), NOW)
    position = s.position("c1", NOW)
    assert position is not None and position.position == 3  # behind one unit of b and one of a, joins the turns
    assert drain_one_by_one(s) == ["b1", "a2", "c1", "b2", "a3", "b3"]


def test_higher_priority_goes_first_then_round_robin() -> None:
    s = AdmissionQueue(default_limit=1)
    s.enqueue(unit("a1"), NOW)
    s.enqueue(unit("a2"), NOW)
    s.enqueue(unit("b1", priority=5), NOW)
    s.enqueue(unit("c1", priority=5), NOW)
    s.enqueue(unit("b2", priority=5), NOW)
    s.enqueue(unit("d1", priority=-1), NOW)
    assert drain_one_by_one(s) == ["b1", "c1", "b2", "a1", "a2", "d1"]


def test_limit_zero_pauses_and_a_new_limit_applies_at_once() -> None:
    s = AdmissionQueue()
    s.set_limit("default", 0)
    s.enqueue(unit("a1"), NOW)
    s.enqueue(unit("b1"), NOW)
    assert s.admit(NOW) == []
    position = s.position("a1", NOW)
    assert position is not None and position.reason is WaitReason.PAUSED
    s.set_limit("default", 1)
    assert ids(s.admit(NOW)) == ["a1"]
    s.set_limit("default", 3)
    assert ids(s.admit(NOW)) == ["b1"]


def test_lowering_a_limit_lets_running_units_finish() -> None:
    s = AdmissionQueue(default_limit=3)
    for uid in ("a1", "b1", "c1", "d1"):
        s.enqueue(unit(uid), NOW)
    assert len(s.admit(NOW)) == 3
    s.set_limit("default", 1)
    assert len(s.running()) == 3  # nothing is stopped
    s.finish("a1")
    assert s.admit(NOW) == []  # still 2 running, above the limit of 1
    s.finish("b1")
    assert s.admit(NOW) == []
    s.finish("c1")
    assert ids(s.admit(NOW)) == ["d1"]


def test_groups_have_their_own_limits() -> None:
    s = AdmissionQueue(default_limit=1)
    s.add_group("night", limit=2)
    for uid in ("a1", "b1"):
        s.enqueue(unit(uid), NOW)
    for uid in ("c1", "d1", "e1"):
        s.enqueue(unit(uid, group="night"), NOW)
    assert sorted(ids(s.admit(NOW))) == ["a1", "c1", "d1"]
    assert [(g.name, g.running, g.queued) for g in s.groups()] == [("default", 1, 1), ("night", 2, 1)]


def test_group_errors_are_clear() -> None:
    s = AdmissionQueue()
    with pytest.raises(NotFound):
        s.enqueue(unit("a1", group="nope"), NOW)
    with pytest.raises(NotFound):
        s.set_limit("nope", 1)
    s.add_group("night")
    with pytest.raises(InvalidState):
        s.add_group("night")
    with pytest.raises(InvalidConfig):
        s.add_group("bad name!")
    with pytest.raises(InvalidConfig):
        s.set_limit("night", -1)
    with pytest.raises(InvalidConfig):
        s.set_limit("night", 65)
    with pytest.raises(InvalidConfig):
        s.set_limit("night", True)
    with pytest.raises(InvalidState):
        s.remove_group("default")


def test_removing_a_group_moves_its_work_to_default_in_order() -> None:
    s = AdmissionQueue(default_limit=0)
    s.add_group("night", limit=1)
    for uid in ("a1", "a2", "b1"):
        s.enqueue(unit(uid, group="night"), NOW)
    assert ids(s.admit(NOW)) == ["a1"]
    s.enqueue(unit("c1"), NOW)
    moved = s.remove_group("night")
    assert ids(moved) == ["b1", "a2"]
    assert not s.has_group("night")
    assert s.group("default").running == 1  # a1 now counts against default
    assert ids(s.queued()) == ["c1", "b1", "a2"]
    s.set_limit("default", 1)
    s.finish("a1")
    assert drain_one_by_one(s) == ["c1", "b1", "a2"]


def test_enqueue_is_idempotent_for_queued_and_running_units() -> None:
    s = AdmissionQueue(default_limit=1)
    assert s.enqueue(unit("a1"), NOW)
    assert s.enqueue(unit("b1"), NOW)
    assert not s.enqueue(unit("b1"), NOW + timedelta(minutes=5))  # the engine decided the same spawn again
    before = s.position("b1", NOW)
    assert ids(s.admit(NOW)) == ["a1"]
    assert not s.enqueue(unit("a1"), NOW)  # running: not queued a second time
    assert s.position("a1", NOW) is None
    after = s.position("b1", NOW)
    assert before is not None and after is not None and after.enqueued_at == NOW


def test_cancel_takes_a_unit_out_of_the_queue() -> None:
    s = AdmissionQueue(default_limit=1)
    for uid in ("a1", "b1", "c1"):
        s.enqueue(unit(uid), NOW)
    cancelled = s.cancel("b1")
    assert cancelled is not None and cancelled.id == "b1"
    assert s.cancel("b1") is None
    assert drain_one_by_one(s) == ["a1", "c1"]


def test_positions_report_group_place_and_reason() -> None:
    s = AdmissionQueue(default_limit=1)
    for uid in ("a1", "a2", "b1"):
        s.enqueue(unit(uid), NOW)
    s.admit(NOW)
    positions = {uid: s.position(uid, NOW) for uid in ("a2", "b1")}
    assert {
        uid: (p.position, p.queued_in_group, p.group, p.reason, p.running, p.limit) for uid, p in positions.items() if p
    } == {
        "b1": (1, 2, "default", WaitReason.SLOT, 1, 1),
        "a2": (2, 2, "default", WaitReason.SLOT, 1, 1),
    }
    assert s.position("a1", NOW) is None  # running, not queued
    assert s.position("zz", NOW) is None


def test_rate_limit_gate_holds_the_account_until_its_reset() -> None:
    s = AdmissionQueue(default_limit=3)
    reset = NOW + timedelta(minutes=10)
    s.enqueue(unit("a1"), NOW)
    assert ids(s.admit(NOW)) == ["a1"]
    assert s.gate("default", reset)
    assert not s.gate("default", reset - timedelta(minutes=1))  # an earlier reset does not shorten the wait
    for uid in ("b1", "c1"):
        s.enqueue(unit(uid), NOW)
    s.enqueue(unit("x1", account="other"), NOW)
    assert ids(s.admit(NOW)) == ["x1"]  # another account is not held
    assert s.is_running("a1")  # the running run is not disturbed
    position = s.position("b1", NOW)
    assert position is not None and position.reason is WaitReason.RATE_LIMIT and position.until == reset
    assert s.next_wake(NOW) == reset
    assert s.gates(NOW) == {"default": reset}
    assert s.admit(reset - timedelta(seconds=1)) == []
    assert ids(s.admit(reset)) == ["b1"]  # in queue order, up to the limit (a1, x1 and b1 run)
    assert s.gates(reset) == {}
    assert s.next_wake(reset) is None


def test_a_later_reset_extends_the_wait_and_clearing_ends_it() -> None:
    s = AdmissionQueue()
    s.enqueue(unit("a1"), NOW)
    assert s.gate("default", NOW + timedelta(minutes=1))
    assert s.gate("default", NOW + timedelta(minutes=5))
    assert s.admit(NOW + timedelta(minutes=2)) == []
    assert s.clear_gate("default")
    assert not s.clear_gate("default")
    assert ids(s.admit(NOW + timedelta(minutes=2))) == ["a1"]


def test_adopted_runs_count_against_the_limit_even_beyond_it() -> None:
    s = AdmissionQueue(default_limit=2)
    s.enqueue(unit("q1"), NOW)
    s.enqueue(unit("r3"), NOW)
    for uid in ("r1", "r2", "r3"):
        s.adopt(unit(uid))
    assert s.position("r3", NOW) is None  # adopted: no longer queued
    assert s.group("default").running == 3
    assert s.admit(NOW) == []
    s.finish("r1")
    assert s.admit(NOW) == []
    s.finish("r2")
    assert ids(s.admit(NOW)) == ["q1"]
    s.adopt(unit("r9", group="gone"))  # its group was removed meanwhile: it counts against default
    assert s.running("default")[-1].id == "r9"


def test_snapshot_round_trips_through_json_and_keeps_the_order() -> None:
    s = AdmissionQueue(default_limit=1)
    s.add_group("night", limit=0)
    for uid in ("a1", "a2", "a3", "b1", "b2"):
        s.enqueue(unit(uid), NOW)
    s.enqueue(unit("c1", priority=3), NOW)
    s.enqueue(unit("n1", group="night"), NOW)
    assert ids(s.admit(NOW)) == ["c1"]
    s.gate("default", NOW + timedelta(minutes=3))
    text = s.snapshot().model_dump_json()
    restored = AdmissionQueue.restore(Snapshot.model_validate_json(text))
    assert restored.snapshot() == s.snapshot()
    assert [g.model_dump() for g in restored.groups()] == [
        {"name": "default", "limit": 1, "running": 0, "queued": 5},  # running units are re-adopted, not restored
        {"name": "night", "limit": 0, "running": 0, "queued": 1},
    ]
    later = NOW + timedelta(minutes=3)
    s.finish("c1")
    s.enqueue(unit("d1"), later)
    restored.enqueue(unit("d1"), later)
    assert drain_one_by_one(restored, later) == drain_one_by_one(s, later) == ["a1", "b1", "d1", "a2", "b2", "a3"]


def test_restore_refuses_an_inconsistent_snapshot() -> None:
    s = AdmissionQueue()
    s.enqueue(unit("a1"), NOW)
    good = s.snapshot().model_dump(mode="json")
    twice = {**good, "queued": good["queued"] * 2}
    with pytest.raises(InvalidConfig):
        AdmissionQueue.restore(Snapshot.model_validate(twice))
    stray = {
        **good,
        "groups": {"default": 2},
        "queued": [{**good["queued"][0], "unit": {"id": "x", "project": "p", "group": "gone"}}],
    }
    with pytest.raises(InvalidConfig):
        AdmissionQueue.restore(Snapshot.model_validate(stray))
    with pytest.raises(InvalidConfig):
        AdmissionQueue.restore(Snapshot.model_validate({**good, "version": 2}))
    with pytest.raises(InvalidConfig):
        AdmissionQueue.restore(Snapshot.model_validate({**good, "groups": {"default": -1}}))


def test_the_snapshot_is_plain_json_in_admission_order() -> None:
    s = AdmissionQueue(default_limit=0)
    s.add_group("night", limit=1)
    s.enqueue(unit("a1", orchestration="o1", kind="batch"), NOW)
    s.enqueue(unit("a2"), NOW)
    s.enqueue(unit("b1"), NOW)
    s.gate("default", NOW + timedelta(minutes=5))
    document = s.snapshot().model_dump(mode="json")
    assert document["version"] == 1
    assert document["groups"] == {"default": 0, "night": 1}
    assert [e["unit"]["id"] for e in document["queued"]] == ["a1", "b1", "a2"]
    assert document["queued"][0] == {
        "unit": {
            "id": "a1",
            "project": "a",
            "group": "default",
            "priority": 0,
            "account": "default",
            "orchestration": "o1",
            "kind": "batch",
        },
        "enqueued_at": "2026-05-01T12:00:00Z",
    }
    assert document["gates"] == {"default": "2026-05-01T12:05:00Z"}

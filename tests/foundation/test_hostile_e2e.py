"""Hostile and careless clients against the real daemon: every message gets a clear answer, none hurts it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.openrpc_calls import call_params
from tests.support import Daemon, RawClient, running_daemon, wait_until

FAKE_CLAUDE = str(Path(__file__).resolve().parents[1] / "fake_claude" / "claude")
ASK = {"action": "ask", "questions": [{"question": "Which DB?", "header": "db", "options": [{"label": "pg"}]}]}


def _strict_json(raw: bytes) -> Any:
    def refuse(word: str) -> None:
        raise AssertionError(f"the daemon wrote {word}, which is not JSON")

    return json.loads(raw, parse_constant=refuse)


def _exchange(client: RawClient, raw: bytes) -> Any:
    """Send raw bytes as one newline-framed message; the reply, parsed strictly."""
    client.send_raw(raw + b"\n")
    while b"\n" not in client.buffer:
        assert client._fill(), "the daemon closed the connection"
    line, _, client.buffer = client.buffer.partition(b"\n")
    return _strict_json(line)


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for the tests that only send it messages (a start costs more than such a test); a test that
    registers a project or edits the registry has a daemon of its own (`daemon`)."""
    with running_daemon(tmp_path_factory.mktemp("hostile")) as d:
        yield d


def _project(root: Path) -> Path:
    (root / "specs" / "0001-x").mkdir(parents=True)
    (root / "specs" / "0001-x" / "tasks.md").write_text("# Tasks: t\n\n## One\n- [ ] T001 a\n")
    return root


# --- item 6: non-finite numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400"])
def test_non_finite_numbers_are_refused_never_echoed(shared_daemon: Daemon, number: bytes) -> None:
    with RawClient(shared_daemon.socket) as client:
        as_id = _exchange(client, b'{"jsonrpc":"2.0","id":%s,"method":"daemon.ping"}' % number)
        assert as_id["error"]["code"] == -32700 and as_id["id"] is None
        in_params = _exchange(
            client, b'{"jsonrpc":"2.0","id":1,"method":"daemon.ping","params":{"delay_ms":%s}}' % number
        )
        assert in_params["error"]["code"] == -32700
        huge = _exchange(client, b'{"jsonrpc":"2.0","id":%s,"method":"daemon.ping"}' % (b"9" * 5000))
        assert huge["error"]["code"] == -32700
        assert _exchange(client, b'{"jsonrpc":"2.0","id":2.5,"method":"daemon.ping"}')["id"] == 2.5


# --- item 11, issue 14: batches answer each entry; params null; the id of an Invalid Request ---------------


def test_batch_with_an_invalid_entry_answers_each_entry_and_runs_the_valid_calls(daemon: Daemon) -> None:
    project = _project(daemon.root / "batched")
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "projects.register", "params": {"path": str(project)}},
        {"jsonrpc": "1.0", "id": 2, "method": "daemon.ping"},  # invalid: echoes its id
        3,  # invalid: not an object, no id to read
        {"jsonrpc": "2.0", "id": 4, "method": "daemon.ping", "params": "no"},  # invalid params member
        {"jsonrpc": "2.0", "id": 5, "method": "no.such"},
        {"jsonrpc": "2.0", "method": "daemon.ping"},  # notification: no entry
        {"jsonrpc": "2.0", "id": 6, "method": "projects.register", "params": {"path": 7}},
    ]
    with RawClient(daemon.socket) as client:
        client.send(batch)
        replies = client.read()
    assert isinstance(replies, list) and len(replies) == 6
    by_id: dict[Any, list[dict[str, Any]]] = {}
    for reply in replies:
        by_id.setdefault(reply["id"], []).append(reply)
    assert by_id[1][0]["result"]["path"] == str(project)
    assert by_id[2][0]["error"]["code"] == -32600
    assert by_id[None][0]["error"]["code"] == -32600
    assert by_id[4][0]["error"]["code"] == -32600
    assert by_id[5][0]["error"]["code"] == -32601
    assert by_id[6][0]["error"]["code"] == -32602
    assert [p["path"] for p in daemon.rpc("projects.list")["projects"]] == [str(project)]  # the valid call ran


def test_params_null_is_absent_params_and_invalid_requests_echo_their_id(shared_daemon: Daemon) -> None:
    with RawClient(shared_daemon.socket, "content-length") as client:
        client.send({"jsonrpc": "2.0", "id": 41, "method": "daemon.hello", "params": None})
        assert client.read()["result"]["name"] == "specflowd"
        client.send({"jsonrpc": "2.0", "id": "a", "method": 5})
        assert client.read() == {
            "jsonrpc": "2.0",
            "id": "a",
            "error": {"code": -32600, "message": "Invalid Request", "data": {"kind": "invalid_request", "detail": '"method" must be a string'}},
        }
        client.send({"jsonrpc": "2.0", "id": {"not": "an id"}, "method": "daemon.ping"})
        assert client.read()["id"] is None
        client.send({"jsonrpc": "2.0", "id": True, "method": "daemon.ping"})
        assert client.read()["id"] is None
        client.send([{"jsonrpc": "2.0", "id": i, "method": "daemon.ping"} for i in range(101)])
        too_many = client.read()
        assert too_many["error"]["code"] == -32600 and "at most 100" in too_many["error"]["data"]["detail"]


# --- item 8: project refs the OS cannot resolve; what a project root is -------------------------------------


def test_unresolvable_project_refs_are_clear_errors_on_every_method(shared_daemon: Daemon) -> None:
    loop = shared_daemon.root / "loop"
    loop.symlink_to(loop)
    refs = ["/\u0000", str(loop), str(loop / "inside"), "/" + "a" * 5000, "/" + "b/" * 2000, "/" + "c" * 300]
    document = shared_daemon.rpc("rpc.discover")
    methods = [m for m in document["methods"] if any(p["name"] == "project" for p in m["params"])]
    assert {m["name"] for m in methods} >= {"projects.status", "orchestrate.start", "runs.start", "events.subscribe"}
    with RawClient(shared_daemon.socket) as client:
        for method in methods:
            for ref in refs:
                params = {**call_params(method, document), "project": ref}
                params.pop("id", None)
                reply = client.request(method["name"], params)
                error = reply["error"]
                assert error["data"]["kind"] in ("invalid_params", "not_found"), (method["name"], ref[:20], error)
    assert shared_daemon.rpc("daemon.ping")["pong"]


def test_register_refuses_what_is_not_a_project_root(daemon: Daemon) -> None:
    home = Path(daemon.env["HOME"])
    (home / ".git").mkdir(parents=True, exist_ok=True)  # a dotfiles repository does not make $HOME a project
    empty = daemon.root / "empty"
    empty.mkdir()
    fresh = daemon.root / "fresh"
    (fresh / ".git").mkdir(parents=True)
    with RawClient(daemon.socket) as client:
        for path, why in (
            ("/", "filesystem root"),
            (str(home), "home directory"),
            (str(home.parent), "contains your home"),
            (str(empty), "holds none of"),
            (str(daemon.root / "missing"), "No such file"),
            ("/" + "d" * 300, "too long"),
        ):
            error = client.request("projects.register", {"path": path})["error"]
            assert error["data"]["kind"] == "project_error" and why in error["message"], (path, error)
        assert client.request("projects.register", {"path": str(fresh)})["result"]["path"] == str(fresh)
        # a path inside the project still resolves to it; one outside any project does not
        assert client.request("projects.status", {"project": str(fresh / "src" / "x.py")})["result"]
        assert client.request("projects.status", {"project": str(empty)})["error"]["data"]["kind"] == "not_found"


def test_a_registered_root_that_is_too_wide_never_swallows_other_paths(daemon: Daemon) -> None:
    """A registry edited by hand (or by an older daemon) may hold "/": it matches only itself."""
    registry = daemon.home / "registry.json"
    registry.parent.mkdir(parents=True, exist_ok=True)
    registry.write_text(json.dumps({"projects": {"everything": {"path": "/", "name": "root"}}}))
    wait_until(lambda: daemon.rpc("projects.list")["projects"], what="registry loaded")
    with RawClient(daemon.socket) as client:
        assert client.request("projects.status", {"project": str(daemon.root)})["error"]["data"]["kind"] == "not_found"
        assert client.request("projects.unregister", {"project": "/"})["result"]["id"] == "everything"


def test_a_config_the_helper_would_refuse_is_refused_at_the_start(daemon: Daemon) -> None:
    """Found by bench/fuzz.py: a helper_call budget over the helper's own cap crashed the orchestration later."""
    project = _project(daemon.root / "configured")
    daemon.rpc("projects.register", {"path": str(project)})
    with RawClient(daemon.socket) as client:
        for method in ("orchestrate.preview", "orchestrate.start"):
            params = {"project": str(project), "config": {"budget": {"helper_call": 500}}}
            error = client.request(method, params)["error"]
            assert error["data"]["kind"] == "invalid_config" and "helper_call" in error["message"], error


# --- items 5 and 7: text that cannot be encoded; a write that fails; runs.log offsets ----------------------


@pytest.fixture
def asking_daemon(tmp_path: Path) -> Iterator[Daemon]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([ASK, ASK, {"action": "complete", "tasks": ["T001"]}]))
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=FAKE_CLAUDE, FAKE_CLAUDE_SCRIPT=str(script)) as d:
        yield d


def _status(d: Daemon, run_id: str) -> str:
    return str(d.rpc("runs.get", {"run": run_id})["status"])


def _on_disk(root: Path, run_id: str) -> dict[str, Any]:
    metadata: dict[str, Any] = json.loads((root / ".specflow" / "workflows" / run_id / "metadata.json").read_text())
    return metadata


def test_unencodable_text_is_refused_and_a_failed_write_leaves_the_run_as_it_was(asking_daemon: Daemon) -> None:
    d = asking_daemon
    root = _project(d.root / "proj")
    registry = d.home / "registry.json"
    with RawClient(d.socket) as client:
        bad_name = client.request("projects.register", {"path": str(root), "name": "x\udfffy"})["error"]
        assert bad_name["code"] == -32602 and bad_name["data"]["errors"][0]["loc"] == "name"
        assert not registry.exists()  # nothing was written
        client.request("projects.register", {"path": str(root)})
        first = client.request("runs.start", {"project": str(root), "skill": "implement"})["result"]["run_id"]
        wait_until(lambda: _status(d, first) == "waiting_input", what="first run asks")
        second = client.request("runs.start", {"project": str(root), "skill": "implement"})["result"]["run_id"]
        wait_until(lambda: _status(d, second) == "waiting_input", what="second run asks")

        surrogate = client.request("questions.answer", {"run": first, "answers": {"db": "\ud800"}})["error"]
        assert surrogate["code"] == -32602 and surrogate["data"]["errors"][0]["loc"] == "answers.db"
        assert _status(d, first) == "waiting_input"

        # the continuation's prompt cannot be written (its path is a directory): nothing changes
        for run_id in (first, second):
            (root / ".specflow" / "workflows" / run_id / "prompt-1.txt").mkdir()
            failed = client.request("questions.answer", {"run": run_id, "answers": {"db": "pg"}})["error"]
            assert failed["data"]["kind"] == "storage_error", failed
            assert _status(d, run_id) == "waiting_input"
            on_disk = _on_disk(root, run_id)
            assert on_disk["status"] == "waiting_input" and on_disk["continuations"] == 0 and on_disk["answers"] == []
        pending = {q["run_id"] for q in client.request("questions.list", {})["result"]["questions"]}
        assert pending == {first, second}

        # cancel still works on a run whose answer failed to write, and so does answering once the disk is fine
        assert client.request("runs.cancel", {"run": second})["result"]["status"] == "cancelled"
        (root / ".specflow" / "workflows" / first / "prompt-1.txt").rmdir()
        assert client.request("questions.answer", {"run": first, "answers": {"db": "pg"}})["result"]["status"] in (
            "starting",
            "running",
        )
    wait_until(lambda: _status(d, first) == "completed", timeout=30, what="answered run completes")

    # item 7: runs.log offsets are bounded, and what the OS refuses is a clear error
    with RawClient(d.socket) as client:
        too_far = client.request("runs.log", {"run": first, "since": 2**63})["error"]
        assert too_far["code"] == -32602 and too_far["data"]["errors"][0]["loc"] == "since"
        far = client.request("runs.log", {"run": first, "since": 2**53 - 1})
        assert far.get("result", {}).get("items") == [] or far["error"]["data"]["kind"] == "storage_error"
        output = root / ".specflow" / "workflows" / first / "output.jsonl"
        output.rename(output.with_suffix(".moved"))
        output.mkdir()
        unreadable = client.request("runs.log", {"run": first})["error"]
        assert unreadable["data"]["kind"] == "storage_error" and first in unreadable["message"]
        assert client.request("daemon.ping")["result"]["pong"]
    assert os.path.isdir(output)

"""The shared facts (rpc.discover ``x-shared``) and the clients' copies generated from them (specflowd/clientgen.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from specflowctl import core, render, shared_facts
from specflowd import clientgen
from specflowd.daemon import build_router
from specflowd.domain.config import OrchestrationConfig
from specflowd.domain.record import AttentionKind, RecoveryOption
from specflowd.handlers.rpc import OpenRpcDocument, discover_document
from specflowd.orchestration_vocabulary import ORCHESTRATION_STATUSES, STEPS, TERMINAL_STATUSES
from specflowd.vocabulary import FINAL_STATUSES, RunStatus

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The document rpc.discover serves, as a client receives it."""
    built = OpenRpcDocument.model_validate(discover_document(build_router().specs))
    return built.model_dump(mode="json")


def test_the_committed_client_copies_are_current(document: dict[str, Any]) -> None:
    stale = clientgen.stale(REPO, document)
    assert not stale, f"stale generated files {stale}: regenerate with `{clientgen.COMMAND}` and commit them"


def test_rpc_discover_publishes_the_daemons_own_facts(document: dict[str, Any]) -> None:
    facts = document["x-shared"]
    assert facts["steps"] == list(STEPS) == ["design", "analyze", "implement", "verify", "merge"]
    assert facts["orchestration_statuses"] == list(ORCHESTRATION_STATUSES)
    assert set(facts["terminal_statuses"]) == set(TERMINAL_STATUSES)
    assert facts["attention_kinds"] == [k.value for k in AttentionKind]
    assert facts["recovery_options"] == [o.value for o in RecoveryOption]
    assert facts["run_statuses"] == [s.value for s in RunStatus]
    assert set(facts["final_run_statuses"]) == set(FINAL_STATUSES)
    defaults = OrchestrationConfig()
    assert facts["config_defaults"]["budget.per_batch"] == defaults.budget.per_batch
    assert facts["config_defaults"]["max_heal_attempts"] == defaults.max_heal_attempts
    assert facts["config_defaults"]["agent"] is None
    assert list(facts["config_defaults"]) == sorted(facts["config_defaults"])


def test_every_generated_file_says_it_is_generated_and_how_to_regenerate(document: dict[str, Any]) -> None:
    files = clientgen.generated(document)
    assert set(files) == set(clientgen.TARGETS)
    for path, text in files.items():
        head = "\n".join(text.splitlines()[:2])
        assert "GENERATED from" in head and "rpc.discover" in head, path
        assert f"Regenerate: {clientgen.COMMAND}" in head, path
    assert files == clientgen.generated(json.loads(json.dumps(document)))  # deterministic, and the wire form


def test_check_names_a_stale_copy_and_writing_makes_it_current(
    tmp_path: Path, document: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "discover.json"
    saved.write_text(json.dumps({"jsonrpc": "2.0", "id": 1, "result": document}), encoding="utf-8")
    for path in clientgen.TARGETS:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    args = ["--root", str(tmp_path), "--document", str(saved)]
    assert clientgen.main([*args, "--check"]) == 1
    assert f"regenerate with `{clientgen.COMMAND}`" in capsys.readouterr().err
    assert clientgen.main(args) == 0
    assert clientgen.main([*args, "--check"]) == 0
    lua = tmp_path / "client/nvim/lua/specflow/shared_facts.lua"
    lua.write_text(lua.read_text(encoding="utf-8").replace('"design"', '"desgin"'), encoding="utf-8")
    assert clientgen.main([*args, "--check"]) == 1
    assert "client/nvim/lua/specflow/shared_facts.lua is stale" in capsys.readouterr().err


def test_a_document_without_the_shared_facts_is_refused(document: dict[str, Any]) -> None:
    with pytest.raises(KeyError):
        clientgen.generated({k: v for k, v in document.items() if k != "x-shared"})
    broken = {**document, "x-shared": {**document["x-shared"], "steps": "design"}}
    with pytest.raises(ValidationError):
        clientgen.generated(broken)


def test_the_command_refuses_a_file_that_is_no_discover_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "other.json"
    saved.write_text(json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"openrpc": "1.2.6"}}), encoding="utf-8")
    assert clientgen.main(["--root", str(tmp_path), "--document", str(saved)]) == 2
    assert "not an rpc.discover document with x-shared" in capsys.readouterr().err
    assert not (tmp_path / "client").exists()  # nothing written


def test_the_clis_word_tables_cover_the_daemons_words() -> None:
    assert set(render.STATE_WORDS) == set(shared_facts.ORCHESTRATION_STATUSES)
    assert set(render._WAIT_WORDS) == set(shared_facts.WAIT_REASONS)
    assert set(core.STOP_CODES) <= set(shared_facts.ORCHESTRATION_STATUSES)
    assert set(core.STOP_CODES) >= set(shared_facts.TERMINAL_STATUSES)


def _table_keys(source: Path, opening: str) -> set[str]:
    """The keys of a one-level Lua or TypeScript table literal that starts at ``opening``."""
    text = source.read_text(encoding="utf-8")
    block = text[text.index(opening) + len(opening) :]
    return set(re.findall(r"^\s*(\w+)\s*[=:]", block[: block.index("}")], re.MULTILINE))


def test_the_editors_state_words_cover_the_daemons_statuses() -> None:
    statuses = set(shared_facts.ORCHESTRATION_STATUSES)
    assert _table_keys(REPO / "client/nvim/lua/specflow/view.lua", "M.STATE_WORDS = {") == statuses
    assert _table_keys(REPO / "client/vscode/src/daemon/view.ts", "STATE_WORDS: Record<string, string> = {") == statuses

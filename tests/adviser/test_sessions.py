from __future__ import annotations

from pathlib import Path

import pytest

from specflowd.adviser.config import HelperConfig
from specflowd.adviser.sessions import SessionNotFound, continue_messages, load_session, save_session, session_path


def test_continue_answers_open_tool_uses_before_the_new_prompt() -> None:
    history = [
        {"role": "user", "content": [{"type": "text", "text": "q1"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
    ]
    out = continue_messages(history, "q2")
    assert out[:2] == history and len(out) == 3
    assert out[2]["role"] == "user"
    assert out[2]["content"][0] == {"type": "tool_result", "tool_use_id": "t1", "content": "(earlier call ended)",
                                    "is_error": True}
    assert out[2]["content"][1] == {"type": "text", "text": "q2"}


def test_continue_extends_a_trailing_user_message_and_starts_fresh() -> None:
    history = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}]
    out = continue_messages(history, "next")
    assert len(out) == 1 and out[0]["content"][-1] == {"type": "text", "text": "next"}
    assert history[0]["content"] == [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]  # not mutated
    assert continue_messages([], "hi") == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def test_session_ids_cannot_name_other_paths(tmp_path: Path) -> None:
    for bad in ("../x", "a/b", "", "x" * 65, "a.json"):
        with pytest.raises(SessionNotFound):
            session_path(tmp_path, bad)


def test_save_load_round_trip_accumulates_cost(tmp_path: Path) -> None:
    msgs = [{"role": "user", "content": [{"type": "text", "text": "q"}]}]
    save_session(tmp_path, "abc", msgs, model="m", cost_usd=0.1)
    save_session(tmp_path, "abc", msgs, model="m", cost_usd=0.2)
    assert load_session(tmp_path, "abc") == msgs
    with pytest.raises(SessionNotFound):
        load_session(tmp_path, "nope")
    (tmp_path / ".specflow/helper/bad.json").write_text("{")
    with pytest.raises(SessionNotFound):
        load_session(tmp_path, "bad")


def test_config_from_env() -> None:
    cfg = HelperConfig.from_env(
        {"ANTHROPIC_API_KEY": "sk-x", "ANTHROPIC_BASE_URL": "http://h", "SPECFLOW_HELPER_FALLBACK_MODELS": "a, b"},
        timeout_s=5,
    )
    assert cfg.available and cfg.base_url == "http://h" and cfg.fallback_models == ("a", "b")
    assert cfg.model == "claude-haiku-4-5" and cfg.call_budget_usd == 0.5 and cfg.timeout_s == 5
    assert "sk-x" not in repr(cfg)
    assert not HelperConfig.from_env({}).available
    assert not HelperConfig.from_env({"ANTHROPIC_API_KEY": "  "}).available

from __future__ import annotations

from pathlib import Path

import pytest

from specflowd.errors import InvalidConfig
from specflowd.settings import AgentSettings, check_text, load_settings, merge_config, validate_document


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "none.toml")
    assert settings.problem is None and settings.orchestrate == {}


def test_file_defaults_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[orchestrate]\nauto_merge = true\n[orchestrate.budget]\ntotal = 20.0\n[agent]\nclaude = "/x/claude"\n'
    )
    settings = load_settings(path)
    assert settings.agent.claude == "/x/claude"
    config = merge_config(settings.orchestrate, {"budget": {"per_batch": 1.5}})
    assert config.auto_merge is True
    assert config.budget.total == 20.0 and config.budget.per_batch == 1.5 and config.budget.heal == 2.0
    assert merge_config(settings.orchestrate, {"auto_merge": False}).auto_merge is False


@pytest.mark.parametrize(
    "override",
    [{"max_heal_attempts": 6}, {"batch_size_fallback": 0}, {"budget": {"total": -1}}, {"no_such_flag": 1}],
)
def test_out_of_bounds_is_invalid_config(override: dict[str, object]) -> None:
    with pytest.raises(InvalidConfig):
        merge_config({}, override)


def test_broken_file_is_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[orchestrate\nauto_merge = ")
    assert "using built-in defaults" in (load_settings(path).problem or "")
    path.write_text("[orchestrate]\nmax_heal_attempts = 99\n")
    assert "max_heal_attempts" in (load_settings(path).problem or "")


def test_notify_settings_and_their_check() -> None:
    from specflowd.settings import Settings

    assert Settings().notify.desktop is True and "question" in Settings().notify.events
    with pytest.raises(InvalidConfig, match="unknown event name"):
        validate_document({"notify": {"events": ["questions"]}})
    assert validate_document({"notify": {"events": ["*", "run.finished", "paused"]}}).notify.events[0] == "*"


def test_validate_document_keeps_foreign_sections_but_refuses_bad_keys() -> None:
    assert validate_document({"mine": {"x": 1}, "orchestrate": {"auto_merge": True}}).orchestrate == {"auto_merge": True}
    for bad in ({"orchestrate": {"nope": 1}}, {"agent": {"nope": 1}}, {"orchestrate": {"budget": {"total": 0}}}):
        with pytest.raises(InvalidConfig):
            validate_document(bad)


def test_config_sources_name_the_file_or_the_command_line() -> None:
    from specflowd.settings import config_sources

    file_values = {"auto_merge": True, "budget": {"total": 20.0, "heal": 2.0}, "skip_analyze": False}
    sources = config_sources(file_values, {"budget": {"per_batch": 1.0}, "auto_merge": False}, "~/s.toml")
    # defaults repeated in the file are not "changes"; an explicit override is shown even when it equals the default
    assert sources == {"auto_merge": "command line", "budget.total": "~/s.toml", "budget.per_batch": "command line"}


def test_loop_detection_settings_default_and_bounds(tmp_path: Path) -> None:
    assert (load_settings(tmp_path / "none.toml").agent.loop_repeats, AgentSettings().loop_window) == (8, 32)
    path = tmp_path / "s.toml"
    path.write_text("[agent]\nloop_repeats = 0\nloop_window = 64\n")
    agent = load_settings(path).agent
    assert (agent.loop_repeats, agent.loop_window) == (0, 64)  # 0 = detection off
    refused = check_text("[agent]\nloop_repeats = -1\n")
    assert refused is not None and "agent.loop_repeats" in refused
    assert check_text("[agent]\nloop_window = 0\n") is None

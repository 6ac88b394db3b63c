"""User settings file ``~/.config/specflow/specflowd.toml``: defaults for every orchestrate flag, the agent
binary, the event hook. Read on use (cheap), so edits apply to the next orchestration without a restart.

```toml
[orchestrate]            # any OrchestrationConfig field
auto_merge = false
additional_context = "Use uv, never pip."
[orchestrate.budget]
total = 20.0
[orchestrate.models]
implement = "claude-sonnet-4-5"

[agent]
claude = "/usr/local/bin/claude"     # else $SPECFLOW_CLAUDE, else `claude` on PATH
on_event = ["notify-send", "specflowd: {type}", "{message}"]

[specflow]
cli = "~/.local/bin/specflow"        # the SpecFlow CLI for state writes; else `specflow` on PATH; "" = none
```
A broken file is reported (``problem``) and ignored, never fatal.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from specflowd.domain.config import OrchestrationConfig
from specflowd.errors import InvalidConfig

__all__ = ["AgentSettings", "Settings", "SpecflowSettings", "load_settings", "merge_config"]


class AgentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    claude: str | None = None
    on_event: list[str] | None = Field(None, description="argv template run for every event")


class SpecflowSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cli: str | None = Field(
        None, description="the SpecFlow CLI (path or name) specflowd writes state through; else `specflow` on PATH"
    )


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore")
    orchestrate: dict[str, Any] = Field(default_factory=dict)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    specflow: SpecflowSettings = Field(default_factory=SpecflowSettings)
    problem: str | None = None


def load_settings(path: Path) -> Settings:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return Settings(problem=f"{path}: {exc}; using built-in defaults")
    try:
        settings = Settings.model_validate(raw)
        merge_config(settings.orchestrate, {})  # validate the defaults now, not at first use
    except (ValidationError, InvalidConfig) as exc:
        return Settings(problem=f"{path}: {exc}; using built-in defaults")
    return settings


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_config(defaults: dict[str, Any], overrides: dict[str, Any]) -> OrchestrationConfig:
    """Built-in defaults ← settings file ← the caller's overrides; out-of-bounds values → InvalidConfig."""
    try:
        return OrchestrationConfig.model_validate(_deep_merge(defaults, overrides))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False))
        raise InvalidConfig(f"invalid orchestration config: {problems}", errors=problems) from None

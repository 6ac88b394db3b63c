"""Helper configuration: credentials from the environment passed in, model choice, per-call limits.

The environment is an explicit argument (never ``os.environ`` read behind the caller's back), so the daemon
decides what the helper sees and tests can give it a fake server without touching the process environment.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["DEFAULT_HELPER_MODEL", "HelperConfig"]

DEFAULT_HELPER_MODEL = "claude-haiku-4-5"


class HelperConfig(BaseModel):
    """Everything a helper call needs besides the prompt. ``available`` is false without an API key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr | None = None
    base_url: str | None = Field(None, description="ANTHROPIC_BASE_URL; None = the SDK's default endpoint")
    model: str = DEFAULT_HELPER_MODEL
    fallback_models: tuple[str, ...] = ("claude-sonnet-4-6",)
    call_budget_usd: float = Field(0.50, gt=0, le=100.0, description="the orchestration's budget.helper_call")
    timeout_s: float = Field(60.0, gt=0, le=3600.0, description="Wall clock for one whole helper call")
    max_turns: int = Field(8, ge=1, le=50)
    max_tokens: int = Field(4096, ge=64, le=64_000, description="Output cap per turn (also the budget estimate)")
    retry_attempts: int = Field(3, ge=0, le=10, description="Retries of 429 / connection / 5xx per turn")
    backoff_base_s: float = Field(0.5, ge=0, le=60.0)
    backoff_cap_s: float = Field(8.0, ge=0, le=300.0)

    @property
    def available(self) -> bool:
        return self.api_key is not None and bool(self.api_key.get_secret_value())

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: object) -> HelperConfig:
        """Read the standard SDK variables (and the helper's own model overrides) from ``env``."""
        values: dict[str, object] = {}
        key = env.get("ANTHROPIC_API_KEY", "").strip()
        if key:
            values["api_key"] = SecretStr(key)
        base_url = env.get("ANTHROPIC_BASE_URL", "").strip()
        if base_url:
            values["base_url"] = base_url
        model = env.get("SPECFLOW_HELPER_MODEL", "").strip()
        if model:
            values["model"] = model
        fallbacks = env.get("SPECFLOW_HELPER_FALLBACK_MODELS")
        if fallbacks is not None:
            values["fallback_models"] = tuple(m.strip() for m in fallbacks.split(",") if m.strip())
        values.update(overrides)
        return cls.model_validate(values)

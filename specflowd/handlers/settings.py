"""settings.get / settings.check: the settings file as the daemon reads it, for `specflowctl config` and editors.

The client imports no daemon code, so it cannot apply the settings models itself: it asks the daemon, which
checks a proposed file with the very models it will read it with.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from specflowd.paths import user_config_path
from specflowd.protocol.rpc import EmptyParams, Message, Router
from specflowd.services.context import Call
from specflowd.settings import check_text, doubts_text, load_settings, merge_config, set_in_file

router: Router[Call] = Router()


class SettingsState(Message):
    file: str = Field(description="the settings file the daemon reads (it may not exist)")
    exists: bool
    problem: str | None = Field(None, description="why the file is ignored (then the built-in defaults apply)")
    effective: dict[str, dict[str, object]] = Field(description="every setting's value, by section")
    set_in_file: list[str] = Field(description="the settings (dotted) the file itself sets")


class CheckParams(Message):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=1_000_000, description="a whole settings file (TOML)")


class CheckResult(Message):
    ok: bool
    problem: str | None = Field(None, description="why the daemon would refuse it (one line per problem)")
    warnings: list[str] = Field(default_factory=list, description="settings that look wrong together, not refused")


@router.method(
    "settings.get", params=EmptyParams, result=SettingsState, summary="The settings file and effective values"
)
async def get(call: Call, _: EmptyParams) -> SettingsState:
    path = user_config_path()
    settings = load_settings(path)
    effective = {
        "orchestrate": merge_config(settings.orchestrate, {}).model_dump(mode="json"),
        "agent": settings.agent.model_dump(mode="json"),
        "notify": settings.notify.model_dump(mode="json"),
        "specflow": settings.specflow.model_dump(mode="json"),
        "sandbox": settings.sandbox.model_dump(mode="json"),
        "metrics": settings.metrics.model_dump(mode="json"),
        "telemetry": settings.telemetry.model_dump(mode="json"),
        "client": settings.client.model_dump(mode="json"),
    }
    return SettingsState(
        file=str(path),
        exists=path.exists(),
        problem=settings.problem,
        effective=effective,
        set_in_file=set_in_file(path),
    )


@router.method("settings.check", params=CheckParams, result=CheckResult, summary="Would this settings file be valid?")
async def check(call: Call, params: CheckParams) -> CheckResult:
    problem = check_text(params.text)
    return CheckResult(ok=problem is None, problem=problem, warnings=[] if problem else doubts_text(params.text))

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
on_event = ["my-notifier", "{title}", "{message}"]   # run for the events [notify] events selects
loop_repeats = 8                     # stop a run whose tool calls repeat 8 times in a row; 0 = off
loop_window = 32                     # …or whose cycle of calls, repeated that often, fits in 32 calls
exit_grace_s = 5.0                   # end an agent still running 5 s after its result line (its result stands)

[notify]
desktop = true                       # notify-send when a desktop session bus exists
events = ["question", "merge_ready", "needs_attention", "completed", "failed"]

[specflow]
cli = "~/.local/bin/specflow"        # the SpecFlow CLI for state writes; else `specflow` on PATH; "" = none

[sandbox]                            # docs/sandbox.md; `[orchestrate] sandbox = false` turns it off
allowed_domains = ["pypi.org", "files.pythonhosted.org", "github.com"]
memory_max = "50%"                   # each run's systemd scope, under a systemd user manager only
cpu_quota = ""                       # "" = no limit
tasks_max = 4096
[sandbox.projects."~/src/web"]
allowed_domains = ["registry.npmjs.org"]   # replaces the list above for that project

[metrics]
listen = "127.0.0.1:9464"            # serve /metrics over HTTP (read at start; off by default; docs/metrics.md)

[telemetry]                          # Claude Code's own OpenTelemetry export, for every run (docs/telemetry.md)
enabled = true
endpoint = "http://localhost:4317"

[client]                             # read by specflowctl and the editor plugins (docs/remote.md)
host = "build-box"                   # every verb goes to this host's daemon through ssh
hosts = ["build-box", "gpu1"]        # `specflowctl ls` shows these together
ssh = "ssh -F ~/.ssh/work_config"    # the ssh command line
```
A broken file is reported (``problem``) and ignored, never fatal. ``specflowctl config set`` validates a
change with ``validate_document`` (strict: unknown keys are refused there) before it writes the file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from specflowd.domain.config import OrchestrationConfig, budget_conflicts
from specflowd.errors import InvalidConfig
from specflowd.runner.loops import DEFAULT_REPEATS, DEFAULT_WINDOW
from specflowd.runner.records import DEFAULT_EXIT_GRACE_S
from specflowd.runner.sandbox import DOMAIN_PATTERN, ProjectSandbox, SandboxLimits

__all__ = [
    "NOTIFY_KINDS",
    "SECTIONS",
    "AgentSettings",
    "ClientSettings",
    "MetricsSettings",
    "NotifySettings",
    "SandboxSettings",
    "Settings",
    "SpecflowSettings",
    "TelemetrySettings",
    "check_text",
    "config_sources",
    "listen_address",
    "load_settings",
    "merge_config",
    "set_in_file",
    "validate_document",
]

# What a notification can be about (see specflowd.notify); `*` = every event, a dotted name = that
# raw event type (e.g. "run.finished").
NOTIFY_KINDS = ("question", "merge_ready", "needs_attention", "completed", "failed", "cancelled", "paused", "warning")
DEFAULT_NOTIFY_EVENTS = ["question", "merge_ready", "needs_attention", "completed", "failed"]


class AgentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    claude: str | None = Field(None, description="agent binary (else $SPECFLOW_CLAUDE, else claude on PATH)")
    on_event: list[str] | None = Field(None, description="argv template run for the events [notify] events selects")
    # Loop detection (runner/loops.py); read when the daemon starts. Bounds are RunnerSettings' own.
    loop_repeats: int = Field(
        DEFAULT_REPEATS, ge=0, le=10_000, description="same tool call(s) this often in a row = looping; 0 = off"
    )
    loop_window: int = Field(
        DEFAULT_WINDOW, ge=0, le=100_000, description="the calls a repeated cycle of calls must fit in"
    )
    exit_grace_s: float = Field(
        DEFAULT_EXIT_GRACE_S, ge=0.0, le=3600.0,
        description="an agent still running this long after its result line is ended, its result used; 0 = never",
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Claude Code settings passed to every run with --settings; the sandbox's keys are merged on top",
    )


Domain = Annotated[str, StringConstraints(pattern=DOMAIN_PATTERN, max_length=253)]


class SandboxProjectSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allowed_domains: list[Domain] | None = Field(None, description="this project's domains (replaces the default)")


class SandboxSettings(BaseModel):
    """``[sandbox]``: what Claude Code's sandbox lets runs reach, and the resources one run may use."""

    model_config = ConfigDict(extra="forbid")
    allowed_domains: list[Domain] = Field(
        default_factory=list, description="hosts sandboxed commands may reach through the CLI's proxy"
    )
    memory_max: str = Field("50%", pattern=r"^(\d+[KMGT]?|\d{1,3}%|infinity)?$", description="MemoryMax; \"\" = none")
    cpu_quota: str = Field("", pattern=r"^(\d{1,5}%)?$", description="CPUQuota (100% = one core); \"\" = none")
    tasks_max: int = Field(4096, ge=0, le=4_194_304, description="TasksMax; 0 = none")
    projects: dict[str, SandboxProjectSettings] = Field(
        default_factory=dict, description="per project (its path, ~ allowed): settings that replace the above"
    )

    def for_project(self, root: Path, claude_settings: dict[str, Any]) -> ProjectSandbox:
        """The settings for runs in ``root`` (resolved); a project's own table wins."""
        domains = list(self.allowed_domains)
        for key, override in self.projects.items():
            if override.allowed_domains is not None and _same_dir(key, root):
                domains = list(override.allowed_domains)
        limits = SandboxLimits(
            memory_max=self.memory_max or None, cpu_quota=self.cpu_quota or None, tasks_max=self.tasks_max or None
        )
        return ProjectSandbox(allowed_domains=domains, limits=limits, claude_settings=claude_settings)


def _same_dir(key: str, root: Path) -> bool:
    try:
        return Path(key).expanduser().resolve() == root
    except (OSError, RuntimeError):
        return False


class NotifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    desktop: bool = Field(True, description="desktop notifications (notify-send) when a session bus exists")
    events: list[str] = Field(default_factory=lambda: list(DEFAULT_NOTIFY_EVENTS), description="what to notify")

    @field_validator("events")
    @classmethod
    def _known(cls, events: list[str]) -> list[str]:
        unknown = [e for e in events if e != "*" and "." not in e and e not in NOTIFY_KINDS]
        if unknown:
            raise ValueError(f"unknown event name(s) {unknown}; use {', '.join(NOTIFY_KINDS)}, '*' or an event type")
        return events


class SpecflowSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cli: str | None = Field(
        None, description="the SpecFlow CLI (path or name) specflowd writes state through; else `specflow` on PATH"
    )


class MetricsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    listen: str | None = Field(
        None, description="HOST:PORT (or PORT: loopback) to serve /metrics on over HTTP; unset = no listener"
    )

    @field_validator("listen", mode="before")
    @classmethod
    def _port_alone(cls, listen: object) -> object:
        # `listen = 9464` (and `specflowctl config set metrics.listen 9464`, which writes a TOML integer) is a port
        return str(listen) if isinstance(listen, int) and not isinstance(listen, bool) else listen

    @field_validator("listen")
    @classmethod
    def _address(cls, listen: str | None) -> str | None:
        if listen is not None:
            listen_address(listen)  # raises ValueError with the reason
        return listen


class TelemetrySettings(BaseModel):
    """Claude Code's own OpenTelemetry export, passed to every run as the CLI's environment variables; each
    session then carries specflowd's resource attributes (docs/telemetry.md). Read when a run starts."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(False, description="turn the CLI's telemetry on (CLAUDE_CODE_ENABLE_TELEMETRY=1)")
    endpoint: str | None = Field(None, description="OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://localhost:4317")
    protocol: Literal["grpc", "http/json", "http/protobuf"] | None = Field(
        None, description="OTEL_EXPORTER_OTLP_PROTOCOL"
    )
    headers: str | None = Field(None, description="OTEL_EXPORTER_OTLP_HEADERS, e.g. Authorization=Bearer TOKEN")
    metrics_exporter: str | None = Field("otlp", description="OTEL_METRICS_EXPORTER (otlp, prometheus, console)")
    logs_exporter: str | None = Field("otlp", description="OTEL_LOGS_EXPORTER (otlp, console)")
    traces_exporter: str | None = Field(
        None, description="OTEL_TRACES_EXPORTER: also export the CLI's beta traces (switches its beta on)"
    )
    attributes: dict[str, str] = Field(default_factory=dict, description="more resource attributes for every run")
    env: dict[str, str] = Field(
        default_factory=dict, description="any other variable for the CLI's exporter (OTEL_METRIC_EXPORT_INTERVAL…)"
    )


def listen_address(text: str) -> tuple[str, int]:
    """``[metrics] listen`` as (host, port): ``PORT`` or ``:PORT`` is loopback, ``[::1]:PORT`` an IPv6 host."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = "", text.strip()
    host = host.removeprefix("[").removesuffix("]") or "127.0.0.1"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"listen {text!r}: expected HOST:PORT or PORT, with a port from 1 to 65535")
    return host, int(port_text)

class ClientSettings(BaseModel):
    """What specflowctl and the editor plugins read (docs/remote.md); the daemon only validates it."""

    model_config = ConfigDict(extra="forbid")
    host: str | None = Field(None, description="[user@]HOST[:PORT] every verb talks to over ssh; unset = here")
    hosts: list[str] = Field(default_factory=list, description="the hosts `specflowctl ls` shows together")
    ssh: str | None = Field(None, description="the ssh command line (e.g. `ssh -F ~/.ssh/work_config`); unset = ssh")
    remote_specflowctl: str | None = Field(
        None, description="the specflowctl a remote login runs for `bridge`; unset = specflowctl on its PATH"
    )


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore")
    orchestrate: dict[str, Any] = Field(default_factory=dict)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    specflow: SpecflowSettings = Field(default_factory=SpecflowSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    client: ClientSettings = Field(default_factory=ClientSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    problem: str | None = None


SECTIONS = ("orchestrate", "agent", "notify", "specflow", "metrics", "telemetry", "client", "sandbox")


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


def validate_document(document: dict[str, Any]) -> Settings:
    """The check of a whole settings document before it is written: the daemon would reject it (unknown keys in
    a known section, out-of-bounds values) → InvalidConfig, one message listing every problem. Sections
    specflowd does not know are left alone, as the daemon ignores them."""
    try:
        settings = Settings.model_validate({k: v for k, v in document.items() if k in SECTIONS})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False))
        raise InvalidConfig(f"invalid settings: {problems}", errors=problems) from None
    try:
        config = merge_config(settings.orchestrate, {})
    except InvalidConfig as exc:  # name the keys as the file spells them: orchestrate.budget.total
        problems = "; ".join(f"orchestrate.{p}" for p in str(exc.data.get("errors", "")).split("; ") if p)
        raise InvalidConfig(f"invalid settings: {problems}", errors=problems) from None
    refused, _ = budget_conflicts(config.budget, "orchestrate.budget.")
    if refused:  # each value within its bounds, but together they contradict each other
        raise InvalidConfig(f"invalid settings: {'; '.join(refused)}", errors="; ".join(refused))
    return settings


def doubts_text(text: str) -> list[str]:
    """Settings of a valid file that look wrong together but may be meant (warned, not refused)."""
    try:
        settings = validate_document(tomllib.loads(text))
        return budget_conflicts(merge_config(settings.orchestrate, {}).budget, "orchestrate.budget.")[1]
    except (tomllib.TOMLDecodeError, InvalidConfig):
        return []


def _leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and key != "models":
            out.update(_leaves(value, name + "."))
        else:
            out[name] = value
    return out


def config_sources(file_defaults: dict[str, Any], overrides: dict[str, Any], file_label: str) -> dict[str, str]:
    """Pure: for every orchestration setting that differs from the built-in default, where its value came
    from — ``file_label`` (the settings file) or "command line" (the caller's overrides win)."""
    effective = _leaves(merge_config(file_defaults, overrides).model_dump(mode="json"))
    builtin = _leaves(OrchestrationConfig().model_dump(mode="json"))
    from_file, from_caller = _leaves(file_defaults), _leaves(overrides)
    sources: dict[str, str] = {}
    for key, value in effective.items():
        if builtin.get(key) == value and key not in from_caller:
            continue
        if key in from_caller:
            sources[key] = "command line"
        elif key in from_file:
            sources[key] = file_label
    return sources


def check_text(text: str) -> str | None:
    """Why the daemon would refuse this settings file's text (TOML syntax, unknown keys, bounds), or None."""
    try:
        validate_document(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        return f"not valid TOML: {exc}"
    except InvalidConfig as exc:
        return exc.message
    return None


def set_in_file(path: Path) -> list[str]:
    """The settings (dotted, in specflowd's sections) the file itself sets; [] when it is absent or broken."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []
    return sorted(key for key in _leaves(raw) if key.split(".")[0] in SECTIONS)

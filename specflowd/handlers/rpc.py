"""rpc.* : ``rpc.discover``, the OpenRPC document of every method (OpenRPC's service discovery method)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from specflowd.domain.config import OrchestrationConfig
from specflowd.domain.record import AttentionKind, RecoveryOption
from specflowd.event_catalogue import CATALOGUE
from specflowd.orchestration_vocabulary import ORCHESTRATION_STATUSES, STEPS, TERMINAL_STATUSES
from specflowd.protocol.openrpc import build_openrpc
from specflowd.protocol.rpc import EmptyParams, Message, MethodSpec, Router
from specflowd.services.context import Call
from specflowd.vocabulary import FINAL_STATUSES, WAIT_REASONS, RunStatus

__all__ = ["OpenRpcDocument", "SharedFacts", "discover_document", "router", "shared_facts"]

router: Router[Call] = Router()

ConfigValue = bool | int | float | str | None


class SharedFacts(Message):
    """The words and defaults every client shows, so that none of them retypes them: the clients' copies are
    generated from this (``python -m specflowd.clientgen``) and CI fails when one is stale."""

    steps: list[str] = Field(description="the phase's steps, in the order they run")
    orchestration_statuses: list[str] = Field(description="an orchestration's statuses")
    terminal_statuses: list[str] = Field(description="the statuses an orchestration never leaves")
    attention_kinds: list[str] = Field(description="why an orchestration needs attention (attention.kind)")
    recovery_options: list[str] = Field(description="what orchestrate.recover can do about it")
    run_statuses: list[str] = Field(description="an agent run's statuses")
    final_run_statuses: list[str] = Field(description="the statuses a run never leaves")
    wait_reasons: list[str] = Field(description="why a run waits in the scheduler's queue")
    config_defaults: dict[str, ConfigValue] = Field(
        description="every orchestration config key with a scalar default, nested keys dotted (budget.total)"
    )


class OpenRpcDocument(Message):
    model_config = ConfigDict(populate_by_name=True)
    openrpc: str
    info: dict[str, Any]
    methods: list[dict[str, Any]]
    components: dict[str, Any]
    x_events: dict[str, Any] = Field(alias="x-events", description="the event notifications: envelope and types")
    x_shared: SharedFacts = Field(alias="x-shared", description="the facts every client shows")

    @model_serializer(mode="wrap")
    def _extension_names(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in ("x_events", "x_shared"):  # an OpenRPC extension keeps its spelling on the wire
            data[name.replace("_", "-")] = data.pop(name)
        return data


def shared_facts() -> dict[str, Any]:
    """``x-shared``: lists in their defined order (steps run in theirs), sets sorted, defaults by key."""
    return SharedFacts(
        steps=list(STEPS),
        orchestration_statuses=list(ORCHESTRATION_STATUSES),
        terminal_statuses=sorted(TERMINAL_STATUSES),
        attention_kinds=[kind.value for kind in AttentionKind],
        recovery_options=[option.value for option in RecoveryOption],
        run_statuses=[status.value for status in RunStatus],
        final_run_statuses=sorted(FINAL_STATUSES),
        wait_reasons=list(WAIT_REASONS),
        config_defaults=dict(sorted(_dotted(OrchestrationConfig().model_dump(mode="json")).items())),
    ).model_dump(mode="json")


def _dotted(values: dict[str, Any], prefix: str = "") -> dict[str, ConfigValue]:
    flat: dict[str, ConfigValue] = {}
    for key, value in values.items():
        if isinstance(value, dict):  # a nested model (budget); an empty mapping (models) has no default to show
            flat.update(_dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def discover_document(specs: dict[str, MethodSpec]) -> dict[str, Any]:
    """What ``rpc.discover`` serves for these methods (the client generator reads the same document)."""
    return build_openrpc(specs, CATALOGUE, shared_facts())


@router.method("rpc.discover", params=EmptyParams, result=OpenRpcDocument, summary="OpenRPC document")
async def discover(call: Call, _: EmptyParams) -> OpenRpcDocument:
    services = call.services
    if services.openrpc is None:  # built once per daemon: the method table never changes while it runs
        services.openrpc = discover_document(services.specs)
    return OpenRpcDocument.model_validate(services.openrpc)  # (validating the built document: ~20 µs)

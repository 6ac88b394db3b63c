"""OpenRPC document built from the registered methods' pydantic models (served by ``rpc.discover``).

Each method lists its params one by one (OpenRPC's ``params``) and also carries ``x-params-schema``, a
reference to the JSON schema of the whole params object: rules that span several params ("``id`` or
``project``", "exactly one of ``run`` or ``orchestration``") live there as ``anyOf`` / ``oneOf``, because a
single param's schema cannot say them.

The notifications the daemon sends are described in ``x-events``: the ``event`` method's params (the
envelope ``{type, project, data, time}``) and every event type with a reference to the JSON schema of its
``data`` — generated from the same payload models the daemon emits (specflowd/event_catalogue.py), in
serialization mode (what is sent).

The words and defaults every client shows (steps, statuses, wait reasons, attention kinds, config defaults)
are in ``x-shared``, given by the handler that serves the document (handlers/rpc.py); the clients' copies are
generated from it (specflowd/clientgen.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from specflowd.protocol.rpc import MethodSpec
from specflowd.version import __version__

__all__ = ["build_openrpc"]

_REF = "#/components/schemas/{model}"


# the params of every ``event`` notification; ``data`` is the payload of ``type`` (x-events.types)
_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "required": ["type", "project", "data", "time"],
    "properties": {
        "type": {"type": "string", "description": "one of x-events.types[].name"},
        "project": {"type": ["string", "null"], "description": "the project's path; null for the daemon's own"},
        "data": {"type": "object", "description": "the payload of this type (x-events.types[].data)"},
        "time": {"type": "string", "description": "ISO 8601, UTC, milliseconds"},
    },
    "additionalProperties": False,
}


def build_openrpc(
    specs: dict[str, MethodSpec],
    events: Mapping[str, type[BaseModel]] | None = None,
    shared: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The document for ``specs``; ``events``: every event type and its payload model (the ``x-events``);
    ``shared``: the facts every client shows (the ``x-shared``)."""
    models: list[type[BaseModel]] = []
    for spec in specs.values():
        for model in (spec.params, spec.result):
            if model not in models:
                models.append(model)
    payloads = list(dict.fromkeys((events or {}).values()))
    refs, top = models_json_schema(
        [(m, "validation") for m in models] + [(m, "serialization") for m in payloads], ref_template=_REF
    )
    methods = []
    for name in sorted(specs):
        spec = specs[name]
        params_schema = spec.params.model_json_schema(ref_template=_REF)
        required = set(params_schema.get("required", []))
        params = [
            {"name": field, "required": field in required, "schema": schema}
            for field, schema in params_schema.get("properties", {}).items()
        ]
        result_ref = refs[(spec.result, "validation")]
        params_ref = refs[(spec.params, "validation")]
        methods.append(
            {
                "name": name,
                "summary": spec.summary,
                "paramStructure": "by-name",
                "params": params,
                "result": {"name": spec.result.__name__, "schema": result_ref},
                "x-params-schema": params_ref,
            }
        )
    types = [
        {"name": name, "summary": _summary(model), "data": refs[(model, "serialization")]}
        for name, model in sorted((events or {}).items())
    ]
    return {
        "openrpc": "1.2.6",
        "info": {"title": "specflowd", "version": __version__},
        "methods": methods,
        "components": {"schemas": top.get("$defs", {})},
        "x-events": {"method": "event", "params": _ENVELOPE, "types": types},
        "x-shared": dict(shared or {}),
    }


def _summary(model: type[BaseModel]) -> str:
    doc = (model.__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split()).replace("``", "`")

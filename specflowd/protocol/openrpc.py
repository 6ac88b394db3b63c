"""OpenRPC document built from the registered methods' pydantic models (served by ``rpc.discover``).

Each method lists its params one by one (OpenRPC's ``params``) and also carries ``x-params-schema``, a
reference to the JSON schema of the whole params object: rules that span several params ("``id`` or
``project``", "exactly one of ``run`` or ``orchestration``") live there as ``anyOf`` / ``oneOf``, because a
single param's schema cannot say them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from specflowd.protocol.rpc import MethodSpec
from specflowd.version import __version__

__all__ = ["build_openrpc"]

_REF = "#/components/schemas/{model}"


def build_openrpc(specs: dict[str, MethodSpec]) -> dict[str, Any]:
    models: list[type[BaseModel]] = []
    for spec in specs.values():
        for model in (spec.params, spec.result):
            if model not in models:
                models.append(model)
    refs, top = models_json_schema([(m, "validation") for m in models], ref_template=_REF)
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
    return {
        "openrpc": "1.2.6",
        "info": {"title": "specflowd", "version": __version__},
        "methods": methods,
        "components": {"schemas": top.get("$defs", {})},
    }

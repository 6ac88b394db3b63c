"""Calls built from the daemon's own OpenRPC document, the way a document-driven client builds them."""

from __future__ import annotations

from typing import Any

# daemon.shutdown stops the daemon under test; daemon.ping may wait up to 10 s by design
DISRUPTIVE = frozenset({"daemon.shutdown"})


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def example(schema: dict[str, Any], document: dict[str, Any]) -> Any:
    """The simplest value the schema accepts (enough for the schemas pydantic emits)."""
    schema = resolve(schema, document)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema and "type" not in schema and "properties" not in schema:
            branches = [b for b in schema[key] if resolve(b, document).get("type") != "null"]
            return example(branches[0], document)
    kind = schema.get("type", "object")
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    if kind in ("integer", "number"):
        if "minimum" in schema:
            return schema["minimum"]
        if "exclusiveMinimum" in schema:
            return schema["exclusiveMinimum"] + 1
        return 0
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "null":
        return None
    return object_example(schema, document)


def required_names(schema: dict[str, Any]) -> list[str]:
    """Required params, plus those the first branch of a cross-param rule (anyOf / oneOf) requires."""
    names = list(schema.get("required", []))
    for key in ("anyOf", "oneOf"):
        if key in schema:
            names += [n for n in schema[key][0].get("required", []) if n not in names]
    return names


def object_example(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    schema = resolve(schema, document)
    properties = schema.get("properties", {})
    value = {name: example(properties[name], document) for name in required_names(schema)}
    if not value and schema.get("minProperties"):
        value = {"x": example(schema.get("additionalProperties") or {"type": "string"}, document)}
    return value


def params_schema(method: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    return resolve(method["x-params-schema"], document)


def call_params(method: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    return object_example(method["x-params-schema"], document)

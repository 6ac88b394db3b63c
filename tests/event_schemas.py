"""Checking event notifications against the schemas rpc.discover publishes (``x-events``), as a client would."""

from __future__ import annotations

from typing import Any

import jsonschema


def validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """Validates against ``schema`` with the document's components in reach of its ``$ref``s."""
    return jsonschema.Draft202012Validator({**schema, "components": document["components"]})


def check_event(document: dict[str, Any], params: dict[str, Any]) -> None:
    """``params`` of an ``event`` notification is valid by the published envelope and its type's data schema
    (jsonschema.ValidationError otherwise)."""
    events = document["x-events"]
    validator(document, events["params"]).validate(params)
    (entry,) = [t for t in events["types"] if t["name"] == params["type"]]
    validator(document, entry["data"]).validate(params["data"])

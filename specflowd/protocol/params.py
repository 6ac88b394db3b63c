"""Reusable types for RPC params: text is checked where it enters the daemon, not where it is written.

JSON can carry a lone surrogate (``"\\ud800"``) that no UTF-8 file, path or log line can hold; pydantic's
``str`` accepts it, and the failure then surfaces deep inside a write, after state has changed. Every
param model that takes text uses these types instead of ``str``, so such input is an ``invalid_params``
error before any handler runs. Checks are plain Python on the already-decoded value: no per-request
schema pass.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints, WithJsonSchema

__all__ = ["MAX_PATH_CHARS", "Identifier", "JsonObject", "PathRef", "Text", "given"]

MAX_PATH_CHARS = 4096  # PATH_MAX on Linux: a longer path cannot name anything
_MAX_DEPTH = 32  # nesting allowed inside free-form objects (orchestration config overrides)


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"text holds a lone surrogate (U+{ord(value[exc.start]):04X} at index {exc.start}); "
            "send valid Unicode"
        ) from None
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("a NUL character cannot be part of a path or an id")
    return value


Text = Annotated[str, AfterValidator(_encodable)]
"""Any text that can be encoded as UTF-8 (answers, names, context, …)."""

def _no_nul_schema(max_length: int) -> WithJsonSchema:
    # the schema says what _no_nul checks, so a client generating params from rpc.discover never sends a NUL
    return WithJsonSchema({"type": "string", "minLength": 1, "maxLength": max_length, "pattern": "^[^\\u0000]*$"})


PathRef = Annotated[
    Text,
    StringConstraints(min_length=1, max_length=MAX_PATH_CHARS),
    AfterValidator(_no_nul),
    _no_nul_schema(MAX_PATH_CHARS),
]
"""A filesystem path or a registry id: UTF-8, no NUL, at most PATH_MAX characters."""

Identifier = Annotated[
    Text, StringConstraints(min_length=1, max_length=256), AfterValidator(_no_nul), _no_nul_schema(256)
]
"""A run or orchestration id."""


def given(name: str) -> dict[str, Any]:
    """JSON-schema fragment "``name`` is present and a string": the branches of a model's ``anyOf`` / ``oneOf``
    when a rule spans several params (the model's validator enforces it; this says it in ``rpc.discover``)."""
    return {"required": [name], "properties": {name: {"type": "string"}}}


def _check_tree(value: Any, depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        raise ValueError(f"nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, str):
        _encodable(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _encodable(key)
            _check_tree(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_tree(item, depth + 1)


def _checked_object(value: dict[str, Any]) -> dict[str, Any]:
    _check_tree(value)
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_checked_object)]
"""A free-form JSON object whose every string is encodable and whose nesting is bounded."""

"""JSON in and out of the socket, strict where the standard library is lenient.

``json.loads`` accepts ``NaN``, ``Infinity`` and ``1e400`` (which becomes ``inf``), and ``json.dumps``
writes them back out as bare words that are not JSON: a client would receive a reply its parser rejects.
Incoming text with a non-finite number is a parse error here, and nothing non-finite ever leaves.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["ParseError", "dumps", "loads"]


class ParseError(ValueError):
    """The payload is not one JSON value we accept."""


def _reject_constant(word: str) -> Any:
    raise ParseError(f"{word} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 and its kin overflow to inf
        raise ParseError(f"number {text[:40]} is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def loads(payload: bytes) -> Any:
    """One JSON value from UTF-8 bytes; raises ParseError for anything else (invalid UTF-8, bad JSON,
    non-finite numbers, integers of more than 4300 digits, nesting deeper than the interpreter's stack)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"invalid UTF-8 at byte {exc.start}") from None
    try:
        return _DECODER.decode(text)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError("nesting too deep") from None
    except ValueError as exc:  # JSONDecodeError, and int() refusing a huge literal
        raise ParseError(str(exc)[:200]) from None


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (the slow path of ``dumps``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


# one encoder for every call: json.dumps builds a new one whenever it is given options (a few microseconds)
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def dumps(value: Any) -> bytes:
    """Compact JSON bytes, ASCII-only (a lone surrogate in a string becomes an escape, never an encoding
    error); a non-finite float becomes null instead of a bare ``NaN``."""
    try:
        return _ENCODER.encode(value).encode("ascii")
    except ValueError:
        return _ENCODER.encode(_finite(value)).encode("ascii")

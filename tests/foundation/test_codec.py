"""The strict JSON codec and the boundary text types (pure)."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from specflowd.protocol import codec
from specflowd.protocol.params import Identifier, JsonObject, PathRef, Text


@pytest.mark.parametrize(
    "raw",
    [
        b"NaN",
        b"[Infinity]",
        b'{"a": -Infinity}',
        b"1e400",
        b"[-1e309]",
        b"9" * 5000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": "\xff"}',
        b"",
        b"{",
    ],
)
def test_loads_refuses_what_is_not_one_finite_json_value(raw: bytes) -> None:
    with pytest.raises(codec.ParseError):
        codec.loads(raw)


def test_loads_keeps_ordinary_numbers_and_escaped_surrogates() -> None:
    assert codec.loads(b'[1, -2.5, 1e300, 12345678901234567890, "\\ud800"]') == [
        1,
        -2.5,
        1e300,
        12345678901234567890,
        "\ud800",
    ]


def test_dumps_never_writes_non_finite_numbers_and_stays_ascii() -> None:
    out = codec.dumps({"a": float("nan"), "b": [float("inf"), -float("inf")], "c": 1.5, "d": "é\ud800"})
    assert json.loads(out, parse_constant=lambda word: pytest.fail(word)) == {
        "a": None,
        "b": [None, None],
        "c": 1.5,
        "d": "é\ud800",
    }
    assert out.isascii()


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


class _Params(BaseModel):
    text: Text = ""
    path: PathRef | None = None
    ident: Identifier | None = None
    tree: JsonObject = {}
    answers: dict[Text, Text] = {}


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"text": "a\ud800"}, "text"),
        ({"path": "/a\x00"}, "path"),
        ({"path": "/" + "a" * 4096}, "path"),
        ({"path": ""}, "path"),
        ({"ident": "r\x00"}, "ident"),
        ({"tree": {"a": [{"b": "\udfff"}]}}, "tree"),
        ({"tree": {"\udfff": 1}}, "tree"),
        ({"tree": _nested(40)}, "tree"),
        ({"answers": {"\ud800": "x"}}, "answers.*.[[]key]"),  # pydantic shows the bad key as U+FFFDs
        ({"answers": {"db": "\ud800"}}, "answers.db"),
    ],
)
def test_text_types_refuse_what_cannot_be_stored(params: dict[str, Any], loc: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _Params.model_validate(params)
    locs = [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]
    assert len(locs) == 1 and fnmatch.fnmatchcase(locs[0], loc), locs


def test_text_types_accept_ordinary_text() -> None:
    params = _Params.model_validate(
        {"text": "naïve \x00 ok", "path": "/home/ü/p", "ident": "run-1", "tree": _nested(20), "answers": {"db": "pg"}}
    )
    assert params.text == "naïve \x00 ok" and params.path == "/home/ü/p"

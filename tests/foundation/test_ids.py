"""Short ids: an exact id wins, a unique prefix names its id, anything else is a clear error."""

from __future__ import annotations

import pytest

from specflowd.errors import AmbiguousId, NotFound
from specflowd.ids import resolve_prefix

IDS = ["3f2a9c1b-0000", "3f2a00ee-1111", "77aa", "77"]


def test_exact_and_unique_prefixes() -> None:
    assert resolve_prefix("3f2a9", IDS, "run") == "3f2a9c1b-0000"
    assert resolve_prefix("77", IDS, "run") == "77"  # an exact id beats the longer id it is a prefix of
    assert resolve_prefix("77a", IDS, "run") == "77aa"


def test_ambiguous_prefix_names_the_candidates() -> None:
    with pytest.raises(AmbiguousId) as info:
        resolve_prefix("3f2a", IDS, "run")
    assert info.value.kind == "ambiguous_id" and info.value.data["candidates"] == ["3f2a00ee-1111", "3f2a9c1b-0000"]
    assert "3f2a00ee-1111, 3f2a9c1b-0000" in info.value.message and "give more characters" in info.value.message


def test_unknown_and_empty() -> None:
    with pytest.raises(NotFound, match="no orchestration 'zz'"):
        resolve_prefix("zz", IDS, "orchestration")
    with pytest.raises(NotFound):
        resolve_prefix("", IDS, "run")

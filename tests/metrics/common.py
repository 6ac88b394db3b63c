"""What the metrics tests share: a free loopback port, the settings file that turns the listener on, reading
OpenMetrics text with prometheus_client's own parser."""

from __future__ import annotations

import socket
from pathlib import Path

from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_settings(home: Path, text: str) -> None:
    path = home / ".config" / "specflow" / "specflowd.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def samples(text: str) -> list[Sample]:
    """Every sample of an OpenMetrics exposition (the parser refuses a malformed one)."""
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(found: list[Sample], name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels`` (None: no such sample)."""
    matching = [s.value for s in found if s.name == name and labels.items() <= s.labels.items()]
    assert len(matching) <= 1, f"several samples of {name} {labels}"
    return matching[0] if matching else None

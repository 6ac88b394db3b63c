"""A typed problem found while reading a project: bad or missing evidence is data, never an exception."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

__all__ = ["Problem", "ProblemKind"]


class ProblemKind(StrEnum):
    MISSING_FILE = "missing_file"
    CORRUPT_JSON = "corrupt_json"
    UNREADABLE = "unreadable"
    BAD_SHAPE = "bad_shape"
    PARSE_WARNING = "parse_warning"


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: ProblemKind
    path: str
    message: str
    line: int | None = None

    def describe(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"

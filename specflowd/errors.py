"""The one exception tree of specflowd.

    SpecflowError                 (code -32000, kind "internal")
    ├── NotFound                  (-32001) project / run / orchestration / question unknown
    ├── InvalidState              (-32002) the object exists but cannot do that now (run not waiting, …)
    ├── AlreadyActive             (-32003) a second orchestration for one project; data carries its id
    ├── InvalidConfig             (-32004) config values out of bounds
    ├── BudgetExhausted           (-32005) a spawn the remaining budget cannot cover
    ├── AgentUnavailable          (-32006) the claude binary is missing / not executable
    ├── ProjectError              (-32007) the project's files cannot be read (registry path gone, …)
    ├── StorageError              (-32008) a state write failed (disk full, permissions); nothing was lost
    ├── AmbiguousId               (-32009) an id prefix matches several runs / orchestrations; data lists them
    └── InvalidParams             (-32602) params that pass the schema but name nothing valid (answer keys)

Every error carries a stable ``kind`` string that the RPC layer puts in ``error.data.kind``; clients switch
on that, never on the message text.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AgentUnavailable",
    "AlreadyActive",
    "AmbiguousId",
    "BudgetExhausted",
    "InvalidConfig",
    "InvalidParams",
    "InvalidState",
    "NotFound",
    "ProjectError",
    "SpecflowError",
    "StorageError",
]


class SpecflowError(Exception):
    code: ClassVar[int] = -32000
    kind: ClassVar[str] = "internal"

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def to_data(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.data}


class NotFound(SpecflowError):
    code = -32001
    kind = "not_found"


class InvalidState(SpecflowError):
    code = -32002
    kind = "invalid_state"


class AlreadyActive(SpecflowError):
    code = -32003
    kind = "already_active"


class InvalidConfig(SpecflowError):
    code = -32004
    kind = "invalid_config"


class BudgetExhausted(SpecflowError):
    code = -32005
    kind = "budget_exhausted"


class AgentUnavailable(SpecflowError):
    code = -32006
    kind = "agent_unavailable"


class ProjectError(SpecflowError):
    code = -32007
    kind = "project_error"


class StorageError(SpecflowError):
    code = -32008
    kind = "storage_error"


class AmbiguousId(SpecflowError):
    code = -32009
    kind = "ambiguous_id"


class InvalidParams(SpecflowError):
    """The JSON-RPC code for bad params, for checks only the handler can make (``data.errors`` as for schema
    errors)."""

    code = -32602
    kind = "invalid_params"

"""Claude Helper: typed, budgeted, read-only model calls for judgement the state model cannot make.

Importing this package does not import ``anthropic`` (≈2.7 s); the first call does.
"""

from __future__ import annotations

from specflowd.helper.call import SUBMIT_TOOL, call
from specflowd.helper.config import DEFAULT_HELPER_MODEL, HelperConfig
from specflowd.helper.ledger import HelperLedger
from specflowd.helper.pricing import DEFAULT_PRICES, ModelPrice, PriceTable, TokenUsage
from specflowd.helper.results import FailureKind, HelperFailure, HelperResult
from specflowd.helper.runtime import Helper
from specflowd.helper.tools import READ_ONLY

__all__ = [
    "DEFAULT_HELPER_MODEL",
    "DEFAULT_PRICES",
    "READ_ONLY",
    "SUBMIT_TOOL",
    "FailureKind",
    "Helper",
    "HelperConfig",
    "HelperFailure",
    "HelperLedger",
    "HelperResult",
    "ModelPrice",
    "PriceTable",
    "TokenUsage",
    "call",
]

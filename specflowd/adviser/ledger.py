"""Per-orchestration helper spend: a total cap shared by every helper call of one orchestration.

The engine creates one ledger per orchestration (restoring ``spent_usd`` from the record after a restart),
passes it to each call, and persists ``spent_usd`` (``on_spend`` fires after every recorded turn).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["HelperLedger"]


class HelperLedger:
    def __init__(
        self,
        cap_usd: float,
        *,
        spent_usd: float = 0.0,
        on_spend: Callable[[HelperLedger, float], None] | None = None,
    ) -> None:
        if cap_usd < 0 or spent_usd < 0:
            raise ValueError("cap_usd and spent_usd must be >= 0")
        self.cap_usd = cap_usd
        self.spent_usd = spent_usd
        self._on_spend = on_spend

    @property
    def remaining_usd(self) -> float:
        return max(0.0, self.cap_usd - self.spent_usd)

    def record(self, amount_usd: float) -> None:
        """Add money actually spent (a response's cost); never refused: the money is already gone."""
        if amount_usd < 0:
            raise ValueError("amount_usd must be >= 0")
        self.spent_usd += amount_usd
        if self._on_spend is not None:
            self._on_spend(self, amount_usd)

    def to_dict(self) -> dict[str, float]:
        return {"cap_usd": self.cap_usd, "spent_usd": self.spent_usd}

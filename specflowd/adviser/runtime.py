"""``Helper``: one project's helper settings bundled (config, root, the orchestration's ledger).

The engine builds one per orchestration and hands it to the uses; ``ask`` is ``call`` with these filled in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from specflowd.adviser.call import call
from specflowd.adviser.config import HelperConfig
from specflowd.adviser.ledger import HelperLedger
from specflowd.adviser.pricing import DEFAULT_PRICES, PriceTable
from specflowd.adviser.results import HelperFailure, HelperResult

__all__ = ["Helper"]

T = TypeVar("T", bound=BaseModel)


class Helper:
    def __init__(
        self,
        config: HelperConfig,
        project_root: Path,
        *,
        ledger: HelperLedger | None = None,
        prices: PriceTable = DEFAULT_PRICES,
    ) -> None:
        self.config = config
        self.project_root = project_root
        self.ledger = ledger
        self.prices = prices

    @property
    def available(self) -> bool:
        return self.config.available

    async def ask(self, prompt: str, result_model: type[T], **options: Any) -> HelperResult[T] | HelperFailure:
        """``options``: any keyword of ``call`` (model, tools, budget_usd, session, system, timeout_s, …)."""
        return await call(
            prompt,
            result_model,
            project_root=self.project_root,
            config=self.config,
            ledger=self.ledger,
            prices=self.prices,
            **options,
        )

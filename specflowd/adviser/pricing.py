"""Money: per-model prices and the arithmetic of a response's ``usage``.

Prices are USD per million tokens. Cache writes cost 1.25x input, cache reads 0.1x input. A model the table
does not know is charged at the most expensive row, so an unknown model can never look cheaper than it is.
Later Opus 4.x ids without their own row (4-7, 4-8) match the ``claude-opus-4`` prefix and are charged the
old $15/$75: an over-estimate, never an under-estimate, until someone adds their row.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_PRICES", "ModelPrice", "PriceTable", "TokenUsage"]

_PER = 1_000_000


class ModelPrice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cache_write_multiplier: float = Field(1.25, ge=0)
    cache_read_multiplier: float = Field(0.1, ge=0)


class TokenUsage(BaseModel):
    """The four billed token counts of one response (the SDK's ``usage``; ``None`` counts as 0)."""

    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens


class PriceTable(BaseModel):
    """Rows keyed by model-name prefix; the longest matching prefix wins (dated ids match their family)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: dict[str, ModelPrice]

    def price_for(self, model: str) -> ModelPrice:
        matches = [prefix for prefix in self.rows if model.startswith(prefix)]
        if matches:
            return self.rows[max(matches, key=len)]
        return max(self.rows.values(), key=lambda p: (p.output_per_mtok, p.input_per_mtok))

    def cost(self, model: str, usage: TokenUsage) -> float:
        price = self.price_for(model)
        return (
            usage.input_tokens * price.input_per_mtok
            + usage.cache_creation_input_tokens * price.input_per_mtok * price.cache_write_multiplier
            + usage.cache_read_input_tokens * price.input_per_mtok * price.cache_read_multiplier
            + usage.output_tokens * price.output_per_mtok
        ) / _PER

    def worst_case_turn(self, model: str, *, input_tokens: int, max_tokens: int) -> float:
        """The most one turn can cost: every input token uncached-and-written (1.25x), all max_tokens output."""
        price = self.price_for(model)
        write = max(1.0, price.cache_write_multiplier)
        return (input_tokens * price.input_per_mtok * write + max_tokens * price.output_per_mtok) / _PER


DEFAULT_PRICES = PriceTable(
    rows={
        "claude-haiku-4-5": ModelPrice(input_per_mtok=1.0, output_per_mtok=5.0),
        "claude-sonnet-4-5": ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0),
        "claude-sonnet-4-6": ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0),
        "claude-sonnet-4": ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0),
        "claude-opus-4-5": ModelPrice(input_per_mtok=5.0, output_per_mtok=25.0),
        "claude-opus-4-6": ModelPrice(input_per_mtok=5.0, output_per_mtok=25.0),
        "claude-opus-4-1": ModelPrice(input_per_mtok=15.0, output_per_mtok=75.0),
        "claude-opus-4": ModelPrice(input_per_mtok=15.0, output_per_mtok=75.0),
    }
)

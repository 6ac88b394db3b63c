"""The one rule for showing an amount of money, shared by every rendering (stdlib only)."""

from __future__ import annotations

__all__ = ["money"]


def money(usd: float) -> str:
    """Every amount in one rule, by magnitude (the editors use it too): cents from a cent up (`$0.13`,
    `$5.00`), four decimals below a cent, where cents would round a run's cost away (`$0.0080`)."""
    return f"${usd:.2f}" if usd >= 0.01 or usd == 0 else f"${usd:.4f}"

from __future__ import annotations

import pytest

from specflowd.adviser.ledger import HelperLedger
from specflowd.adviser.pricing import DEFAULT_PRICES, TokenUsage
from specflowd.adviser.retry import ErrorAction, backoff_delay, classify_status, parse_retry_after


def test_cost_of_each_usage_field_per_model() -> None:
    usage = TokenUsage(
        input_tokens=1_000_000, output_tokens=1_000_000, cache_creation_input_tokens=1_000_000,
        cache_read_input_tokens=1_000_000,
    )
    # input + output + 1.25x input (cache write) + 0.1x input (cache read)
    assert DEFAULT_PRICES.cost("claude-haiku-4-5", usage) == pytest.approx(1 + 5 + 1.25 + 0.1)
    assert DEFAULT_PRICES.cost("claude-sonnet-4-5-20250929", usage) == pytest.approx(3 + 15 + 3.75 + 0.3)
    assert DEFAULT_PRICES.cost("claude-opus-4-5", usage) == pytest.approx(5 + 25 + 6.25 + 0.5)
    assert DEFAULT_PRICES.cost("claude-opus-4-1-20250805", usage) == pytest.approx(15 + 75 + 18.75 + 1.5)


def test_small_usage_and_unknown_model_priced_at_the_most_expensive_row() -> None:
    usage = TokenUsage(input_tokens=1200, output_tokens=300)
    assert DEFAULT_PRICES.cost("claude-haiku-4-5", usage) == pytest.approx(0.0012 + 0.0015)
    assert DEFAULT_PRICES.price_for("mystery-model") == DEFAULT_PRICES.price_for("claude-opus-4-1")
    assert DEFAULT_PRICES.cost("mystery-model", usage) == pytest.approx(0.018 + 0.0225)


def test_worst_case_turn_assumes_cache_write_and_full_output() -> None:
    worst = DEFAULT_PRICES.worst_case_turn("claude-haiku-4-5", input_tokens=10_000, max_tokens=4096)
    assert worst == pytest.approx(10_000 * 1.25 / 1e6 + 4096 * 5 / 1e6)


def test_ledger_tracks_and_reports_spend() -> None:
    seen: list[float] = []
    ledger = HelperLedger(1.0, spent_usd=0.25, on_spend=lambda lg, amount: seen.append(lg.spent_usd))
    ledger.record(0.5)
    assert ledger.remaining_usd == pytest.approx(0.25)
    ledger.record(0.5)
    assert ledger.remaining_usd == 0.0
    assert seen == [pytest.approx(0.75), pytest.approx(1.25)]
    assert ledger.to_dict() == {"cap_usd": 1.0, "spent_usd": pytest.approx(1.25)}
    with pytest.raises(ValueError):
        ledger.record(-1)


@pytest.mark.parametrize(
    ("status", "action"),
    [(None, ErrorAction.RETRY), (429, ErrorAction.RETRY), (503, ErrorAction.RETRY), (529, ErrorAction.FALLBACK),
     (404, ErrorAction.FALLBACK), (403, ErrorAction.FALLBACK), (400, ErrorAction.FAIL), (401, ErrorAction.FAIL)],
)
def test_error_classes(status: int | None, action: ErrorAction) -> None:
    assert classify_status(status) is action


def test_retry_after_and_backoff() -> None:
    assert parse_retry_after({"Retry-After": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "150", "retry-after": "9"}) == pytest.approx(0.15)
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert backoff_delay(0, retry_after=None, base_s=0.5, cap_s=8) == 0.5
    assert backoff_delay(3, retry_after=None, base_s=0.5, cap_s=8) == 4.0
    assert backoff_delay(10, retry_after=None, base_s=0.5, cap_s=8) == 8.0
    assert backoff_delay(0, retry_after=120, base_s=0.5, cap_s=8) == 8.0
    assert backoff_delay(2, retry_after=0.1, base_s=0.5, cap_s=8) == 0.1

"""The forecast block of a preview (stdlib only): expected cost and duration per unit and for the phase, the
chance of a budget stop, and what to do when p90 is over a cap."""

from __future__ import annotations

from typing import Any

from specflowctl.money import money as _money

__all__ = ["forecast_lines", "span"]

_SOURCES = {"project": "this project", "all projects": "all projects", "prior": "prior"}


def span(seconds: float) -> str:
    """A forecast's duration, rounded to what it can promise: seconds under a minute, minutes under an hour."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    minutes = round(s / 60)
    if minutes < 60:
        return f"{minutes}m"
    return f"{minutes // 60}h {minutes % 60:02d}m"


_LABEL = 38


def _label(name: str, suffix: str = "") -> str:
    room = _LABEL - len(suffix)
    return (name if len(name) <= room else name[: room - 1] + "…") + suffix


def _row(label: str, cost: dict[str, float], time: dict[str, float], tail: str = "") -> str:
    money = f"{_money(cost['median'])} · {_money(cost['p90'])}"
    times = f"{span(time['median'])} · {span(time['p90'])}"
    return f"  {label:<{_LABEL}} {money:<17} {times:<17}{tail}".rstrip()


def _percent(p: float) -> str:
    return "<1%" if 0 < p < 0.01 else f"{round(p * 100)}%"


def forecast_lines(f: dict[str, Any] | None, budget: dict[str, float]) -> list[str]:
    if not f or not f.get("units"):
        return []
    lines = [f"forecast (median · p90) from {f['basis']}:"]
    lines.append(f"  {'':<{_LABEL}} {'cost':<17} {'time':<17}based on")
    for u in f["units"]:
        label = _label(u["label"], f" ({u['tasks']} tasks)" if u["step"] == "implement" else "")
        source = _SOURCES.get(u["source"], u["source"])
        tail = f"{source}, {u['runs']} finished" if u["source"] != "prior" or u["runs"] else source
        lines.append(_row(label, u["cost_usd"], u["duration_s"], tail))
    lines.append(_row("phase", f["cost_usd"], f["duration_s"]))
    stop = f"  chance of a budget stop: {_percent(f['p_stop'])}"
    stop += f" (total cap {_percent(f['p_stop_total'])}, per-batch cap {_percent(f['p_stop_batch'])})"
    lines.append(stop)
    over = [(what, need) for what, need in (("total", f.get("total_needed")), ("batch", f.get("batch_needed")))]
    over = [(what, need) for what, need in over if need is not None]
    if not over:
        return lines
    where = f": the phase would likely stop at {f['likely_stop']}" if f.get("likely_stop") else ""
    lines.append(f"  ! p90 is over a cap{where}")
    for what, need in over:
        if what == "total":
            lines.append(
                f"    total: p90 {_money(f['cost_usd']['p90'])} over the {_money(budget['total'])} cap; "
                f"--budget-total {need:g} carries it through"
            )
        else:
            lines.append(
                f"    per batch: a unit's p90 over the {_money(budget['per_batch'])} cap; "
                f"--budget-batch {need:g} carries it through"
            )
    return lines

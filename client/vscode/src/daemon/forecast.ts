// The preview's forecast block (pure): expected cost and time per unit and for the phase as a median and a
// p90, the chance of a budget stop, and the cap that carries the phase when a p90 is over one.
import type { Forecast } from "./protocol";

const SOURCES: Record<string, string> = { project: "this project", "all projects": "all projects", prior: "prior" };
const WIDTH = 34;

// specflowctl's money rule: cents from a cent up, four decimals below one (`$0.0080`)
const money = (usd: number | undefined): string => {
  const value = usd ?? 0;
  return `$${value.toFixed(value >= 0.01 || value === 0 ? 2 : 4)}`;
};

export function span(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) {
    return `${s}s`;
  }
  const minutes = Math.round(s / 60);
  return minutes < 60 ? `${minutes}m` : `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

const percent = (p: number): string => (p > 0 && p < 0.01 ? "<1%" : `${Math.round(p * 100)}%`);

// `name` cut so that `suffix` always shows within WIDTH.
function fit(name: string, suffix: string): string {
  const room = WIDTH - [...suffix].length;
  const chars = [...name];
  return (chars.length > room ? `${chars.slice(0, room - 1).join("")}…` : name) + suffix;
}

type Quantiles = { median: number; p90: number };

function row(label: string, cost: Quantiles, time: Quantiles, tail?: string): string {
  const line = `  ${label.padEnd(WIDTH)} ${money(cost.median)} · ${money(cost.p90)}  ${span(time.median)} · ${span(time.p90)}`;
  return tail ? `${line}  ${tail}` : line;
}

export function forecastLines(forecast: Forecast | null | undefined, budget: Record<string, number>): string[] {
  if (!forecast || forecast.units.length === 0) {
    return [];
  }
  const lines = [`forecast (median · p90) from ${forecast.basis}:`];
  for (const unit of forecast.units) {
    const label = fit(unit.label, unit.step === "implement" ? ` (${unit.tasks} tasks)` : "");
    const source = SOURCES[unit.source] ?? unit.source;
    lines.push(row(label, unit.cost_usd, unit.duration_s, unit.source !== "prior" || unit.runs > 0 ? `${source}, ${unit.runs} finished` : source));
  }
  lines.push(row("phase", forecast.cost_usd, forecast.duration_s));
  lines.push(
    `  chance of a budget stop: ${percent(forecast.p_stop)} (total cap ${percent(forecast.p_stop_total)}, per-batch cap ${percent(forecast.p_stop_batch)})`,
  );
  const total = forecast.total_needed ?? undefined;
  const batch = forecast.batch_needed ?? undefined;
  if (total === undefined && batch === undefined) {
    return lines;
  }
  lines.push(`  ! p90 is over a cap${forecast.likely_stop ? `: the phase would likely stop at ${forecast.likely_stop}` : ""}`);
  if (total !== undefined) {
    lines.push(`    total: p90 ${money(forecast.cost_usd.p90)} over the ${money(budget.total)} cap; a total budget of ${money(total)} carries it through`);
  }
  if (batch !== undefined) {
    lines.push(`    per batch: a unit's p90 over the ${money(budget.per_batch)} cap; a per-batch budget of ${money(batch)} carries it through`);
  }
  return lines;
}

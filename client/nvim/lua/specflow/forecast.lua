-- The preview's forecast block (pure): expected cost and time per unit and for the phase as a median and a
-- p90, the chance of a budget stop, and the cap that carries the phase when a p90 is over one.
local M = {}

local SOURCES = { project = "this project", ["all projects"] = "all projects", prior = "prior" }

local function money(usd)
  usd = usd or 0
  -- specflowctl's money rule: cents from a cent up, four decimals below one ($0.0080)
  return string.format((usd >= 0.01 or usd == 0) and "$%.2f" or "$%.4f", usd)
end

function M.span(seconds)
  local s = math.floor((seconds or 0) + 0.5)
  if s < 60 then
    return s .. "s"
  end
  local minutes = math.floor(s / 60 + 0.5)
  if minutes < 60 then
    return minutes .. "m"
  end
  return string.format("%dh %02dm", math.floor(minutes / 60), minutes % 60)
end

local function percent(p)
  if p > 0 and p < 0.01 then
    return "<1%"
  end
  return math.floor(p * 100 + 0.5) .. "%"
end

local WIDTH = 34

-- ``name`` cut (by characters, not bytes) so that ``suffix`` always shows within WIDTH.
local function fit(name, suffix)
  local room = WIDTH - vim.fn.strchars(suffix)
  if vim.fn.strchars(name) > room then
    name = vim.fn.strcharpart(name, 0, room - 1) .. "…"
  end
  return name .. suffix
end

local function row(label, cost, time, tail)
  local pad = string.rep(" ", math.max(0, WIDTH - vim.fn.strchars(label)))
  local line = string.format(
    "  %s%s %s · %s  %s · %s",
    label,
    pad,
    money(cost.median),
    money(cost.p90),
    M.span(time.median),
    M.span(time.p90)
  )
  return tail and (line .. "  " .. tail) or line
end

function M.lines(forecast, budget)
  if type(forecast) ~= "table" or not forecast.units or #forecast.units == 0 then
    return {}
  end
  budget = budget or {}
  local lines = { "forecast (median · p90) from " .. forecast.basis .. ":" }
  for _, unit in ipairs(forecast.units) do
    local label = fit(unit.label, unit.step == "implement" and (" (" .. unit.tasks .. " tasks)") or "")
    local source = SOURCES[unit.source] or unit.source
    if unit.source ~= "prior" or unit.runs > 0 then
      source = source .. ", " .. unit.runs .. " finished"
    end
    lines[#lines + 1] = row(label, unit.cost_usd, unit.duration_s, source)
  end
  lines[#lines + 1] = row("phase", forecast.cost_usd, forecast.duration_s)
  lines[#lines + 1] = string.format(
    "  chance of a budget stop: %s (total cap %s, per-batch cap %s)",
    percent(forecast.p_stop),
    percent(forecast.p_stop_total),
    percent(forecast.p_stop_batch)
  )
  local total, batch = forecast.total_needed, forecast.batch_needed
  if type(total) ~= "number" and type(batch) ~= "number" then
    return lines
  end
  local where = ""
  if type(forecast.likely_stop) == "string" then
    where = ": the phase would likely stop at " .. forecast.likely_stop
  end
  lines[#lines + 1] = "  ! p90 is over a cap" .. where
  if type(total) == "number" then
    lines[#lines + 1] = string.format(
      "    total: p90 %s over the %s cap; budget.total=%g carries it through",
      money(forecast.cost_usd.p90),
      money(budget.total),
      total
    )
  end
  if type(batch) == "number" then
    lines[#lines + 1] = string.format(
      "    per batch: a unit's p90 over the %s cap; budget.per_batch=%g carries it through",
      money(budget.per_batch),
      batch
    )
  end
  return lines
end

return M

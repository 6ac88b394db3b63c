-- Pure renderings of the daemon's replies and events: statusline, status text, notices. No I/O.
local M = {}

M.STATE_WORDS = {
  running = "running",
  paused = "paused",
  healing = "healing",
  waiting_input = "answer needed",
  waiting_merge = "merge ready",
  waiting_user_gate = "USER GATE",
  waiting_rate_limit = "rate limited",
  needs_attention = "needs attention",
  completed = "completed",
  failed = "failed",
  cancelled = "cancelled",
}

-- the daemon's words, generated from rpc.discover (shared_facts.lua)
local STEPS = require("specflow.shared_facts").steps

-- One short id length for orchestrations and runs, in every client (specflowctl's SHORT_ID_LEN).
M.SHORT_ID_LEN = 8
function M.short_id(id)
  return tostring(id or ""):sub(1, M.SHORT_ID_LEN)
end

-- The state word, "pausing" while a pause waits for the running run to end (pause_requested).
function M.state_word(record)
  if record.pause_requested and (record.status == "running" or record.status == "healing") then
    return "pausing"
  end
  return M.STATE_WORDS[record.status] or record.status
end

local function basename(path)
  return (path or ""):match("([^/]+)/*$") or path or "?"
end
M.basename = basename

local function money(usd)
  usd = usd or 0
  -- specflowctl's money rule: cents from a cent up, four decimals below one ($0.0080)
  return string.format((usd >= 0.01 or usd == 0) and "$%.2f" or "$%.4f", usd)
end

-- "batch N/M": the batch being worked on while implementing, else how many are done.
local function batch_position(view)
  local progress = view.progress or {}
  local total = progress.batches_total or #(view.record.batches or {})
  if total == 0 then
    return nil
  end
  local done = progress.batches_done or 0
  local current = view.record.step == "implement" and math.min(done + 1, total) or done
  return string.format("batch %d/%d", current, total)
end

-- The statusline component: "specflow implement · batch 2/4 · tasks 9/20 · $0.05", with the state in
-- parentheses when it is not plain running: "specflow merge (merge ready) · batch 4/4 · tasks 20/20 · $0.10".
-- `connection` is the client's state; `ever_connected` tells a lost daemon from one never seen.
function M.statusline(view, connection, ever_connected, prefix)
  prefix = prefix or "specflow"
  if connection ~= "connected" then
    return ever_connected and (prefix .. " offline") or ""
  end
  if not view then
    return ""
  end
  local record = view.record
  local head = prefix .. " " .. record.step
  local word = M.state_word(record)
  if word ~= "running" then
    head = head .. " (" .. word .. ")"
  end
  local items = { head }
  items[#items + 1] = batch_position(view)
  local progress = view.progress
  if progress and (progress.tasks_total or 0) > 0 then
    items[#items + 1] = string.format("tasks %d/%d", progress.tasks_done, progress.tasks_total)
  end
  items[#items + 1] = money((record.totals or {}).spent_usd)
  return table.concat(items, " · ")
end

local function duration(seconds)
  local s = math.floor((seconds or 0) + 0.5)
  if s < 60 then
    return s .. "s"
  elseif s < 3600 then
    return string.format("%dm %02ds", math.floor(s / 60), s % 60)
  end
  return string.format("%dh %02dm", math.floor(s / 3600), math.floor(s % 3600 / 60))
end

function M.step_bar(record)
  local current = 1
  for index, step in ipairs(STEPS) do
    if step == record.step then
      current = index
    end
  end
  local parts = {}
  for index, step in ipairs(STEPS) do
    local mark = "○"
    if record.status == "completed" or index < current then
      mark = "●"
    elseif index == current then
      mark = "◐"
    end
    parts[#parts + 1] = step .. " " .. mark
  end
  return table.concat(parts, "  ")
end

function M.decision_line(entry)
  local time = tostring(entry.time or ""):sub(12, 19)
  return string.format("%s %-16s %s", time, entry.action or "", entry.reason or "")
end

function M.orchestration_line(record)
  return string.format("orchestration %s: %s, step %s", M.short_id(record.id), M.state_word(record), record.step)
end

-- Lines for `:Specflow status`: the project (projects.status) and its orchestration (orchestrate.status).
-- How the runs are confined (docs/sandbox.md), as specflowctl says it.
function M.sandbox_line(sandbox)
  if not sandbox.enabled then
    return "sandbox: OFF (sandbox = false): shell commands can write anywhere you can"
  end
  local domains = table.concat(sandbox.allowed_domains or {}, ", ")
  local line = "sandbox: writes " .. table.concat(sandbox.write_paths or {}, ", ") .. " · network: "
    .. (domains ~= "" and domains or "none")
  if sandbox.edit_tools_confined == false then
    line = line .. " · Write/Edit NOT confined (bypassPermissions)"
  end
  return line
end

function M.status_lines(project, view)
  local lines = {}
  if project then
    local tasks = project.tasks or {}
    local phase = ((project.phase_number or "") .. " " .. (project.phase_name or "")):gsub("^%s+", ""):gsub("%s+$", "")
    lines[#lines + 1] = string.format("%s  phase %s (%s)", project.project, phase ~= "" and phase or "?", project.phase_status or "unknown")
    lines[#lines + 1] = string.format(
      "tasks %d/%d done, %d open · next: %s",
      tasks.done or 0,
      tasks.total or 0,
      tasks.open or 0,
      project.next_action or "-"
    )
  end
  if not view then
    lines[#lines + 1] = "no orchestration yet (start one with :Specflow orchestrate)"
    return lines
  end
  local record = view.record
  lines[#lines + 1] = M.orchestration_line(record)
  lines[#lines + 1] = M.step_bar(record)
  local position = batch_position(view)
  local progress = view.progress
  if position and progress then
    local current = (record.batches or {})[math.min((progress.batches_done or 0) + 1, #record.batches)]
    lines[#lines + 1] = position .. (current and record.step == "implement" and (": " .. current.name) or "")
  end
  if progress then
    local left = (progress.remaining_s or 0) > 0 and (" · about " .. duration(progress.remaining_s) .. " left") or ""
    lines[#lines + 1] = string.format(
      "tasks %d/%d · elapsed %s%s",
      progress.tasks_done,
      progress.tasks_total,
      duration(progress.elapsed_s),
      left
    )
  end
  local budget = ((record.config or {}).budget or {}).total
  lines[#lines + 1] = "spent " .. money((record.totals or {}).spent_usd) .. (budget and (" of " .. money(budget)) or "")
  if type(view.sandbox) == "table" then
    lines[#lines + 1] = M.sandbox_line(view.sandbox)
  end
  if record.attention then
    lines[#lines + 1] = string.format(
      "needs attention (%s): %s · options: %s",
      record.attention.kind,
      record.attention.reason,
      table.concat(record.attention.options or {}, ", ")
    )
  end
  for _, entry in ipairs(view.decisions or {}) do
    lines[#lines + 1] = "  " .. M.decision_line(entry)
  end
  return lines
end

-- What an event asks of the user: "answer", "merge", "attention", "finished" or nil.
function M.notice_kind(event)
  if event.type == "question.asked" then
    return "answer"
  end
  if event.type ~= "orchestration.status" then
    return nil
  end
  local status = (event.data or {}).status
  if status == "waiting_merge" or status == "waiting_user_gate" then
    return "merge"
  elseif status == "needs_attention" then
    return "attention"
  elseif status == "completed" or status == "failed" then
    return "finished"
  end
  return nil
end

-- The notification for an event of that kind; `record` is the orchestration's record (nil for a
-- standalone run's questions). Returns message, level ("info" | "warn" | "error").
function M.notice(kind, event, record)
  local where = basename(event.project)
  if kind == "answer" then
    local questions = (event.data or {}).questions or {}
    local first = questions[1] and questions[1].question or "a question"
    local more = #questions > 1 and string.format(" (+%d more)", #questions - 1) or ""
    return string.format("specflow %s: the %s run asks: %s%s  →  :Specflow answer", where, (event.data or {}).step or "agent", first, more),
      "warn"
  end
  if kind == "merge" then
    if record and record.status == "waiting_user_gate" then
      return string.format("specflow %s: waiting at the USER GATE; check it, then  :Specflow merge", where), "warn"
    end
    return string.format("specflow %s: phase verified, ready to merge  →  :Specflow merge", where), "warn"
  end
  if kind == "attention" then
    local attention = record and record.attention or {}
    return string.format(
      "specflow %s: needs attention (%s): %s  →  :Specflow recover %s",
      where,
      attention.kind or "?",
      attention.reason or "see :Specflow status",
      table.concat(attention.options or { "retry", "abort" }, "|")
    ),
      "error"
  end
  if record and record.status == "failed" then
    return string.format("specflow %s: orchestration failed  →  :Specflow logs", where), "error"
  end
  return string.format("specflow %s: phase complete, %s spent", where, money(record and (record.totals or {}).spent_usd)),
    "info"
end

-- The answers key of a question, as specflowctl sends it: its header, else its text.
function M.answer_key(question)
  return (question.header and question.header ~= "") and question.header or question.question
end

-- Whether a question takes the user's own words: no options, or the "Other" choice (allowOther).
function M.accepts_free_text(question)
  return #(question.options or {}) == 0 or question.allowOther == true
end

-- Why the daemon would refuse `value` for `question` (its rule, domain/answers.py), or nil.
function M.answer_problem(question, value)
  if vim.trim(value or "") == "" then
    return "the answer is empty"
  end
  if M.accepts_free_text(question) then
    return nil
  end
  local labels, quoted = {}, {}
  for _, option in ipairs(question.options) do
    labels[option.label:lower()] = true
    table.insert(quoted, "'" .. option.label .. "'")
  end
  local picked = question.multiSelect and vim.split(value, ",", { plain = true }) or { value }
  local unknown = {}
  for _, part in ipairs(picked) do
    part = vim.trim(part)
    if not labels[part:lower()] then
      table.insert(unknown, "'" .. part .. "'")
    end
  end
  if #unknown == 0 then
    return nil
  end
  local several = question.multiSelect and "one or more of" or "one of"
  return table.concat(unknown, ", ") .. " is not an option: answer " .. several .. " " .. table.concat(quoted, ", ")
end

-- `:Specflow orchestrate` arguments: `auto_merge`, `no_auto_heal`, `budget.total=5`, `context=some text`.
-- Returns the config table or nil and an error.
local ALIASES = { context = "additional_context", batch_size = "batch_size_fallback" }
function M.parse_config(args)
  local config = {}
  for _, arg in ipairs(args) do
    local key, value = arg:match("^([%w_.]+)=(.*)$")
    if not key then
      if not arg:match("^[%w_]+$") then
        return nil, "expected KEY or KEY=VALUE, got " .. arg
      end
      key, value = arg, true
      local negated = arg:match("^no_(.+)$")
      if negated then
        key, value = negated, false
      end
    elseif value == "true" or value == "false" then
      value = value == "true"
    elseif tonumber(value) then
      value = tonumber(value)
    end
    key = ALIASES[key] or key
    local target, path = config, vim.split(key, ".", { plain = true })
    for index = 1, #path - 1 do
      target[path[index]] = target[path[index]] or {}
      target = target[path[index]]
    end
    target[path[#path]] = value
  end
  return config
end

-- The preview as a confirmation prompt.
function M.preview_lines(preview)
  local lines = { string.format("%s (%s)", preview.project, preview.feature or "no feature directory") }
  for _, step in ipairs(preview.steps or {}) do
    lines[#lines + 1] = string.format("  %s %-10s %s", step.runs and "●" or "○", step.step, step.reason)
  end
  lines[#lines + 1] = preview.summary
  for _, warning in ipairs(preview.warnings or {}) do
    lines[#lines + 1] = "warning: " .. warning
  end
  local budget = preview.budget or {}
  lines[#lines + 1] = string.format(
    "budget: %s/batch, %s/heal, %s total",
    money(budget.per_batch),
    money(budget.heal),
    money(budget.total)
  )
  vim.list_extend(lines, require("specflow.forecast").lines(preview.forecast, budget))
  return lines
end

function M.log_item(item)
  if item.kind == "tool" then
    return "  → " .. item.text
  elseif item.kind == "text" then
    return item.text
  end
  return "[" .. item.kind .. "] " .. item.text
end

return M

-- Scratch buffers that follow the decision log (`specflow://decisions`) or a run's transcript
-- (`specflow://run/<id>`), appended to as events arrive.
local view = require("specflow.view")

local M = {}

local followed = {} -- buffer name -> { buf, run_id?, orchestration?, next_offset? }

local function scratch(name)
  local buf = vim.fn.bufnr(name)
  if buf == -1 or not vim.api.nvim_buf_is_valid(buf) then
    buf = vim.api.nvim_create_buf(true, true)
    vim.api.nvim_buf_set_name(buf, name)
    vim.bo[buf].filetype = "specflowlog"
    vim.bo[buf].bufhidden = "hide"
  end
  return buf
end

local function show(buf)
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_buf(win) == buf then
      vim.api.nvim_set_current_win(win)
      return
    end
  end
  vim.cmd("botright split")
  vim.api.nvim_win_set_buf(0, buf)
end

local function set_lines(buf, lines)
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
end

local function append(buf, lines)
  if #lines == 0 or not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  vim.bo[buf].modifiable = true
  local empty = vim.api.nvim_buf_line_count(buf) == 1 and vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == ""
  vim.api.nvim_buf_set_lines(buf, empty and 0 or -1, -1, false, lines)
  vim.bo[buf].modifiable = false
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_buf(win) == buf then
      vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(buf), 0 })
    end
  end
end

-- The decision log of `orchestration_view` (its last decisions), then every decision as it is made.
function M.open_decisions(orchestration_view)
  local name = "specflow://decisions"
  local buf = scratch(name)
  local record = orchestration_view.record
  local lines = { string.format("orchestration %s · %s", view.short_id(record.id), record.project_path) }
  for _, entry in ipairs(orchestration_view.decisions or {}) do
    lines[#lines + 1] = view.decision_line(entry)
  end
  set_lines(buf, lines)
  followed[name] = { buf = buf, orchestration = record.id }
  show(buf)
  return buf
end

-- A run's readable transcript; `fetch(since, callback(err, chunk))` calls runs.log.
function M.open_run(run_id, fetch)
  local name = "specflow://run/" .. run_id
  local buf = scratch(name)
  set_lines(buf, {})
  followed[name] = { buf = buf, run_id = run_id, next_offset = 0, fetch = fetch }
  show(buf)
  M.more(followed[name])
  return buf
end

function M.more(entry)
  if entry.busy then
    entry.again = true
    return
  end
  entry.busy = true
  entry.fetch(entry.next_offset, function(err, chunk)
    entry.busy = false
    if err then
      append(entry.buf, { "[error] " .. require("specflow.client").describe(err) })
      return
    end
    entry.next_offset = chunk.next_offset
    append(entry.buf, vim.tbl_map(view.log_item, chunk.items or {}))
    if chunk.more or entry.again then -- `more`: the reply was one page of a longer output
      entry.again = false
      M.more(entry)
    end
  end)
end

-- Every event passes here: decisions of a followed orchestration, output of a followed run.
function M.on_event(event)
  local data = event.data or {}
  for name, entry in pairs(followed) do
    if not vim.api.nvim_buf_is_valid(entry.buf) then
      followed[name] = nil
    elseif entry.orchestration and data.orchestration == entry.orchestration then
      local label = event.type:match("^orchestration%.(.+)$")
      if label and label ~= "status" then
        append(entry.buf, {
          view.decision_line({ time = event.time, action = data.action or label, reason = data.reason or "" }),
        })
      end
    elseif entry.run_id and data.run_id == entry.run_id and event.type:match("^run%.") then
      M.more(entry)
    end
  end
end

return M

-- A batch run asks two questions: a notification says so; :Specflow answer asks them through vim.ui.select
-- (an option) and vim.ui.input (free text), sends the answers, and the same session resumes.
local H = dofile(os.getenv("SPECFLOW_REPO") .. "/tests/editors/nvim/harness.lua")

H.run(function()
  local specflow = H.connected()
  vim.cmd("Specflow orchestrate yes skip_analyze")
  H.wait("question notification", 60000, function()
    return H.notified("asks") ~= nil
  end)
  H.wait("statusline shows the question", 10000, function()
    return specflow.statusline():find("answer needed", 1, true) ~= nil
  end)
  H.result.waiting_statusline = specflow.statusline()
  -- the daemon's answer rule, as the plugin applies it to typed text before sending
  local view = require("specflow.view")
  local storage = { question = "Which storage?", options = { { label = "json" }, { label = "sqlite" } } }
  local pausing = { record = { id = "0123456789ab", status = "running", step = "implement", pause_requested = true,
    totals = { spent_usd = 0.0042 } } }
  H.result.pausing = { view.statusline(pausing, "connected", true), view.orchestration_line(pausing.record) }
  H.result.problems = {
    postgres = view.answer_problem(storage, "postgres") or vim.NIL,
    SQLite = view.answer_problem(storage, "SQLite") or vim.NIL,
    other = view.answer_problem(vim.tbl_extend("force", storage, { allowOther = true }), "postgres") or vim.NIL,
    multi = view.answer_problem(vim.tbl_extend("force", storage, { multiSelect = true }), "json, redis") or vim.NIL,
  }
  H.ui_replies = {
    function(items)
      H.result.choices = vim.tbl_map(function(item)
        return item.label
      end, items)
      return items[2] -- sqlite
    end,
    function()
      return "todos"
    end,
  }
  vim.cmd("Specflow answer")
  H.wait("answered", 20000, function()
    return H.notified("resumes") ~= nil
  end)
  H.wait("batch 1 done", 60000, function()
    local view = specflow.state().view
    return view and view.progress.batches_done >= 1
  end)
end)

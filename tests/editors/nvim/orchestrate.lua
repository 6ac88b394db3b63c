-- A whole phase from Neovim: :Specflow orchestrate (confirmed in the preview), the statusline follows the
-- batches, a notification asks for the merge, :Specflow merge completes it.
local H = dofile(os.getenv("SPECFLOW_REPO") .. "/tests/editors/nvim/harness.lua")

H.run(function()
  local specflow = H.connected()
  H.result.initial_statusline = specflow.statusline()
  H.ui_replies = {
    function(items)
      return items[1] -- "Start"
    end,
  }
  vim.cmd("Specflow orchestrate skip_analyze budget.total=5")
  H.wait("merge notification", 60000, function()
    return H.notified("ready to merge") ~= nil
  end)
  H.wait("the statusline shows it", 10000, function()
    return specflow.statusline():find("merge ready", 1, true) ~= nil
  end)
  H.result.waiting_statusline = specflow.statusline()
  vim.cmd("Specflow logs") -- opened now, it must then follow the merge live
  H.wait("the decision log", 10000, function()
    return vim.api.nvim_buf_get_name(0) == "specflow://decisions"
  end)
  H.result.log_buffer = vim.api.nvim_buf_get_name(0)
  H.result.log_lines_before = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  vim.cmd("Specflow merge")
  H.wait("completed", 60000, function()
    local view = specflow.state().view
    return view and view.record.status == "completed"
  end)
  H.wait("completion notification", 10000, function()
    return H.notified("phase complete") ~= nil
  end)
  H.result.final_statusline = specflow.statusline()
  local log = vim.fn.bufnr("specflow://decisions")
  H.wait("the completion in the decision log", 10000, function()
    return table.concat(vim.api.nvim_buf_get_lines(log, 0, -1, false), "\n"):find(" complete ") ~= nil
  end)
  H.result.log_lines = vim.api.nvim_buf_get_lines(log, 0, -1, false)

  local merge_run = specflow.state().view.record.steps.merge.run_ids
  H.result.merge_run = merge_run and merge_run[#merge_run]
  vim.cmd("Specflow logs " .. H.result.merge_run)
  H.wait("the run transcript", 10000, function()
    return vim.api.nvim_buf_line_count(0) > 1
  end)
  H.result.run_buffer = vim.api.nvim_buf_get_name(0)
  H.result.run_lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
end)

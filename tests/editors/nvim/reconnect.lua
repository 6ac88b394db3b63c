-- The daemon goes away and comes back: the plugin notices, shows it, reconnects by itself, subscribes
-- again and follows an orchestration started after the restart.
local H = dofile(os.getenv("SPECFLOW_REPO") .. "/tests/editors/nvim/harness.lua")

H.run(function()
  local specflow = require("specflow")
  specflow.setup({ retry_max_ms = 500 })
  H.wait("subscribed", 20000, function()
    return specflow.state().subscribed_generation == 1
  end)
  specflow.client():request("daemon.shutdown", nil, function() end)
  H.wait("the loss noticed", 20000, function()
    return specflow.state().connection ~= "connected"
  end)
  H.result.offline_statusline = specflow.statusline()
  local job = vim.fn.jobstart({ os.getenv("SPECFLOWD_BIN") })
  H.result.job_started = job > 0
  H.wait("reconnected and subscribed again", 30000, function()
    return specflow.state().subscribed_generation == 2
  end)
  vim.cmd("Specflow orchestrate yes skip_analyze auto_merge")
  H.wait("completed after the restart", 60000, function()
    local view = specflow.state().view
    return view and view.record.status == "completed"
  end)
  H.result.final_statusline = specflow.statusline()
  H.result.generation = specflow.state().generation
  local stopped = false
  specflow.client():request("daemon.shutdown", nil, function()
    stopped = true
  end)
  H.wait("second daemon stopped", 20000, function()
    return stopped
  end)
  H.result.job_exit = vim.fn.jobwait({ job }, 20000)[1]
end)

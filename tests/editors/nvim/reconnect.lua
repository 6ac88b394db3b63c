-- The daemon goes away and comes back: the plugin notices, shows it, reconnects by itself, subscribes
-- again and follows an orchestration started after the restart through a budget stop to its end.
local H = dofile(os.getenv("SPECFLOW_REPO") .. "/tests/editors/nvim/harness.lua")

H.run(function()
  local specflow = H.connected({ retry_max_ms = 500 })
  specflow.client():request("daemon.shutdown", nil, function() end)
  H.wait("the loss noticed", 20000, function()
    return specflow.state().connection ~= "connected"
  end)
  H.result.offline_statusline = specflow.statusline()
  -- its exit code from on_exit: jobwait() answers -3 (not a job) once Neovim has already reaped it, which a
  -- loaded machine makes likely while H.wait below runs the event loop
  local exit_code = nil
  local job = vim.fn.jobstart({ os.getenv("SPECFLOWD_BIN") }, {
    on_exit = function(_, code)
      exit_code = code
    end,
  })
  H.result.job_started = job > 0
  H.wait("reconnected and subscribed again", 30000, function()
    return specflow.state().subscribed_generation == 2
  end)
  -- followed after the restart: a budget stop is notified, resuming with more budget completes the phase
  vim.cmd("Specflow orchestrate yes skip_analyze auto_merge budget.total=0.01")
  H.wait("the attention notification", 60000, function()
    return H.notified("needs attention") ~= nil
  end)
  -- the notification comes from the event itself; the statusline from the refresh the event starts
  H.wait("the statusline shows it", 10000, function()
    return specflow.statusline():find("needs attention", 1, true) ~= nil
  end)
  H.result.attention_statusline = specflow.statusline()
  vim.cmd("Specflow resume 20")
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
  H.wait("second daemon exited", 20000, function()
    return exit_code ~= nil
  end)
  H.result.job_exit = exit_code
end)

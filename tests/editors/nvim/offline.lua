-- No daemon, and the pure parts: socket discovery for the cases in $SPECFLOW_CASES, framing, config words.
local H = dofile(os.getenv("SPECFLOW_REPO") .. "/tests/editors/nvim/harness.lua")

H.run(function()
  local socket = require("specflow.socket")
  local framing = require("specflow.framing")
  local view = require("specflow.view")

  local file = assert(io.open(os.getenv("SPECFLOW_CASES")))
  local cases = vim.json.decode(file:read("*a"))
  file:close()
  H.result.paths = vim.tbl_map(function(case)
    return socket.path(function(name)
      return case.env[name]
    end)
  end, cases)

  local payload = '{"jsonrpc":"2.0","id":1,"result":{"ok":"é"}}'
  local frame = framing.encode(payload) .. framing.encode("{}")
  local decoder, got = framing.decoder(), {}
  for index = 1, #frame do -- one byte at a time: a split anywhere must not matter
    vim.list_extend(got, assert(decoder:feed(frame:sub(index, index))))
  end
  H.result.frames = got
  local _, oversized = framing.decoder():feed("Content-Length: 99999999\r\n\r\n")
  local _, headerless = framing.decoder():feed("Content-Type: x\r\n\r\n")
  H.result.framing_errors = { oversized, headerless }
  H.result.config = view.parse_config({ "auto_merge", "no_auto_heal", "budget.total=2.5", "context=be brief", "batch_size=3" })
  H.result.bad_config = select(2, view.parse_config({ "--auto-merge" }))
  H.result.sandbox_lines = {
    view.sandbox_line({ enabled = true, write_paths = { "/p/demo", "/t/claude-0" }, allowed_domains = { "pypi.org" } }),
    view.sandbox_line({ enabled = true, write_paths = { "/p/demo" }, allowed_domains = {}, edit_tools_confined = false }),
    view.sandbox_line({ enabled = false }),
  }

  local specflow = require("specflow")
  H.result.completions = {
    subcommands = specflow.complete("or", "Specflow or"),
    recover = specflow.complete("", "Specflow recover "),
    budget = specflow.complete("budget.", "Specflow orchestrate auto_merge budget."),
  }

  vim.cmd("Specflow status")
  H.wait("the no-daemon message", 10000, function()
    return #H.result.notifications > 0
  end)
  H.result.statusline = require("specflow").statusline()
end)

-- The Neovim plugin given a host that cannot be reached: a call fails with specflowctl's one line naming the
-- host; and the pure parts of specflow.bridge (the ssh command line, bad hosts).
local H = dofile(os.getenv("SPECFLOW_REPO") .. "/tests/editors/nvim/harness.lua")

H.run(function()
  local specflow = require("specflow")
  specflow.setup({ host = "down", ssh = os.getenv("TEST_SSH"), retry_ms = 60000 })
  local failure
  specflow.client():request("daemon.status", nil, function(err)
    failure = err
  end)
  H.wait("the call to fail", 20000, function()
    return failure ~= nil
  end)
  H.result.message = failure.message
  H.result.connection = specflow.state().connection
  H.result.host = specflow.state().host
  local bridge = require("specflow.bridge")
  H.result.argv = bridge.argv("me@box:2222", "ssh -F cfg", "/opt/my env/specflowctl")
  H.result.ipv6 = { bridge.parse("[::1]:22") }
  H.result.bad = {}
  for _, host in ipairs({ "box:0", "box:http", "-oProxyCommand=x", "a b" }) do
    local ok, why = bridge.parse(host)
    table.insert(H.result.bad, ok == nil and why or "accepted")
  end
end)
